package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/audit"
)

// by is the audit call of a test change; requestID is its AIP-155 idempotency key.
func by(requestID string) audit.Call {
	return audit.Call{Principal: "tester", Method: "Test", RequestID: requestID}
}

func rec(code, secret string) Record {
	r := Record{Profile: &profilesv1.IntegrationProfile{Code: code, DisplayName: code, ApiKey: "must-not-be-stored"}}
	if secret != "" {
		r.Secret = &Sealed{Ciphertext: []byte(secret), Origin: "https://libris.example:443"}
	}
	return r
}

// ct is the stored ciphertext of r's credential, "" when it has none.
func ct(r Record) string {
	if r.Secret == nil {
		return ""
	}
	return string(r.Secret.Ciphertext)
}

func TestCreateGetReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profiles.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := s.Create(by("req-1"), rec("A", "sealed-a")); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	// Same request id: the first result, not a duplicate or an error.
	if got, created, err := s.Create(by("req-1"), rec("A", "other")); err != nil || created || ct(got) != "sealed-a" {
		t.Fatalf("retry: %v %v %v", got, created, err)
	}
	if _, _, err := s.Create(by(""), rec("A", "")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get("A")
	if err != nil || got.Profile.Code != "A" || ct(got) != "sealed-a" {
		t.Fatalf("after reopen: %v %v", got, err)
	}
	if got.Profile.ApiKey != "" {
		t.Fatal("the readable bucket stored an api_key")
	}
	if _, err := s.Get("B"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestUpdateAndDeleteAreAllOrNothing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Create(by(""), rec("A", "sealed")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.Update(by(""), "A", func(cur Record) (Record, bool, error) {
		cur.Profile.DisplayName = "changed"
		return cur, true, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	if err := s.Delete(by(""), "A", func(Record) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("delete error: %v", err)
	}
	got, _ := s.Get("A")
	if got.Profile.DisplayName != "A" || ct(got) != "sealed" {
		t.Fatalf("a failed update or delete changed the record: %v", got)
	}
	// Clearing the secret removes it; Delete removes both buckets' entries.
	if _, err := s.Update(by(""), "A", func(cur Record) (Record, bool, error) { cur.Secret = nil; return cur, true, nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("A"); got.Secret != nil {
		t.Fatal("secret not cleared")
	}
	if err := s.Delete(by(""), "A", func(Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("A"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestRequestIDDoesNotFollowARecreatedCode(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := rec("A", "")
	first.Profile.CreateTime = timestamppb.New(time.Unix(1, 0))
	if _, _, err := s.Create(by("req-1"), first); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(by(""), "A", func(Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	second := rec("A", "")
	second.Profile.CreateTime = timestamppb.New(time.Unix(2, 0))
	second.Profile.DisplayName = "someone else's"
	if _, _, err := s.Create(by(""), second); err != nil {
		t.Fatal(err)
	}
	// A late retry of req-1 must not be handed the other profile.
	if _, _, err := s.Create(by("req-1"), first); !errors.Is(err, ErrExists) {
		t.Fatalf("retry after delete and re-create: %v, want ErrExists", err)
	}
}

// TestRewriteSecretsAllOrNothing: replacements are stored in one transaction; one failing
// record rolls back all of them, and every record is still offered so all failures show.
func TestRewriteSecretsAllOrNothing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range []Record{rec("A", "a"), rec("B", "b"), rec("C", "c"), rec("NONE", "")} {
		if _, _, err := s.Create(by(""), r); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	errBad := errors.New("bad")
	err = s.RewriteSecrets(by(""), func(r Record, _ Credential) ([]byte, error) {
		seen = append(seen, r.Profile.Code)
		if r.Profile.Code == "A" || r.Profile.Code == "C" {
			return nil, errBad
		}
		return []byte("new-" + ct(r)), nil
	})
	if !errors.Is(err, errBad) || len(seen) != 3 {
		t.Fatalf("err = %v, seen %v; want errBad after offering A, B and C (not NONE)", err, seen)
	}
	if got, _ := s.Get("B"); ct(got) != "b" {
		t.Fatalf("B = %q after a failed rewrite", ct(got))
	}
	if got := trailOf(t, s); len(got) != 4 {
		t.Fatalf("trail after a failed rewrite = %v, want the 4 creates only", got)
	}
	err = s.RewriteSecrets(by(""), func(r Record, _ Credential) ([]byte, error) {
		if r.Profile.Code == "B" {
			return nil, nil // left as it is
		}
		return []byte("new-" + ct(r)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"A": "new-a", "B": "b", "C": "new-c"} {
		if got, _ := s.Get(code); ct(got) != want {
			t.Errorf("%s = %q, want %q", code, ct(got), want)
		}
	}
	if got, _ := s.Get("NONE"); got.Secret != nil {
		t.Errorf("NONE got a secret: %q", ct(got))
	}
	// One event per re-encrypted secret, none for B, left as it was.
	want := []string{"tester AUDIT_ACTION_REENCRYPT integrationProfiles/C []", "tester AUDIT_ACTION_REENCRYPT integrationProfiles/A []"}
	if got := trailOf(t, s); len(got) != 6 || !slices.Equal(got[:2], want) {
		t.Errorf("trail = %v, want %v on top of the 4 creates", got, want)
	}
}

// trailOf lists the store's audit trail, newest first, as "principal action resource fields".
func trailOf(t *testing.T, s *Store) []string {
	t.Helper()
	events, _, err := s.ListAuditEvents(&profilesv1.ListAuditEventsRequest{Parent: "services/profiles", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%s %s %s %v", e.GetPrincipal(), e.GetAction(), e.GetResource(), e.GetChangedFields()))
	}
	return out
}

// TestChangeWithoutAuditCallIsRefused: a change nobody can account for is not stored.
func TestChangeWithoutAuditCallIsRefused(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Create(by(""), rec("A", "sealed-a")); err != nil {
		t.Fatal(err)
	}
	anonymous := audit.Call{Method: "Test"}
	if _, _, err := s.Create(anonymous, rec("B", "sealed-b")); !errors.Is(err, audit.ErrIncomplete) {
		t.Errorf("create: %v, want audit.ErrIncomplete", err)
	}
	if _, err := s.Get("B"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused create stored B: %v", err)
	}
	if _, err := s.Update(anonymous, "A", func(cur Record) (Record, bool, error) {
		cur.Secret = &Sealed{Ciphertext: []byte("sealed-new")}
		return cur, true, nil
	}); !errors.Is(err, audit.ErrIncomplete) {
		t.Errorf("update: %v, want audit.ErrIncomplete", err)
	}
	if err := s.Delete(anonymous, "A", func(Record) error { return nil }); !errors.Is(err, audit.ErrIncomplete) {
		t.Errorf("delete: %v, want audit.ErrIncomplete", err)
	}
	if got, err := s.Get("A"); err != nil || ct(got) != "sealed-a" {
		t.Errorf("after refused changes: %v %v, want A unchanged", got, err)
	}
}

// TestOpenVersion1WrapsCredentialsUnbound: a version-1 file's bare ciphertexts become
// unbound credentials whose associated data is still the profile's name, the version
// moves to 2, and a damaged value reads as an unbound credential rather than failing
// its profile.
func TestOpenVersion1WrapsCredentialsUnbound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profiles.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"meta", "profiles", "secrets"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 1}); err != nil {
			return err
		}
		for _, code := range []string{"A", "B"} {
			p, _ := proto.Marshal(&profilesv1.IntegrationProfile{Name: "integrationProfiles/" + code, Code: code})
			if err := tx.Bucket([]byte("profiles")).Put([]byte(code), p); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("secrets")).Put([]byte("A"), []byte(`{"key_id":"k","nonce":"bm9uY2U=","ciphertext":"Y3Q="}`)); err != nil {
			return err
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get("A")
	if err != nil || got.Secret == nil || !got.Secret.Unbound || got.Secret.Origin != "" ||
		string(got.Secret.Ciphertext) != `{"key_id":"k","nonce":"bm9uY2U=","ciphertext":"Y3Q="}` || got.Secret.AAD("integrationProfiles/A") != "integrationProfiles/A" {
		t.Fatalf("migrated A = %+v, %v", got.Secret, err)
	}
	if got, _ := s.Get("B"); got.Secret != nil {
		t.Fatalf("B without a credential got %+v", got.Secret)
	}
	if _, err := s.Update(by(""), "B", func(cur Record) (Record, bool, error) {
		cur.Secret = &Sealed{Ciphertext: []byte("c"), Origin: "https://x.example:443"}
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("B"); got.Secret.Unbound || got.Secret.AAD("integrationProfiles/B") != "integrationProfiles/B#api_key@https://x.example:443" {
		t.Fatalf("B = %+v", got.Secret)
	}
	// Only unbound credentials are offered for binding.
	var offered []string
	n, err := s.BindUnbound(by(""), func(r Record) (*Sealed, error) {
		offered = append(offered, r.Profile.Code)
		return &Sealed{Ciphertext: []byte("bound"), Origin: "https://a.example:443"}, nil
	})
	if err != nil || n != 1 || !slices.Equal(offered, []string{"A"}) {
		t.Fatalf("BindUnbound = %d, %v, offered %v", n, err, offered)
	}
	if got, _ := s.Get("A"); got.Secret.Unbound || got.Secret.Origin != "https://a.example:443" {
		t.Fatalf("A after binding = %+v", got.Secret)
	}
	// A damaged value.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSecrets).Put([]byte("B"), []byte("garbage")) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("B"); err != nil || !got.Secret.Unbound {
		t.Fatalf("damaged B = %+v, %v", got.Secret, err)
	}
}
