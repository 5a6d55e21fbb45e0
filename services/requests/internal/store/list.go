package store

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// ErrBadCursor is returned for a List cursor that no listing with this filter produced.
var ErrBadCursor = errors.New("the cursor does not belong to this listing")

// Filter selects requests for List; every set field must match (zero fields match all).
// Callers validate the values: codes, names and external ids without 0x00.
type Filter struct {
	Status     requestsv1.Status
	Owner      string
	Partner    string // partners/{code}
	Profile    string // integrationProfiles/{code}
	ExternalID string
	OpenOnly   bool
}

func (f Filter) match(r *requestsv1.BorrowingRequest) bool {
	ref := r.GetExternalReference()
	return (f.Status == requestsv1.Status_STATUS_UNSPECIFIED || r.GetStatus() == f.Status) &&
		(f.Owner == "" || r.GetOwner() == f.Owner) &&
		(f.Partner == "" || r.GetPartner() == f.Partner) &&
		(f.Profile == "" || ref.GetProfile() == f.Profile) &&
		(f.ExternalID == "" || ref.GetExternalId() == f.ExternalID) &&
		(!f.OpenOnly || IsOpen(r.GetStatus()))
}

// List returns up to limit requests matching f, most recently updated first, after the
// cursor `after` (nil: from the start), and the cursor of the next page (nil when nothing
// follows). It examines at most maxScan index entries (no bound when maxScan <= 0), so a
// page may be short, even empty, with a cursor that resumes after the last entry
// examined: a rare filter combination costs several calls, never one unbounded walk.
//
// The plan: profile and external id together are one identity, looked up directly. Any
// other filter walks one index: the external id's (nearly unique) when set, else the one
// of status, owner, partner, profile and open-only that holds the fewest entries, else
// all requests; the remaining filters are checked on each entry. A cursor names its
// index, so a listing keeps its index even when the counts change between pages.
func (s *Store) List(f Filter, after []byte, limit, maxScan int) ([]*requestsv1.BorrowingRequest, []byte, error) {
	var out []*requestsv1.BorrowingRequest
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if f.Status != requestsv1.Status_STATUS_UNSPECIFIED && f.OpenOnly && !IsOpen(f.Status) {
			return nil // a closed status is never open
		}
		if f.Profile != "" && f.ExternalID != "" {
			if after != nil {
				return ErrBadCursor // this plan never issues a cursor
			}
			r, err := lookup(tx, f.Profile, f.ExternalID)
			if r != nil && f.match(r) {
				out = append(out, r)
			}
			return err
		}
		c, start, err := plan(tx, f, after)
		if err != nil {
			return err
		}
		last, more, err := boltdb.PageBounded(tx.Bucket(c.ix.bucket).Cursor(), c.ix.prefix(c.value), start, limit, maxScan,
			func(k, _ []byte) (bool, error) {
				id, err := idOf(k)
				if err != nil {
					return false, err
				}
				r, err := indexed(tx, id)
				if err != nil || !f.match(r) {
					return false, err
				}
				out = append(out, r)
				return true, nil
			})
		if more {
			next = append([]byte{c.ix.id}, last...)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// lookup returns the request with an identity, or nil.
func lookup(tx *bolt.Tx, profile, externalID string) (*requestsv1.BorrowingRequest, error) {
	idKey := tx.Bucket(bucketByExternal).Get(externalKey(profile, externalID))
	if idKey == nil {
		return nil, nil
	}
	id, err := idOf(idKey)
	if err != nil {
		return nil, err
	}
	return indexed(tx, id)
}

// candidate is an index that holds every request a filter can match, and the value to walk.
type candidate struct {
	ix    *index
	value string
}

// candidates lists the indexes List may walk for f, most useful first.
func candidates(f Filter) []candidate {
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
	best := cs[0]
	if len(cs) > 1 {
		fewest := best.ix.count(tx, best.value)
		for _, c := range cs[1:] {
			if n := c.ix.count(tx, c.value); n < fewest {
				best, fewest = c, n
			}
		}
	}
	return best, nil, nil
}
