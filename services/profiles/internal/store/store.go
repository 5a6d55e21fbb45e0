// Package store keeps integration profiles in the profiles service's bbolt file. The
// readable profile and its sealed credential live in separate buckets so that no code
// path that reads profiles can return the secret by accident.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
)

var (
	bucketProfiles = []byte("profiles") // code → IntegrationProfile (api_key always empty)
	bucketSecrets  = []byte("secrets")  // code → sealed credential with its origin (storedSecret, JSON)
	// code → sealed Netpunkt receipt password. A bucket of its own so that code reading
	// the credential can never hand out the receipt password, or the reverse.
	bucketReceiptSecrets = []byte("receipt_secrets")
	// AIP-155 idempotent creates: which profile each request_id made, and the inverse.
	bucketCreateRequests   = []byte("create_requests")
	bucketRequestsByRecord = []byte("create_requests_by_record")
	// The audit trail of profile changes (platform/audit), appended by Create, Update and
	// Delete in their own transactions.
	bucketAuditEvents     = []byte("audit_events")
	bucketAuditByResource = []byte("audit_events_by_resource")

	createRequests = boltdb.CreateRequests{ByRequest: bucketCreateRequests, ByRecord: bucketRequestsByRecord}
	trail          = audit.Trail{
		Service:     "profiles",
		Collections: []string{scope},
		Events:      bucketAuditEvents,
		ByResource:  bucketAuditByResource,
	}
	// Version 2 stores each credential with the origin it is sealed to (storedSecret);
	// version 1 stored the bare ciphertext, sealed with the profile's name alone, which
	// migrate1 wraps as unbound. A binary of version 1 refuses a version-2 file rather
	// than fail to open every credential in it. (The request and audit buckets came
	// before any release shipped, so version 1 files may lack them: boltdb.Open creates
	// them empty, which is right for profiles written before them.)
	schema = boltdb.Schema{Service: "profiles", Version: 2, Buckets: [][]byte{
		bucketProfiles, bucketSecrets, bucketCreateRequests, bucketRequestsByRecord,
		bucketAuditEvents, bucketAuditByResource, bucketReceiptSecrets,
	}, Migrate: migrate}
)

// migrate upgrades a file of an older schema version in boltdb.Open's transaction.
func migrate(tx *bolt.Tx, from uint32) error {
	if from == 1 {
		return migrate1(tx)
	}
	return fmt.Errorf("no migration from schema version %d", from)
}

// migrate1 wraps each credential of a version-1 file, a bare ciphertext sealed with the
// profile's name, as an unbound storedSecret. Binding it to an origin needs the
// encryption keys, which the store does not hold: the service does it when it starts
// (BindUnbound), and until then the credential is not used.
func migrate1(tx *bolt.Tx) error {
	b := tx.Bucket(bucketSecrets)
	var codes, values [][]byte
	// Writes wait until the walk is done: bbolt does not allow changing a bucket while a
	// cursor walks it.
	err := b.ForEach(func(k, v []byte) error {
		codes, values = append(codes, boltdb.Copy(k)), append(values, boltdb.Copy(v))
		return nil
	})
	if err != nil {
		return err
	}
	for i, code := range codes {
		v, err := encodeSecret(&Sealed{Ciphertext: values[i], Unbound: true})
		if err != nil {
			return err
		}
		if err := b.Put(code, v); err != nil {
			return err
		}
	}
	return nil
}

// notAudited are profile fields an event never lists: api_key_set and readiness follow
// from other fields, and the stored profile never holds api_key (the sealed credential
// is compared instead, see changedFields).
var notAudited = []string{"api_key", "api_key_set", "readiness", "receipt_password", "receipt_password_set"}

// scope names profiles in the create-request buckets.
var scope = resource.Collection((*profilesv1.IntegrationProfile)(nil))

// Sentinel errors; the API layer turns them into typed domain errors.
var (
	ErrNotFound = errors.New("profile not found")
	ErrExists   = errors.New("profile already exists")
)

// Store is the profiles backend.
type Store struct {
	db  *bolt.DB
	now func() time.Time // the audit trail's clock
}

// Open opens or creates the bbolt file at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Record is a profile with its sealed credential and sealed Netpunkt receipt password
// (each nil when none is stored).
type Record struct {
	Profile       *profilesv1.IntegrationProfile
	Secret        *Sealed
	ReceiptSecret []byte
}

// Sealed is a profile's credential as stored: the ciphertext, and in the clear beside it
// the origin it was entered for and is sealed to. An origin is not secret; keeping it
// readable lets readiness and a refusal name the address the credential belongs to
// without opening it, and the sealing makes a changed origin fail to open anyway.
type Sealed struct {
	Ciphertext []byte
	// Origin is external.Origin of the profile's base URL when the credential was
	// entered; "" when the profile had no base URL then.
	Origin string
	// Unbound marks a credential from a version-1 file, sealed with the profile's name
	// alone (AAD says so) and bound to no origin until the service binds it.
	Unbound bool
}

// AAD is the associated data the credential of the profile named name is sealed with.
func (s *Sealed) AAD(name string) string {
	if s.Unbound {
		return name
	}
	return CredentialAAD(name, s.Origin)
}

// storedSecret is Sealed as the secrets bucket holds it.
type storedSecret struct {
	Origin  string `json:"origin"`
	Unbound bool   `json:"unbound,omitempty"`
	Sealed  []byte `json:"sealed"`
}

func encodeSecret(s *Sealed) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return json.Marshal(storedSecret{Origin: s.Origin, Unbound: s.Unbound, Sealed: s.Ciphertext})
}

// decodeSecret reads a stored credential. A value that is not a storedSecret (damaged)
// is taken as an unbound ciphertext: its credential is then unusable, as a damaged
// ciphertext is, but the profile stays readable.
func decodeSecret(v []byte) *Sealed {
	if v == nil {
		return nil
	}
	var st storedSecret
	if err := json.Unmarshal(v, &st); err != nil || len(st.Sealed) == 0 {
		return &Sealed{Ciphertext: boltdb.Copy(v), Unbound: true}
	}
	return &Sealed{Ciphertext: st.Sealed, Origin: st.Origin, Unbound: st.Unbound}
}

func sameSecret(a, b *Sealed) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Ciphertext, b.Ciphertext) && a.Origin == b.Origin && a.Unbound == b.Unbound
}

// Credential is one sealed secret of a profile, as RewriteSecrets offers it.
type Credential struct {
	Field  string // the profile field it is set through: api_key or receipt_password
	Sealed []byte // the ciphertext
	AAD    string // what it was sealed with (CredentialAAD, ReceiptAAD, or the name when unbound)
}

// CredentialAAD is the associated data the credential of the profile named name, entered
// for origin, is sealed with: the same ciphertext under another origin, or on another
// profile, does not open.
func CredentialAAD(name, origin string) string { return name + "#api_key@" + origin }

// ReceiptAAD is the associated data the receipt password of the profile named name is
// sealed with; distinct from the credential's, so one sealed value can never be moved
// into the other's place. Netpunkt sends the receipt password to us, so it is bound to
// no origin.
func ReceiptAAD(name string) string { return name + "#receipt_password" }

// Create stores a new profile and records call's audit event. With a call.RequestID seen
// before, it returns the profile that request created (created=false, no event: nothing
// changed) instead of failing, so retries are safe.
func (s *Store) Create(call audit.Call, rec Record) (got Record, created bool, err error) {
	code := []byte(rec.Profile.GetCode())
	requestID := call.RequestID
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
		if err := trail.Append(tx, call, s.now(), audit.Create, name(code), changedFields(Record{}, rec)); err != nil {
			return err
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

// Update reads the record, lets fn compute its replacement, and writes that with call's
// audit event in the same transaction, so concurrent updates cannot interleave. If fn
// returns an error or write=false, nothing changes and nothing is recorded.
func (s *Store) Update(call audit.Call, code string, fn func(cur Record) (next Record, write bool, err error)) (Record, error) {
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
		if err := write(tx, []byte(code), next); err != nil {
			return err
		}
		return trail.Append(tx, call, s.now(), audit.Update, name([]byte(code)), changedFields(cur, next))
	})
	return out, err
}

// Delete removes a profile and its credential after check approves the current record,
// and records call's audit event.
func (s *Store) Delete(call audit.Call, code string, check func(cur Record) error) error {
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
		if err := tx.Bucket(bucketSecrets).Delete([]byte(code)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketReceiptSecrets).Delete([]byte(code)); err != nil {
			return err
		}
		return trail.Append(tx, call, s.now(), audit.Delete, name([]byte(code)), nil)
	})
}

// ListAuditEvents serves a ListAuditEvents request from the trail (newest first).
func (s *Store) ListAuditEvents(req audit.Request) ([]*typev1.AuditEvent, string, error) {
	return trail.ListFrom(s.db, req)
}

// name is the resource name of the profile stored under code.
func name(code []byte) string { return resource.Name(scope, string(code)) }

// changedFields names what a change did to a profile, for its audit event. The
// credential is named `api_key` when the sealed secret differs (set, replaced, removed):
// sealing is randomised, so setting the same key again also counts, which is what the
// caller did. Its value, sealed or not, never reaches the event.
func changedFields(cur, next Record) []string {
	var force []string
	if !sameSecret(cur.Secret, next.Secret) {
		force = append(force, "api_key")
	}
	if !bytes.Equal(cur.ReceiptSecret, next.ReceiptSecret) {
		force = append(force, "receipt_password")
	}
	// On create cur.Profile is nil, and every field next sets is listed.
	return audit.ChangedFields(cur.Profile, next.Profile, notAudited, force...)
}

// List returns up to limit records in code order after the code `after` (nil: from the
// start) whose profile matches keep, and the code to resume after (nil when nothing
// follows). Records carry their sealed secrets because readiness depends on the origin
// the credential is sealed to.
func (s *Store) List(after []byte, limit int, keep func(*profilesv1.IntegrationProfile) bool) (out []Record, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		last, more, err := boltdb.Page(tx.Bucket(bucketProfiles).Cursor(), nil, after, limit, func(k, v []byte) (bool, error) {
			p := &profilesv1.IntegrationProfile{}
			if err := proto.Unmarshal(v, p); err != nil {
				return false, err
			}
			if !keep(p) {
				return false, nil
			}
			out = append(out, withSecrets(tx, k, p))
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	return out, next, err
}

// RewriteSecrets offers every sealed secret (credential, then receipt password) of every
// profile to fn, in code order, inside one write transaction, and stores the secret fn
// returns in its place (nil: leave it as it is). fn is called for every secret even
// after one fails, so a caller can report every failure at once; if any call failed, the
// transaction is rolled back, nothing changes, and the failures are returned joined. Key rotation uses it: a rotation
// that stopped half-way would leave secrets under a key the operator is about to drop.
// Each replaced secret records call's audit event (action REENCRYPT) in the same
// transaction.
func (s *Store) RewriteSecrets(call audit.Call, fn func(rec Record, c Credential) (replacement []byte, err error)) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		type change struct {
			bucket, code, secret []byte
		}
		var changes []change
		var errs []error
		// Writes wait until the walk is done: bbolt does not allow changing a bucket
		// while a cursor walks it.
		for _, b := range []struct {
			bucket []byte
			field  string
		}{{bucketSecrets, "api_key"}, {bucketReceiptSecrets, "receipt_password"}} {
			c := tx.Bucket(b.bucket).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				code := boltdb.Copy(k)
				rec, err := read(tx, code)
				if err != nil {
					errs = append(errs, fmt.Errorf("profile %s: %w", code, err))
					continue
				}
				cred := Credential{Field: b.field, Sealed: boltdb.Copy(v), AAD: ReceiptAAD(rec.Profile.GetName())}
				if b.field == "api_key" {
					cred.Sealed, cred.AAD = rec.Secret.Ciphertext, rec.Secret.AAD(rec.Profile.GetName())
				}
				next, err := fn(rec, cred)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if next != nil && b.field == "api_key" {
					// The origin and binding stay as they were: only the key changed.
					sealed := *rec.Secret
					sealed.Ciphertext = next
					if next, err = encodeSecret(&sealed); err != nil {
						return err
					}
				}
				if next != nil {
					changes = append(changes, change{b.bucket, code, next})
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		now := s.now()
		for _, ch := range changes {
			if err := tx.Bucket(ch.bucket).Put(ch.code, ch.secret); err != nil {
				return err
			}
			if err := trail.Append(tx, call, now, audit.Reencrypt, name(ch.code), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// BindUnbound offers each profile whose credential is unbound (Sealed.Unbound, from a
// version-1 file) to bind, in code order inside one write transaction, and stores the
// credential bind returns in its place (nil: leave it unbound). An error from bind
// rolls back every change. Each credential bound records call's audit event (action
// REENCRYPT: sealed again, its value unchanged) and is counted in bound.
func (s *Store) BindUnbound(call audit.Call, bind func(rec Record) (*Sealed, error)) (bound int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		bound = 0
		var codes [][]byte
		var next []*Sealed
		// Writes wait until the walk is done, as in RewriteSecrets.
		c := tx.Bucket(bucketSecrets).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !decodeSecret(v).Unbound {
				continue
			}
			rec, err := read(tx, k)
			if errors.Is(err, ErrNotFound) {
				continue // a credential without its profile is never used
			}
			if err != nil {
				return fmt.Errorf("profile %s: %w", k, err)
			}
			sealed, err := bind(rec)
			if err != nil {
				return err
			}
			if sealed != nil {
				codes, next = append(codes, boltdb.Copy(k)), append(next, sealed)
			}
		}
		now := s.now()
		for i, code := range codes {
			v, err := encodeSecret(next[i])
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketSecrets).Put(code, v); err != nil {
				return err
			}
			if err := trail.Append(tx, call, now, audit.Reencrypt, name(code), nil); err != nil {
				return err
			}
		}
		bound = len(codes)
		return nil
	})
	return bound, err
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
	return withSecrets(tx, code, p), nil
}

// withSecrets is the record of profile p, stored under code, with its sealed secrets.
func withSecrets(tx *bolt.Tx, code []byte, p *profilesv1.IntegrationProfile) Record {
	return Record{Profile: p, Secret: decodeSecret(tx.Bucket(bucketSecrets).Get(code)),
		ReceiptSecret: boltdb.Copy(tx.Bucket(bucketReceiptSecrets).Get(code))}
}

func write(tx *bolt.Tx, code []byte, rec Record) error {
	p := proto.Clone(rec.Profile).(*profilesv1.IntegrationProfile)
	p.ApiKey, p.ReceiptPassword = "", "" // defence in depth: the readable bucket never holds a secret
	p.Readiness = nil
	v, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketProfiles).Put(code, v); err != nil {
		return err
	}
	if err := putOrDelete(tx.Bucket(bucketReceiptSecrets), code, rec.ReceiptSecret); err != nil {
		return err
	}
	secret, err := encodeSecret(rec.Secret)
	if err != nil {
		return err
	}
	return putOrDelete(tx.Bucket(bucketSecrets), code, secret)
}

func putOrDelete(b *bolt.Bucket, key, v []byte) error {
	if v == nil {
		return b.Delete(key)
	}
	return b.Put(key, v)
}
