package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// Limits on ingest. The batch size is the proto's; the others keep a record and its index
// keys small while fitting any real value.
const (
	MaxBatch      = 1000 // items per batch
	MaxExternalID = 256  // characters of an external id
	maxText       = 4096 // characters of any other string field
	maxRota       = 100  // rota entries
	// maxFutureSkew bounds how far an external last-modified time may lie ahead of the
	// ledger's clock: a time far in the future would make every later version of the
	// request look older, freezing it.
	maxFutureSkew = 24 * time.Hour
	// maxReasonViolations caps the violations one rejection reason lists.
	maxReasonViolations = 5
)

const (
	outcomeCreated   = requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED
	outcomeUpdated   = requestsv1.IngestOutcome_INGEST_OUTCOME_UPDATED
	outcomeUnchanged = requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED
	outcomeRejected  = requestsv1.IngestOutcome_INGEST_OUTCOME_REJECTED
)

// ApplyBatch applies one ingest batch of harvester run `run` (a `runs/{id}` name or empty)
// in one write transaction and returns one result per item, in order. An item whose
// (profile, external id) is new is CREATED with its external status (audited as an
// import by the harvester); one whose external last-modified time is newer than the
// stored one UPDATES the request, its external status, when it changed, reconciled with
// ours (audited as an external update by the external system); an older or equal one
// leaves it UNCHANGED.
// An invalid item, or a second item with the identity of an earlier one in the batch, is
// REJECTED with a reason and writes nothing. An error (storage failure, ctx ended) means
// nothing of the batch was written.
func (s *Store) ApplyBatch(ctx context.Context, run string, items []*requestsv1.IngestItem, now time.Time) ([]*requestsv1.IngestResult, error) {
	if len(items) > MaxBatch {
		return nil, ErrBatchTooLarge
	}
	// Validation needs no transaction: done first, it keeps the write lock short.
	results := make([]*requestsv1.IngestResult, len(items))
	for i, it := range items {
		results[i] = &requestsv1.IngestResult{ExternalId: it.GetExternalReference().GetExternalId()}
		if reason := checkItem(it, now); reason != "" {
			results[i].Outcome, results[i].Reason = outcomeRejected, reason
		}
	}
	if held, err := s.heldUnchanged(ctx, items, results); err != nil || held {
		if err != nil {
			return nil, err
		}
		return results, nil
	}
	err := s.update(false, func(tx *bolt.Tx) error {
		first := make(map[string]int, len(items)) // identity → index of the item applying it
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			res := results[i]
			key, ok := identity(first, it, i, res)
			if !ok {
				continue
			}
			if err := s.applyItem(tx, it, key, run, now, res); err != nil {
				return err
			}
			if s.afterItem != nil {
				if err := s.afterItem(i); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// identity returns the by_external key of item i, or false when the item is to be
// skipped: rejected by validation, or rejected here as a repeat of an earlier item of the
// batch (first maps the identities seen to their item).
func identity(first map[string]int, it *requestsv1.IngestItem, i int, res *requestsv1.IngestResult) ([]byte, bool) {
	if res.Outcome == outcomeRejected {
		return nil, false
	}
	ref := it.GetExternalReference()
	key := externalKey(ref.GetProfile(), ref.GetExternalId())
	if j, dup := first[string(key)]; dup {
		res.Outcome = outcomeRejected
		res.Reason = fmt.Sprintf("duplicate of items[%d]: a batch may hold each (profile, external_id) once", j)
		return nil, false
	}
	first[string(key)] = i
	return key, true
}

// heldUnchanged answers a batch the ledger already holds in full, as a re-import of a
// window brings it, from a read transaction: every valid item names a stored request
// whose external last-modified time is not older than the item's, so the batch would
// change nothing. It then fills results (UNCHANGED, or REJECTED for repeats) and reports
// true, having taken no write lock and made no commit (no fsync). When any item would
// change the ledger it reports false and leaves results as they were; the write
// transaction then decides every item again.
func (s *Store) heldUnchanged(ctx context.Context, items []*requestsv1.IngestItem, results []*requestsv1.IngestResult) (bool, error) {
	scratch := make([]*requestsv1.IngestResult, len(results))
	for i, r := range results {
		scratch[i] = &requestsv1.IngestResult{ExternalId: r.GetExternalId(), Outcome: r.GetOutcome(), Reason: r.GetReason()}
	}
	held := true
	err := s.db.View(func(tx *bolt.Tx) error {
		first := make(map[string]int, len(items))
		byExternal := tx.Bucket(bucketByExternal)
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			key, ok := identity(first, it, i, scratch[i])
			if !ok {
				continue
			}
			_, old, err := lookupKey(tx, byExternal, key)
			if err != nil {
				return err
			}
			if old == nil || newer(it.GetExternalReference().GetLastModifiedTime(), old.GetExternalReference().GetLastModifiedTime()) {
				held = false
				return nil
			}
			scratch[i].Outcome, scratch[i].BorrowingRequest = outcomeUnchanged, old.GetName()
		}
		return nil
	})
	if err != nil || !held {
		return false, err
	}
	copy(results, scratch)
	return true, nil
}

// applyItem creates or updates the request a valid item describes and records the outcome.
func (s *Store) applyItem(tx *bolt.Tx, it *requestsv1.IngestItem, key []byte, run string, now time.Time, res *requestsv1.IngestResult) error {
	ref := it.GetExternalReference()
	ev := &requestsv1.RequestEvent{ExternalStatusRaw: ref.GetStatusRaw(), ExternalStatus: it.GetExternalStatus(), Run: run, Partner: it.GetPartner()}
	id, old, err := lookupKey(tx, tx.Bucket(bucketByExternal), key)
	if err != nil {
		return err
	}
	if old == nil {
		id, err := tx.Bucket(bucketRequests).NextSequence()
		if err != nil {
			return err
		}
		next := fromItem(it)
		ev.Actor, ev.Action = ActorHarvester, EventImport
		if _, err := s.commit(tx, id, nil, next, ev, now); err != nil {
			return err
		}
		res.Outcome, res.BorrowingRequest = outcomeCreated, next.GetName()
		return nil
	}
	res.BorrowingRequest = old.GetName()
	if !newer(ref.GetLastModifiedTime(), old.GetExternalReference().GetLastModifiedTime()) {
		res.Outcome = outcomeUnchanged
		return nil
	}
	// The external system stays the source of the description (reference, bibliography,
	// rota, pickup, the patron's message) and of the partner unless staff chose one here;
	// the ledger keeps its own status, flag and history, and what anonymizing removed
	// stays removed.
	next := fromItem(it)
	next.CreateTime, next.NeedsAttention, next.AttentionReason = old.GetCreateTime(), old.GetNeedsAttention(), old.GetAttentionReason()
	next.Status, next.ClosedFromStatus, next.AnonymizeTime = old.GetStatus(), old.GetClosedFromStatus(), old.GetAnonymizeTime()
	if next.AnonymizeTime != nil {
		// Once anonymized, the ledger never takes the patron back: the external system
		// still sends them until it forgets the request. Dropping them is a removal, so
		// the time moves with it and the request stays out of the bulk candidates.
		stripPersonalData(next)
		next.AnonymizeTime = timestamppb.New(now)
	}
	system := strings.TrimPrefix(ref.GetSystem().String(), "EXTERNAL_SYSTEM_")
	ev.Actor, ev.Action = actorExternal+":"+system, EventExternalUpdate
	if ref.GetSystem() == typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED {
		ev.Actor, system = actorExternal, "the external system"
	}
	var conflicts []string
	// Only news is reconciled: an external status the ledger has already seen says
	// nothing new, and applying it again would undo local steps taken since (a request
	// rejected there, then reactivated and sent here, would be rejected again) or raise
	// a conflict staff have already resolved.
	if externalStatusChanged(old, it) {
		switch verdict, hint := lifecycle.Reconcile(old.GetStatus(), it.GetExternalStatus()); verdict {
		case lifecycle.Apply:
			setStatus(next, old.GetStatus(), it.GetExternalStatus())
		case lifecycle.Conflict:
			conflicts = append(conflicts, fmt.Sprintf("%s reported %q (%s) while the request is %s here: %s",
				system, ref.GetStatusRaw(), it.GetExternalStatus(), old.GetStatus(), hint))
		}
	}
	if c := reconcilePartner(old, next, system); c != "" {
		conflicts = append(conflicts, c)
	}
	if len(conflicts) > 0 {
		reason := strings.Join(conflicts, ". Also: ")
		next.NeedsAttention, next.AttentionReason, ev.AttentionReason = true, reason, reason
	}
	if _, err := s.commit(tx, id, old, next, ev, now); err != nil {
		return err
	}
	res.Outcome = outcomeUpdated
	return nil
}

// externalStatusChanged reports whether item it reports another external status than
// the one the ledger last saw for old: another raw status, or another mapped one (the
// same raw status maps differently for a loan and a copy). A request stored before
// schema 3 has no mapped status on record; its raw status decides.
func externalStatusChanged(old *requestsv1.BorrowingRequest, it *requestsv1.IngestItem) bool {
	if it.GetExternalReference().GetStatusRaw() != old.GetExternalReference().GetStatusRaw() {
		return true
	}
	last := old.GetExternalStatus()
	return last != requestsv1.Status_STATUS_UNSPECIFIED && last != it.GetExternalStatus()
}

// reconcilePartner settles next's partner (fromItem set it, and external_partner, to
// the lender the external system names) against old's, and returns a conflict to flag,
// or "". The partner is ours while staff chose it here: sent to another partner than the
// external system named (old.partner_unconfirmed, or old's partner differs from the
// lender last reported). Then the external lender is news when it differs from ours at
// the first update after the send, or when it changed since the last update; an
// unchanged one was seen (and flagged, if it differed) before, so it is not flagged
// again. Once the external system names our partner, the two agree and later external
// lenders are taken over again.
func reconcilePartner(old, next *requestsv1.BorrowingRequest, system string) string {
	external := next.GetExternalPartner()
	next.PartnerUnconfirmed = false
	if !old.GetPartnerUnconfirmed() && old.GetPartner() == old.GetExternalPartner() {
		return "" // not chosen here: the external lender is ours
	}
	next.Partner = old.GetPartner()
	if external == old.GetPartner() || (!old.GetPartnerUnconfirmed() && external == old.GetExternalPartner()) {
		return ""
	}
	ours := orNone(old.GetPartner())
	if external == "" {
		return fmt.Sprintf("%s names no active lender while the request was sent to %s here: "+
			"the ledger does not update %s; move the request to %s there too, or settle it with the partner", system, ours, system, ours)
	}
	return fmt.Sprintf("%s names %s as the active lender while the request was sent to %s here: "+
		"the ledger does not update %s; move the request to %s there too (or close it at %s there), or send it to %s here",
		system, external, ours, system, ours, external, external)
}

func orNone(partner string) string {
	if partner == "" {
		return "no partner"
	}
	return partner
}

// fromItem is the request an item describes, before stamping. It shares the item's
// sub-messages rather than copying them: the record is marshalled within the batch and
// never kept, and nothing modifies them.
func fromItem(it *requestsv1.IngestItem) *requestsv1.BorrowingRequest {
	return &requestsv1.BorrowingRequest{
		ExternalReference: it.GetExternalReference(),
		Status:            it.GetExternalStatus(),
		ExternalStatus:    it.GetExternalStatus(),
		Owner:             it.GetOwner(),
		Partner:           it.GetPartner(),
		ExternalPartner:   it.GetPartner(),
		Rota:              it.GetRota(),
		Bibliographic:     it.GetBibliographic(),
		Format:            it.GetFormat(),
		Media:             it.GetMedia(),
		Requester:         it.GetRequester(),
		PickupLocation:    it.GetPickupLocation(),
		Note:              it.GetNote(),
	}
}

// newer reports whether a is strictly later than b (a stored request always has b).
func newer(a, b *timestamppb.Timestamp) bool {
	if b == nil {
		return true
	}
	if a.GetSeconds() != b.GetSeconds() {
		return a.GetSeconds() > b.GetSeconds()
	}
	return a.GetNanos() > b.GetNanos()
}

// checkItem returns why an item cannot be applied, or "" when it can. Field paths are
// relative to the item, since each result answers one item.
func checkItem(it *requestsv1.IngestItem, now time.Time) string {
	var v apierr.Violations
	ref := it.GetExternalReference()
	if ref == nil {
		v.Add("external_reference", "is required")
	} else {
		validate.Enum(&v, "external_reference.system", ref.GetSystem(), false)
		validate.CodeName(&v, "external_reference.profile", ref.GetProfile(), ProfilesCollection)
		// An identity compared exactly: spaces or control characters can only be a mistake.
		validate.Token(&v, "external_reference.external_id", ref.GetExternalId(), MaxExternalID)
		checkLastModified(&v, "external_reference.last_modified_time", ref.GetLastModifiedTime(), now)
	}
	validate.Enum(&v, "external_status", it.GetExternalStatus(), true)
	validate.Code(&v, "owner", it.GetOwner())
	if p := it.GetPartner(); p != "" {
		validate.CodeName(&v, "partner", p, PartnersCollection)
	}
	validate.Enum(&v, "format", it.GetFormat(), false)
	validate.Enum(&v, "media", it.GetMedia(), false)
	if n := len(it.GetRota()); n > maxRota {
		v.Add("rota", "must hold at most %d entries (got %d)", maxRota, n)
	} else {
		for i, e := range it.GetRota() {
			field := fmt.Sprintf("rota[%d].", i)
			validate.Text(&v, field+"partner_code", e.GetPartnerCode(), maxText, false)
			if p := e.GetPartner(); p != "" {
				validate.CodeName(&v, field+"partner", p, PartnersCollection)
			}
			validate.Text(&v, field+"response", e.GetResponse(), maxText, true)
		}
	}
	b, r := it.GetBibliographic(), it.GetRequester()
	for _, f := range []struct{ field, value string }{
		{"external_reference.external_request_id", ref.GetExternalRequestId()},
		{"external_reference.status_raw", ref.GetStatusRaw()},
		{"bibliographic.title", b.GetTitle()},
		{"bibliographic.author", b.GetAuthor()},
		{"bibliographic.isbn", b.GetIsbn()},
		{"bibliographic.issn", b.GetIssn()},
		{"bibliographic.publisher", b.GetPublisher()},
		{"bibliographic.place_of_publication", b.GetPlaceOfPublication()},
		{"bibliographic.year", b.GetYear()},
		{"bibliographic.volume", b.GetVolume()},
		{"bibliographic.pages", b.GetPages()},
		{"bibliographic.article_title", b.GetArticleTitle()},
		{"bibliographic.article_author", b.GetArticleAuthor()},
		{"bibliographic.external_record_id", b.GetExternalRecordId()},
		{"requester.patron_id", r.GetPatronId()},
		{"requester.name", r.GetName()},
		{"pickup_location", it.GetPickupLocation()},
		{"note", it.GetNote()},
	} {
		// Multiline throughout: catalogue data and patron messages carry line breaks.
		validate.Text(&v, f.field, f.value, maxText, true)
	}
	return reason(&v)
}

func checkLastModified(v *apierr.Violations, field string, ts *timestamppb.Timestamp, now time.Time) {
	switch {
	case ts == nil:
		v.Add(field, "is required")
	case ts.CheckValid() != nil:
		v.Add(field, "must be a valid timestamp")
	case ts.AsTime().After(now.Add(maxFutureSkew)):
		v.Add(field, "must not lie more than %s ahead of the ledger's clock (got %s)",
			maxFutureSkew, ts.AsTime().Format(time.RFC3339))
	}
}

// reason renders v's violations as one rejection reason, e.g. "owner: is required".
func reason(v *apierr.Violations) string {
	e, ok := apierr.As(v.Err())
	if !ok {
		return ""
	}
	var parts []string
	for i, fv := range e.Violations {
		if i == maxReasonViolations {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Violations)-i))
			break
		}
		parts = append(parts, fv.Field+": "+fv.Description)
	}
	return strings.Join(parts, "; ")
}
