// Package store keeps integration profiles in the profiles service's bbolt file. The
// readable profile and its sealed credential live in separate buckets so that no code
// path that reads profiles can return the secret by accident.
package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

var (
	bucketProfiles = []byte("profiles") // code → IntegrationProfile (api_key always empty)
	bucketSecrets  = []byte("secrets")  // code → sealed credential
	// AIP-155 idempotent creates: which profile each request_id made, and the inverse.
	bucketCreateRequests   = []byte("create_requests")
	bucketRequestsByRecord = []byte("create_requests_by_record")

	createRequests = boltdb.CreateRequests{ByRequest: bucketCreateRequests, ByRecord: bucketRequestsByRecord}
	schema         = boltdb.Schema{Version: 1, Buckets: [][]byte{bucketProfiles, bucketSecrets, bucketCreateRequests, bucketRequestsByRecord}}
)

// scope names profiles in the create-request buckets.
const scope = "integrationProfiles"

// Sentinel errors; the API layer turns them into typed domain errors.
var (
	ErrNotFound = errors.New("profile not found")
	ErrExists   = errors.New("profile already exists")
)

// Store is the profiles backend.
type Store struct{ db *bolt.DB }

// Open opens or creates the bbolt file at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Record is a profile with its sealed credential (nil when none is stored).
type Record struct {
	Profile *profilesv1.IntegrationProfile
	Secret  []byte
}

// Create stores a new profile. With a requestID seen before, it returns the profile that
// request created (created=false) instead of failing, so retries are safe.
func (s *Store) Create(rec Record, requestID string) (got Record, created bool, err error) {
	code := []byte(rec.Profile.GetCode())
	err = s.db.Update(func(tx *bolt.Tx) error {
		if requestID != "" {
			if prev := createRequests.Lookup(tx, scope, requestID); prev != nil {
				r, err := read(tx, prev)
				if err != nil {
					return err // Delete forgets requests, so the profile must exist
				}
				got = r
				return nil
			}
		}
		if tx.Bucket(bucketProfiles).Get(code) != nil {
			return ErrExists
		}
		if err := write(tx, code, rec); err != nil {
			return err
		}
		if requestID != "" {
			if err := createRequests.Remember(tx, scope, requestID, code); err != nil {
				return err
			}
		}
		got, created = rec, true
		return nil
	})
	return got, created, err
}

// Get returns a profile and its sealed credential.
func (s *Store) Get(code string) (rec Record, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		rec, err = read(tx, []byte(code))
		return err
	})
	return rec, err
}

// Update reads the record, lets fn compute its replacement, and writes that in the same
// transaction, so concurrent updates cannot interleave. If fn returns an error or
// write=false, nothing changes.
func (s *Store) Update(code string, fn func(cur Record) (next Record, write bool, err error)) (Record, error) {
	var out Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, err := read(tx, []byte(code))
		if err != nil {
			return err
		}
		next, doWrite, err := fn(cur)
		if err != nil {
			return err
		}
		out = next
		if !doWrite {
			return nil
		}
		return write(tx, []byte(code), next)
	})
	return out, err
}

// Delete removes a profile and its credential after check approves the current record.
func (s *Store) Delete(code string, check func(cur Record) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cur, err := read(tx, []byte(code))
		if err != nil {
			return err
		}
		if err := check(cur); err != nil {
			return err
		}
		if err := createRequests.Forget(tx, scope, []byte(code)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketProfiles).Delete([]byte(code)); err != nil {
			return err
		}
		return tx.Bucket(bucketSecrets).Delete([]byte(code))
	})
}

// List returns up to limit profiles in code order after the code `after` (nil: from the
// start) that match keep, and the code to resume after (nil when nothing follows).
func (s *Store) List(after []byte, limit int, keep func(*profilesv1.IntegrationProfile) bool) (out []*profilesv1.IntegrationProfile, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		last, more, err := boltdb.Page(tx.Bucket(bucketProfiles).Cursor(), nil, after, limit, func(_, v []byte) (bool, error) {
			p := &profilesv1.IntegrationProfile{}
			if err := proto.Unmarshal(v, p); err != nil {
				return false, err
			}
			if !keep(p) {
				return false, nil
			}
			out = append(out, p)
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	return out, next, err
}

// RewriteSecrets offers every profile that has a sealed credential to fn, in code order,
// inside one write transaction, and stores the secret fn returns in its place (nil: leave
// it as it is). fn is called for every profile even after one fails, so a caller can
// report every failure at once; if any call failed, the transaction is rolled back,
// nothing changes, and the failures are returned joined. Key rotation uses it: a rotation
// that stopped half-way would leave secrets under a key the operator is about to drop.
func (s *Store) RewriteSecrets(fn func(rec Record) (replacement []byte, err error)) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		type change struct{ code, secret []byte }
		var changes []change
		var errs []error
		// Writes wait until the walk is done: bbolt does not allow changing a bucket
		// while a cursor walks it.
		c := tx.Bucket(bucketSecrets).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			code := boltdb.Copy(k)
			rec, err := read(tx, code)
			if err != nil {
				errs = append(errs, fmt.Errorf("profile %s: %w", code, err))
				continue
			}
			next, err := fn(rec)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if next != nil {
				changes = append(changes, change{code, next})
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for _, ch := range changes {
			if err := tx.Bucket(bucketSecrets).Put(ch.code, ch.secret); err != nil {
				return err
			}
		}
		return nil
	})
}

func read(tx *bolt.Tx, code []byte) (Record, error) {
	v := tx.Bucket(bucketProfiles).Get(code)
	if v == nil {
		return Record{}, ErrNotFound
	}
	p := &profilesv1.IntegrationProfile{}
	if err := proto.Unmarshal(v, p); err != nil {
		return Record{}, err
	}
	return Record{Profile: p, Secret: boltdb.Copy(tx.Bucket(bucketSecrets).Get(code))}, nil
}

func write(tx *bolt.Tx, code []byte, rec Record) error {
	p := proto.Clone(rec.Profile).(*profilesv1.IntegrationProfile)
	p.ApiKey = "" // defence in depth: the readable bucket never holds the credential
	p.Readiness = nil
	v, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketProfiles).Put(code, v); err != nil {
		return err
	}
	if rec.Secret == nil {
		return tx.Bucket(bucketSecrets).Delete(code)
	}
	return tx.Bucket(bucketSecrets).Put(code, rec.Secret)
}
