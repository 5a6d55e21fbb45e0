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

// Limits on ingest. The batch size is the proto's; the external id's keeps a record's
// identity and its index keys small while fitting any real id. The bounds of the other
// fields are in warnings.go: beyond them a field is kept cut, with a warning.
const (
	MaxBatch      = 1000 // items per batch
	MaxExternalID = 256  // characters of an external id
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
// leaves it UNCHANGED, data warnings included.
// A created or updated request is stored with its data warnings (clean, warnings.go),
// which the result repeats; an unchanged one's result repeats the warnings stored.
// Only an item the ledger cannot store (checkIdentity), or a second item with the
// identity of an earlier one in the batch, is REJECTED with a reason and writes nothing.
// An error (storage failure, ctx ended) means nothing of the batch was written.
func (s *Store) ApplyBatch(ctx context.Context, run string, items []*requestsv1.IngestItem, now time.Time) ([]*requestsv1.IngestResult, error) {
	return s.ApplyPrepared(ctx, run, s.Prepare(items), now)
}

// ApplyPrepared is ApplyBatch of a batch Prepare has prepared.
func (s *Store) ApplyPrepared(ctx context.Context, run string, b *Prepared, now time.Time) ([]*requestsv1.IngestResult, error) {
	return s.applyBatch(ctx, run, b, now, false)
}

// ValidateBatch answers what ApplyBatch would do with items now, decided by the same
// code in a transaction that is rolled back, so nothing is written and no watcher
// woken; a request that would be created has no name yet.
func (s *Store) ValidateBatch(ctx context.Context, items []*requestsv1.IngestItem, now time.Time) ([]*requestsv1.IngestResult, error) {
	return s.applyBatch(ctx, "", &Prepared{items: items}, now, true)
}

// Prepared is an ingest batch whose new requests have had the work that needs no
// transaction done ahead: each item cleaned (warnings.go) and its search words split.
// The requests service prepares the next batch of a stream while the store applies the
// current one, so the work leaves the ledger's one writer's path.
type Prepared struct {
	items []*requestsv1.IngestItem
	fresh []*preparedItem // by item; nil: left to the transaction
}

type preparedItem struct {
	clean    *requestsv1.IngestItem
	warnings []*typev1.DataWarning
	words    []string
}

// Prepare prepares the items whose identity the ledger does not hold (the ones an
// import creates); items it holds are left to the transaction, which decides whether
// they change at all. What it computes depends on the item alone, so it stays right
// whatever is written before the batch is applied. A batch larger than MaxBatch is
// left unprepared (ApplyPrepared refuses it).
func (s *Store) Prepare(items []*requestsv1.IngestItem) *Prepared {
	b := &Prepared{items: items}
	if len(items) > MaxBatch {
		return b
	}
	b.fresh = make([]*preparedItem, len(items))
	_ = s.db.View(func(tx *bolt.Tx) error {
		byExternal := tx.Bucket(bucketByExternal)
		for i, it := range items {
			ref := it.GetExternalReference()
			if ref == nil || byExternal.Get(externalKey(ref.GetProfile(), ref.GetExternalId())) != nil {
				continue
			}
			clean, warnings := clean(it)
			b.fresh[i] = &preparedItem{clean: clean, warnings: warnings, words: idxWord.values(fromItem(clean, warnings))}
		}
		return nil
	})
	return b
}

func (s *Store) applyBatch(ctx context.Context, run string, b *Prepared, now time.Time, dryRun bool) ([]*requestsv1.IngestResult, error) {
	items := b.items
	if len(items) > MaxBatch {
		return nil, ErrBatchTooLarge
	}
	// Validation needs no transaction: done first, it keeps the write lock short.
	results := make([]*requestsv1.IngestResult, len(items))
	for i, it := range items {
		results[i] = &requestsv1.IngestResult{ExternalId: it.GetExternalReference().GetExternalId()}
		if reason := checkIdentity(it, now); reason != "" {
			results[i].Outcome, results[i].Reason = outcomeRejected, reason
		}
	}
	if held, err := s.heldUnchanged(ctx, items, results); err != nil || held {
		if err != nil {
			return nil, err
		}
		return results, nil
	}
	err := s.update(dryRun, maxRecentTimes, func(tx *bolt.Tx) error {
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
			var p *preparedItem
			if b.fresh != nil {
				p = b.fresh[i]
			}
			if err := s.applyItem(tx, it, p, key, run, now, res); err != nil {
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
	if dryRun {
		for _, r := range results {
			if r.Outcome == outcomeCreated {
				r.BorrowingRequest = "" // the id was taken in a transaction rolled back
			}
		}
	}
	return results, nil
}

// identity returns the by_external key of item i, or false when the item is to be
// skipped: rejected by checkIdentity, or rejected here as a repeat of an earlier item of
// the batch (first maps the identities seen to their item).
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
	allHeld := true
	err := s.db.View(func(tx *bolt.Tx) error {
		first := make(map[string]int, len(items))
		byExternal, requests := tx.Bucket(bucketByExternal), tx.Bucket(bucketRequests)
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			key, ok := identity(first, it, i, scratch[i])
			if !ok {
				continue
			}
			idKey := byExternal.Get(key)
			if idKey == nil {
				allHeld = false
				return nil
			}
			h, ok := readHeld(requests.Get(idKey))
			if !ok {
				// Not read exactly by the short way (or missing): decoded in full.
				_, old, err := lookupKey(tx, byExternal, key)
				if err != nil {
					return err
				}
				h = held{old.GetName(), old.GetExternalReference().GetLastModifiedTime(), old.GetDataWarnings()}
			}
			if newer(it.GetExternalReference().GetLastModifiedTime(), h.lastModified) {
				allHeld = false
				return nil
			}
			scratch[i].Outcome, scratch[i].BorrowingRequest, scratch[i].Warnings = outcomeUnchanged, h.name, h.warnings
		}
		return nil
	})
	if err != nil || !allHeld {
		return false, err
	}
	copy(results, scratch)
	return true, nil
}

// applyItem creates or updates the request an item with a valid identity describes and
// records the outcome; p is the item prepared, or nil.
func (s *Store) applyItem(tx *bolt.Tx, it *requestsv1.IngestItem, p *preparedItem, key []byte, run string, now time.Time, res *requestsv1.IngestResult) error {
	ref := it.GetExternalReference()
	id, old, err := lookupKey(tx, tx.Bucket(bucketByExternal), key)
	if err != nil {
		return err
	}
	if old != nil {
		res.BorrowingRequest = old.GetName()
		if !newer(ref.GetLastModifiedTime(), old.GetExternalReference().GetLastModifiedTime()) {
			// Nothing new, so the warnings of the import that wrote it stand.
			res.Outcome, res.Warnings = outcomeUnchanged, old.GetDataWarnings()
			return nil
		}
	}
	if p == nil {
		p = &preparedItem{}
		p.clean, p.warnings = clean(it)
	}
	it, warnings := p.clean, p.warnings
	ev := &requestsv1.RequestEvent{ExternalStatusRaw: ref.GetStatusRaw(), ExternalStatus: it.GetExternalStatus(), Run: run, Partner: it.GetPartner()}
	if old == nil {
		id, err := tx.Bucket(bucketRequests).NextSequence()
		if err != nil {
			return err
		}
		next := fromItem(it, warnings)
		ev.Actor, ev.Action = ActorHarvester, EventImport
		if _, err := s.commit(tx, id, nil, next, ev, now, p.words); err != nil {
			return err
		}
		res.Outcome, res.BorrowingRequest, res.Warnings = outcomeCreated, next.GetName(), next.GetDataWarnings()
		return nil
	}
	// The external system stays the source of the description (reference, bibliography,
	// rota, pickup, the patron's message) and of the partner unless staff chose one here;
	// the ledger keeps its own status, flag and history, and what anonymizing removed
	// stays removed.
	next := fromItem(it, warnings)
	next.CreateTime, next.NeedsAttention, next.AttentionReason = old.GetCreateTime(), old.GetNeedsAttention(), old.GetAttentionReason()
	next.Status, next.ClosedFromStatus, next.AnonymizeTime = old.GetStatus(), old.GetClosedFromStatus(), old.GetAnonymizeTime()
	known := it.GetExternalStatus() != requestsv1.Status_STATUS_UNSPECIFIED
	if !known {
		// A report without a usable status says nothing about it: the last known one
		// stays on record, so the next known one is compared with it.
		next.ExternalStatus = old.GetExternalStatus()
	}
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
	if known && externalStatusChanged(old, it) {
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
	// The words are split again: what an update keeps of the old record (anonymizing)
	// is not the prepared item's business.
	if _, err := s.commit(tx, id, old, next, ev, now, nil); err != nil {
		return err
	}
	res.Outcome, res.Warnings = outcomeUpdated, next.GetDataWarnings()
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

// fromItem is the request a clean item describes, with its data warnings, before
// stamping. It shares the item's sub-messages rather than copying them: the record is
// marshalled within the batch and never kept, and nothing modifies them. A new request
// without a known external status starts at the beginning, CREATED.
func fromItem(it *requestsv1.IngestItem, warnings []*typev1.DataWarning) *requestsv1.BorrowingRequest {
	status := it.GetExternalStatus()
	if status == requestsv1.Status_STATUS_UNSPECIFIED {
		status = requestsv1.Status_STATUS_CREATED
	}
	return &requestsv1.BorrowingRequest{
		ExternalReference: it.GetExternalReference(),
		Status:            status,
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
		DataWarnings:      warnings,
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

// checkIdentity returns why the ledger cannot store an item at all, or "" when it can.
// These are the only reasons an item is REJECTED (every other problem is a data warning,
// warnings.go; docs/lifecycle.md lists both):
//   - no external_reference; a profile that is not `integrationProfiles/{code}`; an
//     external id that is empty, longer than MaxExternalID, or holds spaces, control
//     characters or invalid UTF-8. Profile and external id are the request's identity,
//     the key every later version is matched on, compared exactly;
//   - a last_modified_time that is missing, invalid or more than maxFutureSkew ahead of
//     the ledger's clock: it is the version that decides whether a later import updates
//     the request, and one made up would either freeze the request or turn every
//     re-import into an update;
//   - an owner that is not a library code: it names the library whose request it is,
//     it comes from the profile and not from the external data (a bad one is a fault of
//     the sender, not odd data), and a request filed under no library is in nobody's
//     queue.
//
// Field paths are relative to the item, since each result answers one item.
func checkIdentity(it *requestsv1.IngestItem, now time.Time) string {
	var v apierr.Violations
	ref := it.GetExternalReference()
	if ref == nil {
		v.Add("external_reference", "is required")
	} else {
		validate.CodeName(&v, "external_reference.profile", ref.GetProfile(), ProfilesCollection)
		// An identity compared exactly: spaces or control characters can only be a mistake.
		validate.Token(&v, "external_reference.external_id", ref.GetExternalId(), MaxExternalID)
		checkLastModified(&v, "external_reference.last_modified_time", ref.GetLastModifiedTime(), now)
	}
	validate.Code(&v, "owner", it.GetOwner())
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
	if v.Len() == 0 {
		return "" // the usual case, without building an error
	}
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
