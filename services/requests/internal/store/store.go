// Package store keeps the ledger of borrowing requests in one bbolt file: the records,
// their (profile, external id) identity, and the secondary indexes List walks, newest
// update first. Every record change goes through one function (write), which moves the
// record's identity, index entries and index counts in the same transaction, so a record
// and its indexes never disagree.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
)

// Collection IDs: the first segment of the resource names the ledger stores or refers to.
const (
	CollectionID       = "borrowingRequests"
	ProfilesCollection = "integrationProfiles"
	PartnersCollection = "partners"
)

// The buckets and schema version, declared once. Keys and values:
//
//	requests      id (8-byte big-endian, from NextSequence) → BorrowingRequest
//	by_external   profile name + 0x00 + external id → id: the unique identity
//	idx_all       inverted update time (8 bytes) + id → empty
//	idx_open      the same, for open requests only
//	idx_status    status number (decimal) + 0x00 + inverted update time + id → empty
//	idx_owner     owner + 0x00 + …, idx_partner, idx_profile and idx_external_id alike
//	index_counts  index bucket name + 0x00 + value → entries (8-byte big-endian)
//
// The inverted time (MaxUint64 − Unix nanoseconds) makes a forward walk newest first, and
// the id after it breaks ties, so every index key is unique. Indexed values never contain
// 0x00 (codes, names and external ids are validated), so one value's prefix never
// matches another's. index_counts lets List pick the index with the fewest entries.
var (
	bucketRequests   = []byte("requests")
	bucketByExternal = []byte("by_external")
	bucketCounts     = []byte("index_counts")

	idxAll = &index{id: 1, bucket: []byte("idx_all"), counted: true,
		value: func(*requestsv1.BorrowingRequest) (string, bool) { return "", true }}
	idxOpen = &index{id: 2, bucket: []byte("idx_open"), counted: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) { return "", IsOpen(r.GetStatus()) }}
	idxStatus = &index{id: 3, bucket: []byte("idx_status"), keyed: true, counted: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) { return statusValue(r.GetStatus()), true }}
	idxOwner = &index{id: 4, bucket: []byte("idx_owner"), keyed: true, counted: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) { return r.GetOwner(), true }}
	idxPartner = &index{id: 5, bucket: []byte("idx_partner"), keyed: true, counted: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) { return r.GetPartner(), true }}
	idxProfile = &index{id: 6, bucket: []byte("idx_profile"), keyed: true, counted: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) {
			return r.GetExternalReference().GetProfile(), true
		}}
	// External ids are nearly unique, so counting them would only duplicate the index.
	idxExternalID = &index{id: 7, bucket: []byte("idx_external_id"), keyed: true,
		value: func(r *requestsv1.BorrowingRequest) (string, bool) {
			return r.GetExternalReference().GetExternalId(), true
		}}

	indexes = []*index{idxAll, idxOpen, idxStatus, idxOwner, idxPartner, idxProfile, idxExternalID}

	schema = boltdb.Schema{Version: 1, Buckets: [][]byte{
		bucketRequests, bucketByExternal, bucketCounts,
		idxAll.bucket, idxOpen.bucket, idxStatus.bucket, idxOwner.bucket,
		idxPartner.bucket, idxProfile.bucket, idxExternalID.bucket,
	}}
)

// ErrNotFound is returned when no request has the requested ID.
var ErrNotFound = errors.New("borrowing request not found")

// Store is the ledger's bbolt file.
type Store struct {
	db *bolt.DB
	// afterItem, when set (tests only), runs inside the batch transaction after each
	// item; an error aborts the batch, which proves a batch is all or nothing.
	afterItem func(item int) error
}

// Open opens (creating if needed) the store at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Name is the resource name of the request with id.
func Name(id uint64) string { return resource.Name(CollectionID, strconv.FormatUint(id, 10)) }

// ParseID returns the numeric ID in the ID segment of a name. Only the canonical form (a
// positive decimal without leading zeros) is accepted, so one request has one name.
func ParseID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == id
}

// IsOpen reports whether a request in status s may still change: everything but the
// closed statuses (completed, rejected, cancelled, expired).
func IsOpen(s requestsv1.Status) bool {
	switch s {
	case requestsv1.Status_STATUS_COMPLETED, requestsv1.Status_STATUS_REJECTED_BY_PARTNER,
		requestsv1.Status_STATUS_CANCELLED_BY_STAFF, requestsv1.Status_STATUS_CANCELLED_BY_PATRON,
		requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, requestsv1.Status_STATUS_EXPIRED:
		return false
	}
	return true
}

// Get returns the request with id, or ErrNotFound.
func (s *Store) Get(id uint64) (*requestsv1.BorrowingRequest, error) {
	var out *requestsv1.BorrowingRequest
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = load(tx, id)
		return err
	})
	return out, err
}

// load reads the request with id; proto.Unmarshal copies, so the result outlives tx.
func load(tx *bolt.Tx, id uint64) (*requestsv1.BorrowingRequest, error) {
	v := tx.Bucket(bucketRequests).Get(boltdb.Uint64Key(id))
	if v == nil {
		return nil, ErrNotFound
	}
	r := &requestsv1.BorrowingRequest{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode borrowing request %d: %w", id, err)
	}
	return r, nil
}

// indexed reads the request an index entry points at. A dangling entry is a bug, not a
// missing request, so it is an internal error.
func indexed(tx *bolt.Tx, id uint64) (*requestsv1.BorrowingRequest, error) {
	r, err := load(tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("an index entry points at no borrowing request (id %d)", id)
	}
	return r, err
}

// idOf decodes an 8-byte id stored as a value or at the end of an index key. A shorter
// one means a damaged file: an error, never a panic.
func idOf(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("corrupt ledger key or id %x", b)
	}
	return binary.BigEndian.Uint64(b[len(b)-8:]), nil
}

// externalKey is the by_external key of an identity. Profile names hold no 0x00, so the
// key splits unambiguously.
func externalKey(profile, externalID string) []byte {
	k := make([]byte, 0, len(profile)+1+len(externalID))
	return append(append(append(k, profile...), 0), externalID...)
}

// write is the one place records change: it stores next under id, replacing old (nil on
// create), and moves the identity, every index entry and every count with it.
func write(tx *bolt.Tx, id uint64, old, next *requestsv1.BorrowingRequest) error {
	for _, ix := range indexes {
		if err := ix.move(tx, id, old, next); err != nil {
			return err
		}
	}
	key := boltdb.Uint64Key(id)
	if old == nil {
		ref := next.GetExternalReference()
		if err := tx.Bucket(bucketByExternal).Put(externalKey(ref.GetProfile(), ref.GetExternalId()), key); err != nil {
			return err
		}
	}
	v, err := proto.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode borrowing request %d: %w", id, err)
	}
	return tx.Bucket(bucketRequests).Put(key, v)
}

// index is one secondary index: an entry per request it holds, keyed (for keyed indexes)
// by value + 0x00, then the inverted update time and the id, so a prefix walk lists one
// value's requests newest update first.
type index struct {
	id      byte // names the index in List cursors; never reuse a retired id
	bucket  []byte
	keyed   bool // entries start with value + 0x00
	counted bool // index_counts holds its entries per value, for the List planner
	// value returns the request's indexed value, and false when the index leaves it out.
	value func(*requestsv1.BorrowingRequest) (string, bool)
}

// prefix is the key prefix of value's entries (nil for unkeyed indexes: all entries).
func (ix *index) prefix(value string) []byte {
	if !ix.keyed {
		return nil
	}
	return append([]byte(value), 0)
}

func (ix *index) key(value string, r *requestsv1.BorrowingRequest, id uint64) []byte {
	return append(ix.prefix(value), boltdb.ReverseTimeKey(r.GetUpdateTime().AsTime(), boltdb.Uint64Key(id))...)
}

// move replaces old's entry (if any) by next's. The old entry is deleted first, so an
// unchanged key survives.
func (ix *index) move(tx *bolt.Tx, id uint64, old, next *requestsv1.BorrowingRequest) error {
	b := tx.Bucket(ix.bucket)
	var oldValue string
	var wasIn bool
	if old != nil {
		if oldValue, wasIn = ix.value(old); wasIn {
			if err := b.Delete(ix.key(oldValue, old, id)); err != nil {
				return err
			}
		}
	}
	newValue, isIn := ix.value(next)
	if isIn {
		if err := b.Put(ix.key(newValue, next, id), []byte{}); err != nil {
			return err
		}
	}
	if !ix.counted || (wasIn == isIn && oldValue == newValue) {
		return nil
	}
	if wasIn {
		if err := ix.addCount(tx, oldValue, -1); err != nil {
			return err
		}
	}
	if isIn {
		return ix.addCount(tx, newValue, 1)
	}
	return nil
}

func (ix *index) countKey(value string) []byte {
	return append(append(append([]byte(nil), ix.bucket...), 0), value...)
}

// count is the number of entries under value.
func (ix *index) count(tx *bolt.Tx, value string) uint64 {
	v := tx.Bucket(bucketCounts).Get(ix.countKey(value))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// addCount adds delta to value's count, dropping counts that reach zero so values no
// request has any more leave no trace. Counts only steer the planner: one that were
// wrong would cost speed, never correctness, so it is clamped rather than failing a write.
func (ix *index) addCount(tx *bolt.Tx, value string, delta int) error {
	n := ix.count(tx, value)
	switch {
	case delta < 0 && n <= uint64(-delta):
		return tx.Bucket(bucketCounts).Delete(ix.countKey(value))
	case delta < 0:
		n -= uint64(-delta)
	default:
		n += uint64(delta)
	}
	return tx.Bucket(bucketCounts).Put(ix.countKey(value), boltdb.Uint64Key(n))
}

func statusValue(s requestsv1.Status) string { return strconv.Itoa(int(s)) }
