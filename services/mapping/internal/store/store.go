// Package store keeps the mapping service's resources in one bbolt file: local libraries,
// library mappings and partners, with the secondary indexes the API needs. Every index
// entry is written in the same transaction as its record, through one write path
// (Collection.write), so a record and its index entries never disagree.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
)

// The buckets and schema version, declared once. Keys and values:
//
//	libraries            code → Library
//	mappings             id (8-byte big-endian, from NextSequence) → LibraryMapping
//	mappings_by_code     system (1 byte) + external code → id: the unique (system, code) index
//	mappings_by_library  local library code + 0x00 + system (1 byte) + external code → id
//	partners             code → Partner
//	partners_by_fold     fold(code) → code: case-insensitive uniqueness and resolution
//	create_requests      collection ID + 0x00 + request_id → record key (AIP-155)
//	create_requests_by_record  collection ID + 0x00 + record key → request_id
//	audit_events         reverse event id → AuditEvent (platform/audit: newest first)
//	audit_events_by_resource  resource name + 0x00 + reverse event id → empty
//
// mappings_by_library ends in (system, external code) rather than the id so that a list
// filtered by library keeps the documented "system, then external code" order; 0x00 cannot
// occur in a library code, so the prefix of one library never matches another's.
//
// create_requests remembers which record each idempotent create made, so a retry gets
// that record back. create_requests_by_record is its reverse, so deleting a record also
// forgets the request that created it: a retry after the delete is a new request, and a
// code deleted and then taken again by another create is never mistaken for the first
// request's record. Collection IDs contain no 0x00, so the key prefixes are unambiguous.
//
// Every create, update and delete appends its audit event in its own transaction (see
// Collection.write's callers), so the trail holds exactly the changes that committed.
//
// The request and audit buckets came after schema version 1 was written but before any
// release shipped, so the version stays 1: boltdb.Open creates missing buckets in existing
// files, and empty buckets are exactly right for records created before them (changes
// made before the trail existed have no events, which is the truth). Once a release has
// shipped, a new bucket needs a version bump and a Schema.Migrate instead.
var (
	bucketLibraries         = []byte("libraries")
	bucketMappings          = []byte("mappings")
	bucketMappingsByCode    = []byte("mappings_by_code")
	bucketMappingsByLibrary = []byte("mappings_by_library")
	bucketPartners          = []byte("partners")
	bucketPartnersByFold    = []byte("partners_by_fold")
	bucketCreateRequests    = []byte("create_requests")
	bucketRequestsByRecord  = []byte("create_requests_by_record")
	bucketAuditEvents       = []byte("audit_events")
	bucketAuditByResource   = []byte("audit_events_by_resource")

	createRequests = boltdb.CreateRequests{ByRequest: bucketCreateRequests, ByRecord: bucketRequestsByRecord}
	trail          = audit.Trail{
		Service:     "mapping",
		Collections: []string{librariesID, mappingsID, partnersID},
		Events:      bucketAuditEvents,
		ByResource:  bucketAuditByResource,
	}

	schema = boltdb.Schema{Service: "mapping", Version: 1, Buckets: [][]byte{
		bucketLibraries, bucketMappings, bucketMappingsByCode, bucketMappingsByLibrary,
		bucketPartners, bucketPartnersByFold, bucketCreateRequests, bucketRequestsByRecord,
		bucketAuditEvents, bucketAuditByResource,
	}}
)

// Collection IDs: the first segment of resource names, as the API declares them.
var (
	librariesID = resource.Collection((*mappingv1.Library)(nil))
	mappingsID  = resource.Collection((*mappingv1.LibraryMapping)(nil))
	partnersID  = resource.Collection((*mappingv1.Partner)(nil))
)

// ErrNotFound is returned when no record has the requested ID.
var ErrNotFound = errors.New("not found")

// ConflictError is returned when a new record would take an identity another record holds.
type ConflictError struct {
	Existing string // resource name of the record holding the identity
}

func (e *ConflictError) Error() string { return "identity held by " + e.Existing }

// InUseError is returned when deleting a library that mappings still point at.
type InUseError struct {
	Mappings int
}

func (e *InUseError) Error() string { return fmt.Sprintf("used by %d library mappings", e.Mappings) }

// MissingLibraryError is returned when a mapping would point at a library that does not exist.
type MissingLibraryError struct {
	Library string // resource name of the missing library
}

func (e *MissingLibraryError) Error() string { return e.Library + " does not exist" }

// RequestReusedError is returned when a create repeats a request ID that created a
// different resource (another identity) which still exists.
type RequestReusedError struct {
	Created string // resource name of the record the request ID created
}

func (e *RequestReusedError) Error() string { return "request ID already created " + e.Created }

// Message is a generated resource message, used through its pointer type.
type Message[T any] interface {
	*T
	proto.Message
	GetName() string
}

// Store is the mapping service's bbolt file.
type Store struct {
	db  *bolt.DB
	now func() time.Time // the clock for create/update times; tests may replace it

	Libraries *Collection[mappingv1.Library, *mappingv1.Library]
	Mappings  *Collection[mappingv1.LibraryMapping, *mappingv1.LibraryMapping]
	Partners  *Collection[mappingv1.Partner, *mappingv1.Partner]
}

// Open opens (creating if needed) the store at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, now: time.Now}
	s.Libraries = &Collection[mappingv1.Library, *mappingv1.Library]{
		s: s, CollectionID: librariesID, bucket: bucketLibraries, key: codeKey,
		newID:    func(_ *bolt.Bucket, l *mappingv1.Library) (string, error) { return l.GetCode(), nil },
		identity: func(l *mappingv1.Library) []byte { return []byte(l.GetCode()) },
		sync:     syncLibrary,
	}
	s.Mappings = &Collection[mappingv1.LibraryMapping, *mappingv1.LibraryMapping]{
		s: s, CollectionID: mappingsID, bucket: bucketMappings, key: seqKey,
		newID: func(b *bolt.Bucket, _ *mappingv1.LibraryMapping) (string, error) {
			n, err := b.NextSequence()
			return strconv.FormatUint(n, 10), err
		},
		identity: func(m *mappingv1.LibraryMapping) []byte { return mappingCodeKey(m.GetSystem(), m.GetExternalCode()) },
		sync:     syncMapping,
	}
	s.Partners = &Collection[mappingv1.Partner, *mappingv1.Partner]{
		s: s, CollectionID: partnersID, bucket: bucketPartners, key: codeKey,
		newID: func(_ *bolt.Bucket, p *mappingv1.Partner) (string, error) { return p.GetCode(), nil },
		// Exact, not folded: a retry sends the same code, so "abc" after "ABC" is another
		// request.
		identity: func(p *mappingv1.Partner) []byte { return []byte(p.GetCode()) },
		sync:     syncPartner,
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// codeKey is the key of records whose ID is a caller-chosen code.
func codeKey(id string) ([]byte, bool) { return []byte(id), id != "" }

// seqKey is the key of records with a server-assigned decimal ID: 8 bytes big-endian, so
// byte order is creation order.
func seqKey(id string) ([]byte, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return boltdb.Uint64Key(n), err == nil
}

// seqName is the resource name of the mapping stored under key.
func seqName(key []byte) string {
	return resource.Name(mappingsID, strconv.FormatUint(binary.BigEndian.Uint64(key), 10))
}

// Collection is one bucket of resources keyed by ID. All writes go through write, which
// runs the collection's sync hook so indexes and references change with the record.
type Collection[T any, P Message[T]] struct {
	s *Store
	// CollectionID is the first segment of the resources' names, e.g. "libraries".
	CollectionID string
	bucket       []byte
	key          func(id string) ([]byte, bool) // false: the ID can name no record
	// newID picks the ID of a record being created, inside the creating transaction.
	newID func(records *bolt.Bucket, m P) (string, error)
	// identity is what makes a create ask for one resource rather than another (the code,
	// or a mapping's system and external code): a repeated request ID must ask for the
	// same identity as the create that first used it.
	identity func(m P) []byte
	// sync runs in the write transaction before the record changes; old is nil on create,
	// next is nil on delete. It maintains secondary indexes and refuses writes that would
	// break a uniqueness rule or a reference.
	sync func(tx *bolt.Tx, key []byte, old, next P) error
}

// Name is the resource name of the record with id.
func (c *Collection[T, P]) Name(id string) string { return resource.Name(c.CollectionID, id) }

// Get returns the record with id, or ErrNotFound.
func (c *Collection[T, P]) Get(id string) (P, error) {
	var out P
	err := c.s.db.View(func(tx *bolt.Tx) error {
		var err error
		_, out, err = c.load(tx, id)
		return err
	})
	return out, err
}

// Create stores m as a new record, setting its name, create and update times and etag, and
// records call's audit event with the fields m sets. It returns a *ConflictError when the
// ID or another unique key is taken.
//
// A non-empty call.RequestID makes the create idempotent (AIP-155): if a create with the
// same request ID made a record that still exists, Create writes nothing (no event
// either: nothing changed) and returns that record as stored now, or a
// *RequestReusedError when m asks for another identity. The request and the event are
// written in the same transaction as the record, so a refused create leaves no trace.
func (c *Collection[T, P]) Create(call audit.Call, m P) (P, error) {
	requestID := call.RequestID
	var out P
	err := c.s.db.Update(func(tx *bolt.Tx) error {
		if requestID != "" {
			if key := createRequests.Lookup(tx, c.CollectionID, requestID); key != nil {
				prev, err := c.indexed(tx, key)
				if err != nil {
					return err
				}
				if !bytes.Equal(c.identity(prev), c.identity(m)) {
					return &RequestReusedError{Created: prev.GetName()}
				}
				out = prev
				return nil
			}
		}
		records := tx.Bucket(c.bucket)
		id, err := c.newID(records, m)
		if err != nil {
			return err
		}
		key, ok := c.key(id)
		if !ok {
			return fmt.Errorf("cannot store a %s record with ID %q", c.CollectionID, id)
		}
		if records.Get(key) != nil {
			return &ConflictError{Existing: c.Name(id)}
		}
		resource.Stamp(m, c.Name(id), c.s.now(), true)
		if err := c.write(tx, key, nil, m); err != nil {
			return err
		}
		if requestID != "" {
			if err := createRequests.Remember(tx, c.CollectionID, requestID, key); err != nil {
				return err
			}
		}
		if err := trail.Append(tx, call, c.s.now(), audit.Create, m.GetName(), audit.ChangedFields(nil, m, nil)); err != nil {
			return err
		}
		out = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update lets change modify a copy of the record with id, then stores it with a new update
// time and etag, and records call's audit event with the fields that differ. An error
// from change aborts the update and is returned unchanged.
func (c *Collection[T, P]) Update(call audit.Call, id string, change func(P) error) (P, error) {
	var out P
	err := c.s.db.Update(func(tx *bolt.Tx) error {
		key, old, err := c.load(tx, id)
		if err != nil {
			return err
		}
		next := proto.CloneOf(old)
		if err := change(next); err != nil {
			return err
		}
		now := c.s.now()
		resource.Stamp(next, c.Name(id), now, false)
		if err := c.write(tx, key, old, next); err != nil {
			return err
		}
		if err := trail.Append(tx, call, now, audit.Update, next.GetName(), audit.ChangedFields(old, next, nil)); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// Delete removes the record with id once check accepts it and records call's audit event;
// an error from check is returned unchanged.
func (c *Collection[T, P]) Delete(call audit.Call, id string, check func(P) error) error {
	return c.s.db.Update(func(tx *bolt.Tx) error {
		key, old, err := c.load(tx, id)
		if err != nil {
			return err
		}
		if err := check(old); err != nil {
			return err
		}
		if err := c.write(tx, key, old, nil); err != nil {
			return err
		}
		return trail.Append(tx, call, c.s.now(), audit.Delete, c.Name(id), nil)
	})
}

// List returns up to limit records after key `after` (nil: from the start) in ID order,
// skipping those match rejects (nil accepts all), and the key to resume after (nil at the
// end).
func (c *Collection[T, P]) List(after []byte, limit int, match func(P) bool) ([]P, []byte, error) {
	return c.scan(c.bucket, nil, after, limit, match)
}

// load reads the record with id; proto.Unmarshal copies, so the result outlives tx.
func (c *Collection[T, P]) load(tx *bolt.Tx, id string) ([]byte, P, error) {
	key, ok := c.key(id)
	if !ok {
		return nil, nil, ErrNotFound
	}
	v := tx.Bucket(c.bucket).Get(key)
	if v == nil {
		return nil, nil, ErrNotFound
	}
	m, err := c.decode(v)
	return key, m, err
}

// indexed reads the record an index entry points at. A dangling entry is a bug, not a
// missing record, so it is an internal error.
func (c *Collection[T, P]) indexed(tx *bolt.Tx, key []byte) (P, error) {
	v := tx.Bucket(c.bucket).Get(key)
	if v == nil {
		return nil, fmt.Errorf("an index entry points at no %s record (key %x)", c.CollectionID, key)
	}
	return c.decode(v)
}

func (c *Collection[T, P]) decode(v []byte) (P, error) {
	m := P(new(T))
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("decode %s record: %w", c.CollectionID, err)
	}
	return m, nil
}

// write is the one place records change.
func (c *Collection[T, P]) write(tx *bolt.Tx, key []byte, old, next P) error {
	if err := c.sync(tx, key, old, next); err != nil {
		return err
	}
	records := tx.Bucket(c.bucket)
	if next == nil {
		if err := createRequests.Forget(tx, c.CollectionID, key); err != nil {
			return err
		}
		return records.Delete(key)
	}
	v, err := proto.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode %s record: %w", c.CollectionID, err)
	}
	return records.Put(key, v)
}

// scan reads one page of c in the key order of index (c's own bucket, or an index whose
// values are keys of c), limited to keys starting with prefix. It returns the page and
// the index key to resume after, nil when nothing follows.
func (c *Collection[T, P]) scan(index, prefix, after []byte, limit int, match func(P) bool) ([]P, []byte, error) {
	var items []P
	var last []byte
	err := c.s.db.View(func(tx *bolt.Tx) error {
		var more bool
		var err error
		last, more, err = boltdb.Page(tx.Bucket(index).Cursor(), prefix, after, limit, func(k, v []byte) (bool, error) {
			var m P
			var err error
			if bytes.Equal(index, c.bucket) {
				m, err = c.decode(v)
			} else {
				m, err = c.indexed(tx, v)
			}
			if err != nil || (match != nil && !match(m)) {
				return false, err
			}
			items = append(items, m)
			return true, nil
		})
		if !more {
			last = nil
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return items, last, nil
}

// syncLibrary refuses to delete a library that mappings point at; libraries have no
// indexes of their own.
func syncLibrary(tx *bolt.Tx, key []byte, _, next *mappingv1.Library) error {
	if next != nil {
		return nil
	}
	n := 0
	prefix := libraryPrefix(string(key))
	c := tx.Bucket(bucketMappingsByLibrary).Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	if n > 0 {
		return &InUseError{Mappings: n}
	}
	return nil
}

// syncMapping keeps both mapping indexes and requires the local library to exist.
func syncMapping(tx *bolt.Tx, key []byte, old, next *mappingv1.LibraryMapping) error {
	byCode, byLibrary := tx.Bucket(bucketMappingsByCode), tx.Bucket(bucketMappingsByLibrary)
	if old != nil {
		if err := byCode.Delete(mappingCodeKey(old.GetSystem(), old.GetExternalCode())); err != nil {
			return err
		}
		if err := byLibrary.Delete(mappingLibraryKey(old)); err != nil {
			return err
		}
	}
	if next == nil {
		return nil
	}
	if tx.Bucket(bucketLibraries).Get([]byte(next.GetLocalLibraryCode())) == nil {
		return &MissingLibraryError{Library: resource.Name(librariesID, next.GetLocalLibraryCode())}
	}
	ck := mappingCodeKey(next.GetSystem(), next.GetExternalCode())
	if id := byCode.Get(ck); id != nil {
		return &ConflictError{Existing: seqName(id)}
	}
	if err := byCode.Put(ck, key); err != nil {
		return err
	}
	return byLibrary.Put(mappingLibraryKey(next), key)
}

// syncPartner keeps the case-folded code index. Partner codes are immutable, so only
// create and delete touch it.
func syncPartner(tx *bolt.Tx, _ []byte, old, next *mappingv1.Partner) error {
	byFold := tx.Bucket(bucketPartnersByFold)
	switch {
	case old == nil:
		f := []byte(fold(next.GetCode()))
		if code := byFold.Get(f); code != nil {
			return &ConflictError{Existing: resource.Name(partnersID, string(code))}
		}
		return byFold.Put(f, []byte(next.GetCode()))
	case next == nil:
		return byFold.Delete([]byte(fold(old.GetCode())))
	}
	return nil
}

// mappingCodeKey is a mappings_by_code key. Callers pass validated systems, which fit a byte.
func mappingCodeKey(system typev1.ExternalSystem, code string) []byte {
	return append([]byte{byte(system)}, code...)
}

// libraryPrefix is the mappings_by_library prefix of one local library.
func libraryPrefix(library string) []byte { return append([]byte(library), 0) }

func mappingLibraryKey(m *mappingv1.LibraryMapping) []byte {
	return append(libraryPrefix(m.GetLocalLibraryCode()), mappingCodeKey(m.GetSystem(), m.GetExternalCode())...)
}

// ListAuditEvents serves a ListAuditEvents request from the trail (newest first).
func (s *Store) ListAuditEvents(req audit.Request) ([]*typev1.AuditEvent, string, error) {
	return trail.ListFrom(s.db, req)
}

// ListMappings pages through mappings ordered by system, then external code, optionally
// only those of one system (UNSPECIFIED: all) and one local library ("": all). Each filter
// narrows the key prefix of the index walked, so filtered pages cost no more than the
// matching mappings.
func (s *Store) ListMappings(system typev1.ExternalSystem, library string, after []byte, limit int) ([]*mappingv1.LibraryMapping, []byte, error) {
	index, prefix := bucketMappingsByCode, []byte(nil)
	if library != "" {
		index, prefix = bucketMappingsByLibrary, libraryPrefix(library)
	}
	if system != typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED {
		prefix = append(prefix, byte(system))
	}
	return s.Mappings.scan(index, prefix, after, limit, nil)
}

// ResolveLibraryCodes looks each external code of system up exactly, in one read
// transaction, and returns the mapping for each code (nil when unmapped), in order.
func (s *Store) ResolveLibraryCodes(system typev1.ExternalSystem, codes []string) ([]*mappingv1.LibraryMapping, error) {
	out := make([]*mappingv1.LibraryMapping, len(codes))
	err := s.db.View(func(tx *bolt.Tx) error {
		byCode := tx.Bucket(bucketMappingsByCode)
		for i, code := range codes {
			key := byCode.Get(mappingCodeKey(system, code))
			if key == nil {
				continue
			}
			m, err := s.Mappings.indexed(tx, key)
			if err != nil {
				return err
			}
			out[i] = m
		}
		return nil
	})
	return out, err
}

// ResolvePartnerCodes looks each code up ignoring case, in one read transaction, and
// returns the partner for each code (nil when unknown), in order.
func (s *Store) ResolvePartnerCodes(codes []string) ([]*mappingv1.Partner, error) {
	out := make([]*mappingv1.Partner, len(codes))
	err := s.db.View(func(tx *bolt.Tx) error {
		byFold := tx.Bucket(bucketPartnersByFold)
		for i, code := range codes {
			key := byFold.Get([]byte(fold(code)))
			if key == nil {
				continue
			}
			p, err := s.Partners.indexed(tx, key)
			if err != nil {
				return err
			}
			out[i] = p
		}
		return nil
	})
	return out, err
}

// fold is the partner-code comparison key: each rune becomes the smallest member of its
// Unicode simple case-folding orbit, so two codes fold alike exactly when
// strings.EqualFold says they are equal.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
