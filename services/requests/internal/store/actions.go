package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// Command is one lifecycle action, as a caller asks for it.
type Command struct {
	Action requestsv1.Action
	// Choose, when set, picks the action from the stored request inside the transaction
	// (a receive that names no format), so the choice and the change see the same state.
	Choose  func(*requestsv1.BorrowingRequest) requestsv1.Action
	Note    string // for the audit trail
	Partner string // send: the partner, partners/{code}; empty keeps the request's own
	Actor   string
}

// Act applies c to request id in one transaction: the etag (when given) must match, the
// transition table must allow the action; then the request changes and its event is
// appended. It returns the request as stored after the change.
func (s *Store) Act(id uint64, etag string, c Command, now time.Time) (*requestsv1.BorrowingRequest, error) {
	var out *requestsv1.BorrowingRequest
	err := s.update(false, maxRecentTimesAny, func(tx *bolt.Tx) error {
		var err error
		out, err = s.act(tx, id, etag, c, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// act is Act inside a transaction. Every check comes before the first write, so a
// refused action writes nothing and a batch can go on with its other requests.
func (s *Store) act(tx *bolt.Tx, id uint64, etag string, c Command, now time.Time) (*requestsv1.BorrowingRequest, error) {
	old, err := load(tx, id)
	if err != nil {
		return nil, err
	}
	if err := resource.CheckEtag(old.GetName(), etag, old.GetEtag()); err != nil {
		return old, err
	}
	a := c.Action
	if c.Choose != nil {
		a = c.Choose(old)
	}
	to, err := lifecycle.Check(old, a)
	if err != nil {
		return old, err
	}
	if lifecycle.NoteRequired(a) && strings.TrimSpace(c.Note) == "" {
		// The API refuses this first; checked here too, so no caller can declare an item
		// lost without saying what happened.
		return old, apierr.Invalid("note", "is required for %s", a)
	}
	next := proto.CloneOf(old)
	ev := &requestsv1.RequestEvent{Actor: c.Actor, Action: lifecycle.Name(a), Note: c.Note}
	switch a {
	case lifecycle.Send:
		if c.Partner != "" && c.Partner != old.GetPartner() {
			// Chosen here: external updates keep it from now on (ingest.go), and the next
			// one compares it with the external system's lender.
			next.Partner = c.Partner
			next.PartnerUnconfirmed = c.Partner != old.GetExternalPartner()
		}
		if next.GetPartner() == "" {
			return old, ErrPartnerRequired
		}
		ev.Partner = next.GetPartner()
	case lifecycle.ResolveAttention:
		next.NeedsAttention, next.AttentionReason = false, ""
	case lifecycle.Anonymize:
		stripPersonalData(next)
		next.AnonymizeTime = timestamppb.New(now) // equal to the update time commit stamps
		if err := stripEventNotes(tx, id); err != nil {
			return nil, err
		}
	}
	setStatus(next, old.GetStatus(), to)
	if _, err := s.commit(tx, id, old, next, ev, now, nil); err != nil {
		return nil, err
	}
	return next, nil
}

// stripPersonalData removes the patron's identity and message from r, and the data
// warnings about them (they describe data that is gone). The requester message and the
// warnings are replaced, not edited: they may be shared with an ingest item.
func stripPersonalData(r *requestsv1.BorrowingRequest) {
	if req := r.GetRequester(); req != nil {
		r.Requester = &requestsv1.Requester{Approved: req.GetApproved()}
	}
	r.Note = ""
	if slices.ContainsFunc(r.GetDataWarnings(), personalWarning) {
		r.DataWarnings = slices.DeleteFunc(slices.Clone(r.DataWarnings), personalWarning)
	}
}

// stripEventNotes blanks the free-text notes of request id's audit trail: staff may have
// written anything there, including the patron's name. Who, what, when and the statuses
// stay.
func stripEventNotes(tx *bolt.Tx, id uint64) error {
	b := tx.Bucket(bucketEvents)
	var keep [][]byte
	var events []*requestsv1.RequestEvent
	c := b.Cursor()
	prefix := boltdb.Uint64Key(id)
	for k, v := c.Seek(prefix); k != nil && len(k) == 16 && string(k[:8]) == string(prefix); k, v = c.Next() {
		ev := &requestsv1.RequestEvent{}
		if err := proto.Unmarshal(v, ev); err != nil {
			return err
		}
		if ev.GetNote() != "" {
			ev.Note = ""
			keep, events = append(keep, boltdb.Copy(k)), append(events, ev)
		}
	}
	for i, k := range keep { // rewritten after the walk: writing under a cursor can skip keys
		v, err := proto.Marshal(events[i])
		if err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Target names one request of a batch action.
type Target struct {
	ID   uint64
	Etag string
}

// ActResult is the outcome of a batch action on one request: the request after the
// action (or as it is, when the action failed and it exists) and the error, if any.
type ActResult struct {
	ID      uint64
	Request *requestsv1.BorrowingRequest
	Err     error
}

// itemError reports whether err concerns one request of a batch (not found, etag,
// refused action) rather than the storage, which fails the whole batch.
func itemError(err error) bool {
	var nae *lifecycle.NotAllowedError
	_, isAPI := apierr.As(err)
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrPartnerRequired) || errors.As(err, &nae) || isAPI
}

// ActBatch applies c to each target in one transaction, each on its own: a refused one
// fails alone. With dryRun nothing is written (the results say what would happen; their
// requests carry no new etag). A storage error fails the whole batch and writes nothing.
func (s *Store) ActBatch(targets []Target, c Command, now time.Time, dryRun bool) ([]ActResult, error) {
	var out []ActResult
	err := s.update(dryRun, maxRecentTimesAny, func(tx *bolt.Tx) error {
		out = out[:0]
		for _, t := range targets {
			res, err := s.actOne(tx, t.ID, t.Etag, c, now, dryRun)
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) actOne(tx *bolt.Tx, id uint64, etag string, c Command, now time.Time, dryRun bool) (ActResult, error) {
	r, err := s.act(tx, id, etag, c, now)
	switch {
	case err != nil && !itemError(err):
		return ActResult{}, err
	case err == nil && dryRun:
		r.Etag = ""
	}
	return ActResult{ID: id, Request: r, Err: err}, nil
}

// ActFilter applies c to up to limit requests matching f (List's order and cursor
// semantics: after the cursor `after`, at most maxScan entries examined) in one
// transaction, and returns a result per matching request and the cursor to go on with
// (nil when none follow). Requests it changes move ahead of the cursor, so going on never
// visits them again.
func (s *Store) ActFilter(f Filter, after []byte, limit, maxScan int, c Command, now time.Time, dryRun bool) ([]ActResult, []byte, error) {
	var out []ActResult
	var next []byte
	err := s.update(dryRun, maxRecentTimesAny, func(tx *bolt.Tx) error {
		out = out[:0]
		// Matched first, acted on after: changing index entries under a walk can skip keys.
		matched, cursor, err := list(tx, f, after, limit, maxScan)
		if err != nil {
			return err
		}
		next = cursor
		for _, r := range matched {
			id, ok := idOfName(r.GetName())
			if !ok {
				return fmt.Errorf("a stored request is named %q", r.GetName())
			}
			res, err := s.actOne(tx, id, "", c, now, dryRun)
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// AnonymizeOld anonymizes up to limit closed requests of owner (any owner when empty)
// that may still hold personal data and were not changed since cutoff, oldest change
// first, in one transaction. It returns their names and whether more candidates remain.
// With dryRun nothing is written.
//
// Every entry it walks is a candidate (for one owner it walks that owner's part of
// idx_identifiable_owner), so a call examines at most limit entries and always makes
// progress: anonymized requests leave the index, so the next call goes on after them.
func (s *Store) AnonymizeOld(cutoff time.Time, owner string, limit int, actor string, now time.Time, dryRun bool) ([]string, bool, error) {
	var names []string
	var more bool
	ix, prefix := idxIdentifiable, []byte(nil)
	if owner != "" {
		ix, prefix = idxIdentifiableOwner, idxIdentifiableOwner.prefix(owner)
	}
	err := s.update(dryRun, maxRecentTimesAny, func(tx *bolt.Tx) error {
		names, more = names[:0], false
		// Oldest first: a reverse walk of the newest-first index, down to the cutoff.
		r := updatedRange(prefix, time.Time{}, cutoff)
		if r.empty {
			return nil
		}
		var ids []uint64
		var err error
		_, more, err = walk(newPostingCursor(tx, ix), prefix, r.lo, nil, nil, true, limit, 0,
			func(k []byte) (bool, error) {
				id, err := idOf(k)
				if err != nil {
					return false, err
				}
				ids = append(ids, id)
				return true, nil
			})
		if err != nil {
			return err
		}
		// Acted on after the walk: changing index entries under a walk can skip keys.
		for _, id := range ids {
			r, err := s.act(tx, id, "", Command{Action: lifecycle.Anonymize, Actor: actor}, now)
			if err != nil {
				return err // every candidate is closed, so a refusal is a bug
			}
			names = append(names, r.GetName())
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return names, more, nil
}

// Counts is the dashboard's view of the ledger (or of one owner's part of it).
type Counts struct {
	Total, Open, NeedsAttention uint64
	ByStatus                    map[requestsv1.Status]uint64
}

// Count reads the counters commit keeps; owner "" counts every request.
func (s *Store) Count(owner string) (Counts, error) {
	out := Counts{ByStatus: map[requestsv1.Status]uint64{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, st := range lifecycle.Statuses() {
			var n uint64
			if owner == "" {
				n = idxStatus.count(tx, statusValue(st))
			} else {
				n = cntOwnerStatus.count(tx, ownerStatusValue(owner, st))
			}
			out.ByStatus[st] = n
			if !lifecycle.Final(st) {
				out.Open += n
			}
		}
		if owner == "" {
			out.Total, out.NeedsAttention = idxAll.count(tx, ""), idxAttention.count(tx, "")
		} else {
			out.Total, out.NeedsAttention = idxOwner.count(tx, owner), cntOwnerAttention.count(tx, owner)
		}
		return nil
	})
	return out, err
}
