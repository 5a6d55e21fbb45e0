package netpunkt

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
)

// Status mapping (docs/connectors/netpunkt.md, "Statuses"). Netpunkt keeps two states per
// order, the requester's and the provider's, plus the provider's answer. From the
// requester's side the requester's own state decides once it has moved past "requested";
// before that the provider's progress does.
var requesterStates = map[string]struct{ loan, copy requestsv1.Status }{
	// A patron's order (bibliotek.dk) not yet forwarded, or one whose patron the library
	// has not identified: it exists but nothing has been sent.
	"user_request": {requestsv1.Status_STATUS_CREATED, requestsv1.Status_STATUS_CREATED},
	"unknown_user": {requestsv1.Status_STATUS_CREATED, requestsv1.Status_STATUS_CREATED},
	// Sent (a reminder does not change that); the provider's state may say more.
	"requested": {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"reminded":  {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	// Our staff cancelled it.
	"cancelled": {requestsv1.Status_STATUS_CANCELLED_BY_STAFF, requestsv1.Status_STATUS_CANCELLED_BY_STAFF},
	// We received it: a loan by post, a copy electronically.
	"received": {requestsv1.Status_STATUS_RECEIVED_PHYSICALLY, requestsv1.Status_STATUS_RECEIVED_DIGITALLY},
	// We sent the loan back.
	"returned": {requestsv1.Status_STATUS_RETURNED_TO_PARTNER, requestsv1.Status_STATUS_RETURNED_TO_PARTNER},
	// Closed on our side.
	"finished": {requestsv1.Status_STATUS_COMPLETED, requestsv1.Status_STATUS_COMPLETED},
}

// providerStates apply while the requester's state is requested or reminded.
var providerStates = map[string]struct{ loan, copy requestsv1.Status }{
	"requested":  {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"search":     {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"serial":     {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"on_hold":    {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"in_process": {requestsv1.Status_STATUS_WILL_SUPPLY, requestsv1.Status_STATUS_WILL_SUPPLY},
	"shipped":    {requestsv1.Status_STATUS_SHIPPED_PHYSICALLY, requestsv1.Status_STATUS_SHIPPED_DIGITALLY},
	// The provider got it back or closed it while we still show it as requested: from our
	// side the loan is over.
	"returned": {requestsv1.Status_STATUS_RETURNED_TO_PARTNER, requestsv1.Status_STATUS_RETURNED_TO_PARTNER},
	"finished": {requestsv1.Status_STATUS_COMPLETED, requestsv1.Status_STATUS_COMPLETED},
}

// providerAnswers refine a provider state that has not shipped yet.
var providerAnswers = map[string]requestsv1.Status{
	"will_supply": requestsv1.Status_STATUS_WILL_SUPPLY,
	"hold_placed": requestsv1.Status_STATUS_WILL_SUPPLY,
	"unfilled":    requestsv1.Status_STATUS_REJECTED_BY_PARTNER,
	// A conditional answer waits for our decision: still just sent.
	"conditional": requestsv1.Status_STATUS_REQUEST_SENT,
}

// MapStatus maps Netpunkt's requester state, provider state and provider answer to our
// status. known is false when a non-empty value is not in the tables; the result is then
// the best reading of the values that are known (at least REQUEST_SENT, since the order
// exists), and the caller should warn.
func MapStatus(requester, provider, answer string, media requestsv1.Media) (requestsv1.Status, bool) {
	pick := func(e struct{ loan, copy requestsv1.Status }) requestsv1.Status {
		if media == requestsv1.Media_MEDIA_COPY {
			return e.copy
		}
		return e.loan
	}
	known := true
	r, ok := requesterStates[requester]
	if !ok && requester != "" {
		known = false
	}
	if ok && requester != "requested" && requester != "reminded" {
		return pick(r), known
	}
	status := requestsv1.Status_STATUS_REQUEST_SENT
	p, pok := providerStates[provider]
	if !pok && provider != "" {
		known = false
	}
	if pok {
		status = pick(p)
	}
	a, aok := providerAnswers[answer]
	if !aok && answer != "" {
		known = false
	}
	// An answer speaks for a provider that has not shipped or closed the order.
	if aok && status == requestsv1.Status_STATUS_REQUEST_SENT || aok && a == requestsv1.Status_STATUS_REJECTED_BY_PARTNER && status == requestsv1.Status_STATUS_WILL_SUPPLY {
		status = a
	}
	return status, known
}

// rawStatus is the external status kept beside ours: all three values, so a later
// correction of the table can be applied to stored requests.
func rawStatus(o *order) string {
	return fmt.Sprintf("requester=%s;provider=%s;answer=%s", strings.TrimSpace(o.RequesterOrderState), strings.TrimSpace(o.ProviderOrderState), strings.TrimSpace(o.ProviderAnswer))
}

// copenhagen is the zone DBC writes its timestamps in (docs/connectors/netpunkt.md,
// "Time"); UTC when the system has no zone database.
var copenhagen = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Copenhagen"); err == nil {
		return l
	}
	return time.UTC
}()

// parseTime reads an xs:dateTime or xs:date as DBC writes it: Copenhagen local time,
// with or without a trailing Z (DBC appends a literal Z to local time, so it does not
// mean UTC). An explicit numeric offset is taken as given.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02Z07:00", "2006-01-02"} {
		var t time.Time
		var err error
		if strings.Contains(layout, "Z07") {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, copenhagen)
		}
		if err == nil && t.Year() >= 1 && t.Year() <= 9999 {
			return t, true
		}
	}
	return time.Time{}, false
}

// patronInitiated reports whether a patron placed the order (an end-user order, e.g.
// from bibliotek.dk, or one still in a patron's states) rather than the library's staff
// as an inter-library request (assumption P6).
func patronInitiated(o *order) bool {
	switch strings.TrimSpace(o.RequesterOrderState) {
	case "user_request", "unknown_user":
		return true
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(o.OrderType)), "enduser")
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "ja":
		return true
	}
	return false
}

// mapOrder turns one decoded order into a connector.Request of agency: its requesterId
// must be agency itself. It never fails: an order that cannot be used carries a Problem,
// oddities become Warnings.
func mapOrder(o *order, agency string) *connector.Request { return mapOrderOf(o, agency, false) }

// mapPulledOrder is mapOrder for an order OpenFindOrder returned for our agency. DBC
// expands requesterAgencyId to the library's branches and answers only orders of the
// agency asked for, so a requesterId that is a branch's library number is ours too; it
// is kept as the requesting library (docs/connectors/netpunkt.md, "Branches").
func mapPulledOrder(o *order, agency string) *connector.Request {
	return mapOrderOf(o, agency, true)
}

func mapOrderOf(o *order, agency string, branches bool) *connector.Request {
	r := &connector.Request{Bibliographic: &requestsv1.Bibliographic{}}
	var problems []string
	trim := strings.TrimSpace

	r.ExternalID = trim(o.OrderID)
	r.ExternalRequestID = r.ExternalID // Netpunkt has one id per order
	if r.ExternalID == "" {
		problems = append(problems, "orderId is missing")
	}
	switch lm := trim(o.LastModification); {
	case lm == "":
		problems = append(problems, "lastModification is missing")
	default:
		if t, ok := parseTime(lm); ok {
			r.LastModified = t.UTC()
		} else {
			problems = append(problems, fmt.Sprintf("lastModification %q is not a date and time", lm))
		}
	}
	if cd := trim(o.CreationDate); cd != "" {
		if t, ok := parseTime(cd); ok {
			r.OrderDay = connector.DayOf(t.In(copenhagen))
		} else {
			r.Warn("creationDate", connector.WarnUnparsableDate, "creationDate %q is not a date", cd)
		}
	}

	// requesterId must be ours: another library's order must not enter this ledger.
	switch req := trim(o.RequesterID); {
	case req == "":
		problems = append(problems, "requesterId is missing")
	default:
		r.RequestingLibrary = normalizeCode(req)
		_, danish := agencyDigits(req)
		switch {
		case r.RequestingLibrary == agency:
		case branches && danish:
			// A branch of our library: DBC answered it for our agency.
		default:
			problems = append(problems, fmt.Sprintf("requesterId %q is not this profile's agency %s", req, agency))
		}
	}
	r.PickupLibrary = normalizeCode(o.PickUpAgencyID)
	r.Lender = normalizeCode(o.ResponderID)
	if r.Lender != "" {
		r.Rota = []connector.RotaEntry{{Code: r.Lender, Active: true, Response: trim(o.ProviderAnswer)}}
	}

	// copy is what was requested; once something is sent, shippedServiceType says
	// whether it was a loan or a copy, and that decides the format and the status's
	// physical or digital reading.
	r.Media, r.Format = requestsv1.Media_MEDIA_LOAN, requestsv1.Format_FORMAT_PHYSICAL
	if truthy(o.Copy) {
		r.Media, r.Format = requestsv1.Media_MEDIA_COPY, requestsv1.Format_FORMAT_DIGITAL
	}
	sent := r.Media
	switch st := trim(o.ShippedServiceType); st {
	case "":
	case "loan":
		sent, r.Format = requestsv1.Media_MEDIA_LOAN, requestsv1.Format_FORMAT_PHYSICAL
	case "copy":
		sent, r.Format = requestsv1.Media_MEDIA_COPY, requestsv1.Format_FORMAT_DIGITAL
	default:
		r.Warn("shippedServiceType", connector.WarnUnknownCode, "unknown shippedServiceType %q", st)
	}
	r.StatusRaw = rawStatus(o)
	status, known := MapStatus(trim(o.RequesterOrderState), trim(o.ProviderOrderState), trim(o.ProviderAnswer), sent)
	r.Status = status
	if !known {
		r.Warn("requesterOrderState", connector.WarnUnknownStatus, "unknown Netpunkt state %s", r.StatusRaw)
	}
	if trim(o.RequesterOrderState) == "" {
		r.Warn("requesterOrderState", connector.WarnMissing, "requesterOrderState is missing")
	}

	b := r.Bibliographic
	b.Title, b.Author = trim(o.Title), trim(o.Author)
	b.Isbn, b.Issn = trim(o.ISBN), trim(o.ISSN)
	b.Publisher, b.Year = trim(o.Publisher), trim(o.PublicationDate)
	b.Volume, b.Pages = trim(o.Volume), trim(o.Pagination)
	b.ArticleTitle, b.ArticleAuthor = trim(o.TitleOfComponent), trim(o.AuthorOfComponent)
	b.ExternalRecordId = trim(o.PID)

	r.PatronID = strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) {
			return -1
		}
		return c
	}, o.UserID)
	r.PatronName = trim(o.UserName)
	// Netpunkt marks an order whose patron the library could not identify as
	// unknown_user; every other order has an identified patron (assumption P6).
	r.PatronInitiated = patronInitiated(o)
	r.PatronApproved = trim(o.RequesterOrderState) != "unknown_user"
	// Our own latest note is the request's note; the lender's is not kept.
	r.Note = trim(o.LatestRequesterNote)
	if len(problems) > 0 {
		r.Problem = strings.Join(problems, "; ")
	}
	return r
}
