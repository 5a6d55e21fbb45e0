package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/reflect/protoreflect"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// Order is the order of a listing.
type Order int

// The orders List supports (AIP-132 order_by values in the API).
const (
	UpdatedNewestFirst Order = iota // update_time desc: the default
	UpdatedOldestFirst              // update_time
	CreatedNewestFirst              // create_time desc
	CreatedOldestFirst              // create_time
)

func (o Order) byCreate() bool { return o == CreatedNewestFirst || o == CreatedOldestFirst }
func (o Order) reverse() bool  { return o == UpdatedOldestFirst || o == CreatedOldestFirst }

// Filter selects requests for List; every set field must match (zero fields match all).
// Callers validate the values: codes, names and external ids without 0x00, and Words
// from QueryWords.
type Filter struct {
	Status         requestsv1.Status
	Owner          string
	Partner        string // partners/{code}
	Profile        string // integrationProfiles/{code}
	ExternalID     string
	OpenOnly       bool
	NeedsAttention bool
	Words          []string // every one must be a search word of the request
	// Time ranges: at or after *After, before *Before; zero times leave a side open.
	CreatedAfter, CreatedBefore time.Time
	UpdatedAfter, UpdatedBefore time.Time
	Order                       Order
	// Read names the top-level fields of BorrowingRequest the caller reads of each
	// request listed (a read mask's); nil: all. List then decodes only those and the
	// ones the filter needs, and leaves the others unset.
	Read []string
}

func (f Filter) match(r *requestsv1.BorrowingRequest) bool {
	ref := r.GetExternalReference()
	if !((f.Status == requestsv1.Status_STATUS_UNSPECIFIED || r.GetStatus() == f.Status) &&
		(f.Owner == "" || r.GetOwner() == f.Owner) &&
		(f.Partner == "" || r.GetPartner() == f.Partner) &&
		(f.Profile == "" || ref.GetProfile() == f.Profile) &&
		(f.ExternalID == "" || ref.GetExternalId() == f.ExternalID) &&
		(!f.OpenOnly || !lifecycle.Final(r.GetStatus())) &&
		(!f.NeedsAttention || r.GetNeedsAttention()) &&
		inRange(r.GetCreateTime().AsTime(), f.CreatedAfter, f.CreatedBefore) &&
		inRange(r.GetUpdateTime().AsTime(), f.UpdatedAfter, f.UpdatedBefore)) {
		return false
	}
	if len(f.Words) > 0 {
		words := indexWords(r) // sorted
		for _, w := range f.Words {
			if _, ok := slices.BinarySearch(words, w); !ok {
				return false
			}
		}
	}
	return true
}

// fields are the top-level field numbers List decodes for f (nil: all): what f.Read
// names, the name, and what match reads.
func (f Filter) fields() *fieldSet {
	if f.Read == nil {
		return nil
	}
	set := matchFields
	if len(f.Words) > 0 {
		set.add(fieldBibliographic)
	}
	for _, name := range f.Read {
		if fd := requestFields.ByName(protoreflect.Name(name)); fd != nil {
			set.add(fd.Number())
		}
	}
	return &set
}

func inRange(t, after, before time.Time) bool {
	return (after.IsZero() || !t.Before(after)) && (before.IsZero() || t.Before(before))
}

// List returns up to limit requests matching f, in f's order, after the cursor `after`
// (nil: from the start), and the cursor of the next page (nil when nothing follows). It
// examines at most maxScan index entries (no bound when maxScan <= 0), so a page may be
// short, even empty, with a cursor that resumes after the last entry examined: a rare
// filter combination costs several calls, never one unbounded walk.
//
// The plan: profile and external id together are one identity, looked up directly.
// Ordered by update time, any other filter walks one index: the external id's (nearly
// unique) when set, else the one of status, owner, partner, profile, open-only,
// needs-attention and each search word that holds the fewest entries, else all requests;
// an update-time range bounds the walk; the remaining filters are checked on each entry.
// Ordered by create time, the walk is the create-time index, bounded by a create-time
// range. A cursor names its index, so a listing keeps its index even when the counts
// change between pages.
func (s *Store) List(f Filter, after []byte, limit, maxScan int) ([]*requestsv1.BorrowingRequest, []byte, error) {
	var out []*requestsv1.BorrowingRequest
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, next, err = list(tx, f, after, limit, maxScan)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// list is List inside a transaction.
func list(tx *bolt.Tx, f Filter, after []byte, limit, maxScan int) ([]*requestsv1.BorrowingRequest, []byte, error) {
	var out []*requestsv1.BorrowingRequest
	if f.Status != requestsv1.Status_STATUS_UNSPECIFIED && f.OpenOnly && lifecycle.Final(f.Status) {
		return nil, nil, nil // a closed status is never open
	}
	if f.Profile != "" && f.ExternalID != "" {
		if after != nil {
			return nil, nil, ErrBadCursor // this plan never issues a cursor
		}
		r, err := lookup(tx, f.Profile, f.ExternalID)
		if r != nil && f.match(r) {
			out = append(out, r)
		}
		return out, nil, err
	}
	c, start, err := plan(tx, f, after)
	if err != nil {
		return nil, nil, err
	}
	prefix := c.ix.prefix(c.value)
	var r keyRange
	if f.Order.byCreate() {
		r = updatedRange(prefix, f.CreatedAfter, f.CreatedBefore)
	} else {
		r = updatedRange(prefix, f.UpdatedAfter, f.UpdatedBefore)
	}
	if r.empty {
		return nil, nil, nil
	}
	cur, err := c.cursor(tx)
	if err != nil {
		return nil, nil, err
	}
	read := f.fields()
	last, more, err := walk(cur, prefix, r.lo, r.hi, start, f.Order.reverse(), limit, maxScan,
		func(k []byte) (bool, error) {
			id, err := idOf(k)
			if err != nil {
				return false, err
			}
			r, err := indexedFields(tx, id, read)
			if err != nil || !f.match(r) {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
	if err != nil {
		return nil, nil, err
	}
	var next []byte
	if more {
		next = append([]byte{c.ix.id}, last...)
	}
	return out, next, nil
}

// lookup returns the request with an identity, or nil.
func lookup(tx *bolt.Tx, profile, externalID string) (*requestsv1.BorrowingRequest, error) {
	_, r, err := lookupKey(tx, tx.Bucket(bucketByExternal), externalKey(profile, externalID))
	return r, err
}

// lookupKey returns the request with the by_external key key and its id, or nil.
// byExternal is tx's by_external bucket, which a loop opens once.
func lookupKey(tx *bolt.Tx, byExternal *bolt.Bucket, key []byte) (uint64, *requestsv1.BorrowingRequest, error) {
	idKey := byExternal.Get(key)
	if idKey == nil {
		return 0, nil, nil
	}
	id, err := idOf(idKey)
	if err != nil {
		return 0, nil, err
	}
	r, err := indexed(tx, id)
	return id, r, err
}

// candidate is an index that holds every request a filter can match, and the value to walk.
type candidate struct {
	ix    *index
	value string
}

// cursor walks c's entries: its postings, or for the external id the entries built from
// by_external.
func (c candidate) cursor(tx *bolt.Tx) (entryCursor, error) {
	switch c.ix {
	case idxExternalID:
		return externalIDEntries(tx, c.value)
	case idxWord:
		return wordCursor(tx, c.value), nil
	}
	return newPostingCursor(tx, c.ix), nil
}

// externalIDEntries are the entries an index of external ids would hold for value: one
// per profile that has a request with that external id (found in by_external under each
// profile idx_profile counts), keyed value + 0x00 + inverted update time + id.
func externalIDEntries(tx *bolt.Tx, value string) (entryCursor, error) {
	byExternal := tx.Bucket(bucketByExternal)
	prefix := idxProfile.countKey("")
	var keys [][]byte
	c := tx.Bucket(bucketCounts).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id, r, err := lookupKey(tx, byExternal, externalKey(string(k[len(prefix):]), value))
		if err != nil {
			return nil, err
		}
		if r != nil {
			keys = append(keys, idxExternalID.key(value, r, id))
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return &sliceCursor{keys: keys}, nil
}

// candidates lists the indexes List may walk for f, most useful first.
func candidates(f Filter) []candidate {
	if f.Order.byCreate() {
		return []candidate{{idxCreated, ""}}
	}
	if f.ExternalID != "" {
		return []candidate{{idxExternalID, f.ExternalID}}
	}
	var cs []candidate
	if f.Status != requestsv1.Status_STATUS_UNSPECIFIED {
		cs = append(cs, candidate{idxStatus, statusValue(f.Status)})
	}
	if f.Owner != "" {
		cs = append(cs, candidate{idxOwner, f.Owner})
	}
	if f.Partner != "" {
		cs = append(cs, candidate{idxPartner, f.Partner})
	}
	if f.Profile != "" {
		cs = append(cs, candidate{idxProfile, f.Profile})
	}
	if f.OpenOnly {
		cs = append(cs, candidate{idxOpen, ""})
	}
	if f.NeedsAttention {
		cs = append(cs, candidate{idxAttention, ""})
	}
	for _, w := range f.Words {
		cs = append(cs, candidate{idxWord, w})
	}
	if len(cs) == 0 {
		cs = append(cs, candidate{idxAll, ""})
	}
	return cs
}

// plan picks the index to walk and the key to start after: the cursor's index when
// resuming, else the candidate with the fewest entries.
func plan(tx *bolt.Tx, f Filter, after []byte) (candidate, []byte, error) {
	cs := candidates(f)
	if after != nil {
		for _, c := range cs {
			// A cursor is an index id and a full key inside the walked range.
			prefix := c.ix.prefix(c.value)
			if len(after) == 1+len(prefix)+16 && after[0] == c.ix.id && bytes.HasPrefix(after[1:], prefix) {
				return c, after[1:], nil
			}
		}
		return candidate{}, nil, ErrBadCursor
	}
	if len(cs) == 1 {
		return cs[0], nil, nil
	}
	// Counted indexes first: their counts bound how far an uncounted word's postings
	// need counting.
	var best candidate
	fewest := uint64(math.MaxUint64)
	for _, c := range cs {
		if c.ix.counted {
			if n := c.ix.count(tx, c.value); n < fewest {
				best, fewest = c, n
			}
		}
	}
	for _, c := range cs {
		if !c.ix.counted {
			if n := c.ix.entriesUpTo(tx, c.value, fewest); n < fewest {
				best, fewest = c, n
			}
		}
	}
	return best, nil, nil
}

// entriesUpTo counts value's entries in ix's postings, stopping at limit: what List's
// plan needs of an index it does not count.
func (ix *index) entriesUpTo(tx *bolt.Tx, value string, limit uint64) uint64 {
	prefix := ix.prefix(value)
	var n uint64
	var c kvCursor = tx.Bucket(ix.bucket).Cursor()
	if ix == idxWord {
		c = wordCursor(tx, value).c
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < limit; k, v = c.Next() {
		n += postingLen(v)
	}
	return min(n, limit)
}

// keyRange bounds a walk of index keys (prefix + inverted time + id), both ends inclusive;
// nil leaves an end open. empty: no key can be in the range.
type keyRange struct {
	lo, hi []byte
	empty  bool
}

// updatedRange is the key range of the entries under prefix whose time t satisfies
// after <= t < before (the time is the one the index orders by; zero times leave a side
// open). Newest first, so `before` bounds the low keys and `after` the high ones.
func updatedRange(prefix []byte, after, before time.Time) keyRange {
	var r keyRange
	if !before.IsZero() {
		last := nanos(before) - 1 // the latest time still inside
		if last < 0 {
			return keyRange{empty: true}
		}
		r.lo = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), math.MaxUint64-uint64(last))
		r.lo = append(r.lo, make([]byte, 8)...)
	}
	if !after.IsZero() {
		first := max(nanos(after), 0)
		r.hi = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), math.MaxUint64-uint64(first))
		r.hi = append(r.hi, bytes.Repeat([]byte{0xff}, 8)...)
	}
	if r.lo != nil && r.hi != nil && bytes.Compare(r.lo, r.hi) > 0 {
		return keyRange{empty: true}
	}
	return r
}

// nanos is t in Unix nanoseconds, clamped to what int64 holds (years 1678 to 2262).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// walk visits the keys of c under prefix within [lo, hi] (nil: open), in key order or,
// with reverse, backwards, starting after the key `after` (nil: at the range's start), and
// stops once visit has accepted limit keys or, when maxScan > 0, once it has examined
// maxScan keys. It returns the key to resume after (the last accepted one; when stopped by
// maxScan, the last examined) and whether keys of the range follow it — what a
// next_page_token needs, like boltdb.PageBounded, which only walks forward.
func walk(c entryCursor, prefix, lo, hi, after []byte, reverse bool, limit, maxScan int,
	visit func(k []byte) (bool, error)) (last []byte, more bool, err error) {
	if lo == nil {
		lo = prefix
	}
	if hi == nil {
		hi = append(append([]byte(nil), prefix...), bytes.Repeat([]byte{0xff}, 16)...)
	}
	var k []byte
	var step func() []byte
	if reverse {
		step = c.Prev
		bound, inclusive := hi, true
		if after != nil && bytes.Compare(after, hi) <= 0 {
			bound, inclusive = after, false
		}
		k = seekLast(c, bound, inclusive)
	} else {
		step = c.Next
		switch {
		case after == nil || bytes.Compare(after, lo) < 0:
			k = c.Seek(lo)
		default:
			k = c.Seek(after)
			if bytes.Equal(k, after) {
				k = c.Next()
			}
		}
	}
	inside := func(k []byte) bool {
		return k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) <= 0
	}
	n, scanned := 0, 0
	var examined []byte
	for ; inside(k); k = step() {
		if n == limit {
			return last, true, c.Err()
		}
		if maxScan > 0 && scanned == maxScan {
			return examined, true, c.Err()
		}
		ok, err := visit(k)
		if err != nil {
			return nil, false, err
		}
		scanned++
		examined = boltdb.Copy(k)
		if ok {
			n++
			last = examined
		}
	}
	if err := c.Err(); err != nil {
		return nil, false, err
	}
	return last, false, nil
}

// seekLast positions c at the last key <= bound (< bound unless inclusive) and returns it.
func seekLast(c entryCursor, bound []byte, inclusive bool) []byte {
	k := c.Seek(bound)
	switch {
	case k == nil:
		k = c.Last()
	case inclusive && bytes.Equal(k, bound):
	default:
		k = c.Prev()
	}
	return k
}

// idOfName is the id in a name this store issued.
func idOfName(name string) (uint64, bool) {
	id, ok := strings.CutPrefix(name, CollectionID+"/")
	if !ok {
		return 0, false
	}
	return ParseID(id)
}
