package libris

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
)

// wireItem is one ill_requests item with its nested objects, limited to what the ledger
// uses, as decodeItem (wire.go, which names each field's JSON key) reads it. Every field
// is tolerant: ids and codes may come as strings or numbers, nulls are unset, and unknown
// fields are ignored.
type wireItem struct {
	RequestID         flexString
	LFNumber          flexString
	Status            flexString
	LastModified      flexString
	MediaType         flexString
	RequestingLibrary flexString
	ActiveLibrary     flexString
	ReceivingLibrary  wireLibrary
	Recipients        wireRecipients
	EndUser           wireEndUser

	BibID              flexString
	IsbnIssn           flexString
	Title              flexString
	Author             flexString
	Publisher          flexString
	PlaceOfPublication flexString
	Year               flexString
	VolumeDesignation  flexString
	Pages              flexString
	TitleOfArticle     flexString
	AuthorOfArticle    flexString

	User    flexString
	UserID  flexString
	Message flexString

	// "0" (or absent) unless a patron placed the request as a web request.
	EnduserRequestID flexString
	EnduserID        flexString
}

// wireLibrary is receiving_library; only its code is used.
type wireLibrary struct {
	LibraryCode flexString
	odd         bool
}

// wireEndUser is end_user; only the approval flag is used (the rest is personal data we
// do not need).
type wireEndUser struct {
	Approved flexBool
	odd      bool
}

type wireRecipient struct {
	LibraryCode     flexString
	IsActiveLibrary flexBool
	Response        flexString
}

// wireRecipients is the lending chain, in order. Entries that are not objects are counted
// and dropped rather than failing the request.
type wireRecipients struct {
	list    []wireRecipient
	dropped int
	odd     bool
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// Libris media_type values (Swedish), compared exactly as UTF-8.
const (
	mediaLoan = "Lån"
	mediaCopy = "Kopia"
)

// statusTable maps each Libris status string (Swedish, UTF-8) to our status for a loan
// and for a copy. It is the only place Libris statuses are interpreted.
var statusTable = map[string]struct{ loan, copy requestsv1.Status }{
	// Outstanding at a lender that has not decided yet (waiting, referred on, opened): the
	// request has been sent and nothing more.
	"Uteliggande": {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"Remitterad":  {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"Läst":        {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	// On loan at the lender but reservable, or we asked for a reservation: still waiting on
	// the lender, no promise made yet.
	"Kan reserveras": {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	"Reservation":    {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	// A cancellation was refused, so the request simply goes on (the "!" is part of it).
	"Ej avbeställd!": {requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_REQUEST_SENT},
	// The lender reserved the item for us: it has committed to supply.
	"Reserverad": {requestsv1.Status_STATUS_WILL_SUPPLY, requestsv1.Status_STATUS_WILL_SUPPLY},
	// The lender sent it: a loan travels by post, a copy is delivered digitally.
	"Levererad": {requestsv1.Status_STATUS_SHIPPED_PHYSICALLY, requestsv1.Status_STATUS_SHIPPED_DIGITALLY},
	// Every lender said no.
	"Negativt svar": {requestsv1.Status_STATUS_REJECTED_BY_PARTNER, requestsv1.Status_STATUS_REJECTED_BY_PARTNER},
	// The borrowing library (our staff) cancelled it in Libris.
	"Avbeställd": {requestsv1.Status_STATUS_CANCELLED_BY_STAFF, requestsv1.Status_STATUS_CANCELLED_BY_STAFF},
	// Voided on the Libris/lender side, not by us.
	"Makulerad": {requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, requestsv1.Status_STATUS_CANCELLED_BY_PARTNER},
}

// MapStatus maps a Libris status string, compared exactly as UTF-8, to our status. media
// picks between the loan and copy meaning (only "Levererad" differs; an unspecified media
// counts as a loan, Libris's default). known is false for a status not in the table: the
// result is then STATUS_REQUEST_SENT, because a request that exists in Libris has been sent;
// the caller should warn so staff see the new value.
func MapStatus(raw string, media requestsv1.Media) (requestsv1.Status, bool) {
	e, ok := statusTable[raw]
	if !ok {
		return requestsv1.Status_STATUS_REQUEST_SENT, false
	}
	if media == requestsv1.Media_MEDIA_COPY {
		return e.copy, true
	}
	return e.loan, true
}

// mapItem turns one raw ill_requests item into a connector.Request. It never fails: an
// item that cannot be used carries a Problem naming the field, oddities become Warnings.
func mapItem(raw json.RawMessage, sigel string) *connector.Request {
	r := &connector.Request{Bibliographic: &requestsv1.Bibliographic{}}
	if firstByte(raw) != '{' {
		r.Problem = "an item of ill_requests is " + jsonKind(raw) + ", not an object"
		return r
	}
	it := decodeItem(bytes.TrimSpace(raw))

	var problems []string
	required := func(name string, f flexString) string {
		v := strings.TrimSpace(f.s)
		switch {
		case f.odd:
			problems = append(problems, name+" is not a string")
		case v == "":
			problems = append(problems, name+" is missing")
		}
		return v
	}
	optional := func(name string, f flexString) string {
		if f.odd {
			r.Warn(name, connector.WarnIgnored, "ignored %s: not a string", name)
		}
		return strings.TrimSpace(f.s)
	}

	// Identity.
	r.ExternalID = required("lf_number", it.LFNumber)
	r.ExternalRequestID = required("request_id", it.RequestID)
	if lm := required("last_modified", it.LastModified); lm != "" {
		if t, ok := parseEpoch(lm); ok {
			r.LastModified = t
		} else {
			problems = append(problems, fmt.Sprintf("last_modified %q is not a Unix time in seconds", lm))
		}
	}
	if r.ExternalID != "" {
		if d, ok := orderDay(r.ExternalID); ok {
			r.OrderDay = d
		} else {
			r.Warn("lf_number", connector.WarnUnparsableDate, "lf_number %q carries no order date (YYMMDD)", r.ExternalID)
		}
	}

	// Libraries. requesting_library must be ours, compared case-sensitively like the sigel
	// in the path: another library's request must not enter this profile's ledger.
	if req := required("requesting_library", it.RequestingLibrary); req != "" {
		r.RequestingLibrary = req
		if req != sigel {
			problems = append(problems, fmt.Sprintf("requesting_library %q is not this profile's library %q", req, sigel))
		}
	}
	if it.ReceivingLibrary.odd {
		r.Warn("receiving_library", connector.WarnIgnored, "ignored receiving_library: not an object")
	}
	r.PickupLibrary = optional("receiving_library.library_code", it.ReceivingLibrary.LibraryCode)
	r.Lender = optional("active_library", it.ActiveLibrary)
	if it.Recipients.odd {
		r.Warn("recipients", connector.WarnIgnored, "ignored recipients: not an array")
	}
	dropped := it.Recipients.dropped
	for _, e := range it.Recipients.list {
		code := strings.TrimSpace(e.LibraryCode.s)
		if code == "" {
			dropped++
			continue
		}
		r.Rota = append(r.Rota, connector.RotaEntry{Code: code, Active: bool(e.IsActiveLibrary), Response: strings.TrimSpace(e.Response.s)})
	}
	if dropped > 0 {
		r.Warn("recipients", connector.WarnIgnored, "ignored %d recipients without a library code", dropped)
	}

	// Media, then status (a delivered copy and a delivered loan differ).
	media := optional("media_type", it.MediaType)
	switch media {
	case mediaLoan:
		r.Media, r.Format = requestsv1.Media_MEDIA_LOAN, requestsv1.Format_FORMAT_PHYSICAL
	case mediaCopy:
		r.Media, r.Format = requestsv1.Media_MEDIA_COPY, requestsv1.Format_FORMAT_DIGITAL
	case "":
		r.Warn("media_type", connector.WarnMissing, "media_type is missing")
	default:
		r.Warn("media_type", connector.WarnUnknownCode, "unknown Libris media type %q", media)
	}
	if it.Status.odd {
		problems = append(problems, "status is not a string")
	}
	r.StatusRaw = it.Status.s // exactly as received
	status, known := MapStatus(r.StatusRaw, r.Media)
	r.Status = status
	switch {
	case it.Status.odd:
	case r.StatusRaw == "":
		r.Warn("status", connector.WarnMissing, "status is missing")
	case !known:
		r.Warn("status", connector.WarnUnknownStatus, "unknown Libris status %q", r.StatusRaw)
	}

	// Bibliographic data.
	b := r.Bibliographic
	b.Title = optional("title", it.Title)
	b.Author = optional("author", it.Author)
	if id := optional("isbn_issn", it.IsbnIssn); id != "" {
		isbn, issn := splitIsbnIssn(id)
		b.Isbn, b.Issn = isbn, issn
		if isbn == "" && issn == "" {
			r.Warn("isbn_issn", connector.WarnUnparsable, "isbn_issn %q is neither an ISBN nor an ISSN", id)
		}
	}
	b.Publisher = optional("publisher", it.Publisher)
	b.PlaceOfPublication = optional("place_of_publication", it.PlaceOfPublication)
	b.Year = optional("year", it.Year)
	b.Volume = optional("volume_designation", it.VolumeDesignation)
	b.Pages = optional("pages", it.Pages)
	b.ArticleTitle = optional("title_of_article", it.TitleOfArticle)
	b.ArticleAuthor = optional("author_of_article", it.AuthorOfArticle)
	b.ExternalRecordId = optional("bib_id", it.BibID)

	// Patron (personal data): the card number loses all spaces, as S2 does before
	// matching it against local card numbers.
	r.PatronID = strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) {
			return -1
		}
		return c
	}, optional("user_id", it.UserID))
	r.PatronName = optional("user", it.User)
	if it.EndUser.odd {
		r.Warn("end_user", connector.WarnIgnored, "ignored end_user: not an object")
	}
	// A request staff entered themselves carries "0" for both end-user ids; only one a
	// patron placed as a web request names the patron's web request and account there.
	r.PatronInitiated = enduserSet(it.EnduserRequestID) || enduserSet(it.EnduserID)
	r.PatronApproved = bool(it.EndUser.Approved)
	r.Note = optional("message", it.Message)

	if len(problems) > 0 {
		r.Problem = strings.Join(problems, "; ")
	}
	return r
}

// enduserSet reports whether an end-user id names a patron: neither empty nor "0".
func enduserSet(f flexString) bool {
	v := strings.TrimSpace(f.s)
	return !f.odd && v != "" && v != "0"
}

func jsonKind(raw []byte) string {
	switch firstByte(raw) {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case 0:
		return "empty"
	}
	return "a number"
}

// maxEpoch is 9999-12-31T23:59:59Z; anything later is not a real last_modified.
const maxEpoch = 253402300799

// parseEpoch reads last_modified: epoch seconds as a string (or a JSON number's text).
func parseEpoch(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f <= 0 || f > maxEpoch {
			return time.Time{}, false
		}
		n = int64(f)
	}
	if n <= 0 || n > maxEpoch {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// orderDay reads the order date from an lf_number {sigel}-{YYMMDD}-{NNNN}. The sigel part
// is not parsed (taking the second-to-last part allows a hyphen in it); years are 20YY.
func orderDay(lf string) (connector.Day, bool) {
	parts := strings.Split(lf, "-")
	if len(parts) < 3 {
		return connector.Day{}, false
	}
	ymd := parts[len(parts)-2]
	if len(ymd) != 6 || !allDigits(ymd) {
		return connector.Day{}, false
	}
	yy, _ := strconv.Atoi(ymd[0:2])
	mm, _ := strconv.Atoi(ymd[2:4])
	dd, _ := strconv.Atoi(ymd[4:6])
	d := connector.Day{Year: 2000 + yy, Month: time.Month(mm), Day: dd}
	if connector.DayOf(d.Time()) != d { // month 13 or 31 February would roll over
		return connector.Day{}, false
	}
	return d, true
}

// splitIsbnIssn sorts Libris's single isbn_issn field. An optional "ISBN"/"ISSN" label and
// anything after the first word (such as "(inb.)") are dropped; an ISBN is 10 or 13
// characters of digits (the 10th may be X) once hyphens are removed, an ISSN is NNNN-NNNC.
func splitIsbnIssn(v string) (isbn, issn string) {
	s := strings.TrimSpace(v)
	if len(s) >= 4 && (strings.EqualFold(s[:4], "ISBN") || strings.EqualFold(s[:4], "ISSN")) {
		s = strings.TrimLeft(s[4:], " :")
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", ""
	}
	tok := fields[0]
	compact := strings.ReplaceAll(tok, "-", "")
	switch {
	case len(compact) == 13 && allDigits(compact):
		return tok, ""
	case len(compact) == 10 && allDigits(compact[:9]) && (isDigit(compact[9]) || compact[9] == 'X' || compact[9] == 'x'):
		return tok, ""
	case len(compact) == 8 && allDigits(compact[:7]) && (isDigit(compact[7]) || compact[7] == 'X' || compact[7] == 'x') &&
		(len(tok) == 8 || len(tok) == 9 && tok[4] == '-'):
		return "", tok
	}
	return "", ""
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
