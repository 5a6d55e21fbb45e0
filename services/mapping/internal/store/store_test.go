package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/resource"
)

const (
	libris   = typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS
	netpunkt = typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func createLibrary(t *testing.T, s *Store, code string) *mappingv1.Library {
	t.Helper()
	l, err := s.Libraries.Create(by(""), library(code))
	noErr(t, err)
	return l
}

func createMapping(t *testing.T, s *Store, m *mappingv1.LibraryMapping) *mappingv1.LibraryMapping {
	t.Helper()
	m, err := s.Mappings.Create(by(""), m)
	noErr(t, err)
	return m
}

func createPartner(t *testing.T, s *Store, code string) *mappingv1.Partner {
	t.Helper()
	p, err := s.Partners.Create(by(""), &mappingv1.Partner{Code: code})
	noErr(t, err)
	return p
}

func library(code string) *mappingv1.Library {
	return &mappingv1.Library{Code: code, DisplayName: "Library " + code}
}

func mapping(system typev1.ExternalSystem, code, library string) *mappingv1.LibraryMapping {
	return &mappingv1.LibraryMapping{System: system, ExternalCode: code, LocalLibraryCode: library}
}

func accept[P any](P) error { return nil }

// by is the audit call of a test change; requestID is its AIP-155 idempotency key.
func by(requestID string) audit.Call {
	return audit.Call{Principal: "tester", Method: "Test", RequestID: requestID}
}

// dump returns every key and value of every bucket, to prove failed writes change nothing.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIndexes rebuilds every index from the records and requires the stored indexes to
// be exactly that: no entry missing, none left over.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	want := map[string]map[string]string{
		string(bucketMappingsByCode): {}, string(bucketMappingsByLibrary): {}, string(bucketPartnersByFold): {},
	}
	got := map[string]map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketMappings).ForEach(func(k, v []byte) error {
			var m mappingv1.LibraryMapping
			if err := proto.Unmarshal(v, &m); err != nil {
				return err
			}
			want[string(bucketMappingsByCode)][string(mappingCodeKey(m.System, m.ExternalCode))] = string(k)
			want[string(bucketMappingsByLibrary)][string(mappingLibraryKey(&m))] = string(k)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketPartners).ForEach(func(k, v []byte) error {
			var p mappingv1.Partner
			if err := proto.Unmarshal(v, &p); err != nil {
				return err
			}
			want[string(bucketPartnersByFold)][fold(p.Code)] = string(k)
			return nil
		})
		if err != nil {
			return err
		}
		for index := range want {
			got[index] = map[string]string{}
			err := tx.Bucket([]byte(index)).ForEach(func(k, v []byte) error {
				got[index][string(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, s)
	for index, entries := range want {
		if len(entries) != len(got[index]) {
			t.Errorf("%s has %d entries, want %d", index, len(got[index]), len(entries))
		}
		for k, v := range entries {
			if got[index][k] != v {
				t.Errorf("%s[%q] = %q, want %q", index, k, got[index][k], v)
			}
		}
	}
}

// checkRequests requires the two request buckets to be exact inverses of each other and
// every entry to point at a stored record of its collection.
func checkRequests(t *testing.T, s *Store) {
	t.Helper()
	buckets := map[string][]byte{librariesID: bucketLibraries, mappingsID: bucketMappings, partnersID: bucketPartners}
	err := s.db.View(func(tx *bolt.Tx) error {
		byRecord := tx.Bucket(bucketRequestsByRecord)
		n := 0
		err := tx.Bucket(bucketCreateRequests).ForEach(func(k, key []byte) error {
			n++
			collection, requestID, _ := bytes.Cut(k, []byte{0})
			if tx.Bucket(buckets[string(collection)]).Get(key) == nil {
				t.Errorf("request %q points at no %s record (key %x)", k, collection, key)
			}
			rk := append(append(append([]byte(nil), collection...), 0), key...)
			if got := byRecord.Get(rk); !bytes.Equal(got, requestID) {
				t.Errorf("reverse entry of request %q is %q", k, got)
			}
			return nil
		})
		if byRecord.Stats().KeyN != n {
			t.Errorf("%d requests but %d reverse entries", n, byRecord.Stats().KeyN)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexesFollowRecords(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "mapping.db"))
	for _, code := range []string{"GUB", "KB"} {
		createLibrary(t, s, code)
	}
	m1 := createMapping(t, s, mapping(libris, "Gbg", "GUB"))
	createMapping(t, s, mapping(libris, "GBG", "GUB"))
	createMapping(t, s, mapping(netpunkt, "710100", "KB"))
	createPartner(t, s, "ABC")
	checkIndexes(t, s)

	// Every refused write leaves the file exactly as it was.
	before := dump(t, s)
	var conflict *ConflictError
	var missing *MissingLibraryError
	var inUse *InUseError
	for _, tc := range []struct {
		name string
		err  error
		ok   func(error) bool
	}{
		{"duplicate mapping", second(s.Mappings.Create(by(""), mapping(libris, "Gbg", "KB"))), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == m1.Name
		}},
		{"mapping to a missing library", second(s.Mappings.Create(by(""), mapping(libris, "Xyz", "NOPE"))), func(err error) bool {
			return errors.As(err, &missing) && missing.Library == "libraries/NOPE"
		}},
		{"re-pointing to a missing library", second(s.Mappings.Update(by(""), "1", func(m *mappingv1.LibraryMapping) error {
			m.LocalLibraryCode = "NOPE"
			return nil
		})), func(err error) bool { return errors.As(err, &missing) }},
		{"library in use", s.Libraries.Delete(by(""), "GUB", accept), func(err error) bool {
			return errors.As(err, &inUse) && inUse.Mappings == 2
		}},
		{"partner code differing in case", second(s.Partners.Create(by(""), &mappingv1.Partner{Code: "abc"})), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == "partners/ABC"
		}},
		{"duplicate library", second(s.Libraries.Create(by(""), library("KB"))), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == "libraries/KB"
		}},
		{"unknown mapping", s.Mappings.Delete(by(""), "99", accept), func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"malformed mapping id", second(s.Mappings.Get("x")), func(err error) bool { return errors.Is(err, ErrNotFound) }},
	} {
		if !tc.ok(tc.err) {
			t.Errorf("%s: err = %v", tc.name, tc.err)
		}
	}
	if after := dump(t, s); !mapsEqual(before, after) {
		t.Error("a refused write changed the file")
	}

	if _, err := s.Mappings.Update(by(""), "1", func(m *mappingv1.LibraryMapping) error {
		m.LocalLibraryCode = "KB"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)
	if err := s.Mappings.Delete(by(""), "2", accept); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)
	if err := s.Libraries.Delete(by(""), "GUB", accept); err != nil {
		t.Fatalf("GUB has no mappings left: %v", err)
	}
	if err := s.Partners.Delete(by(""), "ABC", accept); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)
	if _, err := s.Partners.Create(by(""), &mappingv1.Partner{Code: "abc"}); err != nil {
		t.Fatalf("deleting ABC must free its folded code: %v", err)
	}
	checkIndexes(t, s)
}

func second[T any](_ T, err error) error { return err }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapping.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	lib := createLibrary(t, s, "GUB")
	m := createMapping(t, s, mapping(libris, "Gbg", "GUB"))
	p := createPartner(t, s, "ABC")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	for _, tc := range []struct {
		got  func() (proto.Message, error)
		want proto.Message
	}{
		{func() (proto.Message, error) { return s.Libraries.Get("GUB") }, lib},
		{func() (proto.Message, error) { return s.Mappings.Get("1") }, m},
		{func() (proto.Message, error) { return s.Partners.Get("ABC") }, p},
	} {
		got, err := tc.got()
		if err != nil || !proto.Equal(got, tc.want) {
			t.Errorf("after reopen: %v (%v), want %v", got, err, tc.want)
		}
	}
	if got, err := s.ResolvePartnerCodes([]string{"abc"}); err != nil || got[0] == nil {
		t.Errorf("fold index lost on reopen: %v, %v", got, err)
	}
	// The ID sequence survives too: a new mapping never reuses an old name.
	if m2 := createMapping(t, s, mapping(libris, "Xyz", "GUB")); m2.Name != "libraryMappings/2" {
		t.Errorf("new mapping after reopen is %s, want libraryMappings/2", m2.Name)
	}
}

func TestStamp(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "mapping.db"))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return t0 }
	in := library("GUB")
	in.Name, in.Etag = "libraries/forged", "forged"
	created, err := s.Libraries.Create(by(""), in)
	noErr(t, err)
	if created.Name != "libraries/GUB" || !created.CreateTime.AsTime().Equal(t0) || !created.UpdateTime.AsTime().Equal(t0) {
		t.Fatalf("created = %v", created)
	}
	checkEtag(t, created)

	s.now = func() time.Time { return t0.Add(time.Hour) }
	updated, err := s.Libraries.Update(by(""), "GUB", func(l *mappingv1.Library) error {
		l.DisplayName = "Renamed"
		return nil
	})
	noErr(t, err)
	if !updated.CreateTime.AsTime().Equal(t0) || !updated.UpdateTime.AsTime().Equal(t0.Add(time.Hour)) {
		t.Errorf("update must keep create_time and move update_time: %v", updated)
	}
	if updated.Etag == created.Etag {
		t.Error("etag did not change on update")
	}
	checkEtag(t, updated)
}

func checkEtag(t *testing.T, l *mappingv1.Library) {
	t.Helper()
	c := proto.CloneOf(l)
	c.Etag = ""
	if want := resource.Etag(c); l.Etag != want {
		t.Errorf("etag = %q, want %q", l.Etag, want)
	}
}

// TestListMappingsRanges checks the prefix walk: pages stay inside their filter's key
// range and the last page of a range promises no more, even when other keys follow it.
func TestListMappingsRanges(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "mapping.db"))
	for _, code := range []string{"A", "B", "C"} {
		createLibrary(t, s, code)
	}
	for _, m := range []*mappingv1.LibraryMapping{
		mapping(netpunkt, "1", "A"), mapping(libris, "b", "A"), mapping(libris, "a", "A"),
		mapping(libris, "c", "B"), mapping(netpunkt, "2", "B"), mapping(libris, "d", "C"),
	} {
		createMapping(t, s, m)
	}
	for _, tc := range []struct {
		system  typev1.ExternalSystem
		library string
		want    string
	}{
		{0, "", "L:a L:b L:c L:d N:1 N:2"},
		{libris, "", "L:a L:b L:c L:d"},
		{netpunkt, "", "N:1 N:2"},
		{0, "A", "L:a L:b N:1"},
		{libris, "B", "L:c"},
		{netpunkt, "C", ""},
		{0, "NOPE", ""},
	} {
		for _, limit := range []int{1, 2, 3, 10} {
			var got []string
			var after []byte
			for page := 0; ; page++ {
				items, next, err := s.ListMappings(tc.system, tc.library, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				// A token must lead to more items: no empty trailing pages.
				if len(items) > limit || (page > 0 && len(items) == 0) || page > 10 {
					t.Fatalf("%v %q limit %d: bad page %v next %q", tc.system, tc.library, limit, items, next)
				}
				for _, m := range items {
					got = append(got, m.System.String()[16:17]+":"+m.ExternalCode)
				}
				if next == nil {
					break
				}
				after = next
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("%v %q limit %d: got %q, want %q", tc.system, tc.library, limit, g, tc.want)
			}
		}
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"ABC", "abc", true},
		{"Gbg", "GBG", true},
		{"K", "\u212a", true}, // Kelvin sign folds with K
		{"ÅÄÖ", "åäö", true},  // non-ASCII letters fold too
		{"A-1.b", "a-1.B", true},
		{"ABC", "ABD", false},
		{"ss", "ß", false}, // simple folding never changes a string's length
	} {
		if got := fold(tc.a) == fold(tc.b); got != tc.same {
			t.Errorf("fold(%q) == fold(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
		}
		if got := strings.EqualFold(tc.a, tc.b); got != tc.same {
			t.Errorf("test case disagrees with strings.EqualFold(%q, %q)", tc.a, tc.b)
		}
	}
}

// requestEntries counts the entries of both request buckets.
func requestEntries(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	for k := range dump(t, s) {
		if strings.HasPrefix(k, string(bucketCreateRequests)+"/") || strings.HasPrefix(k, string(bucketRequestsByRecord)+"/") {
			n++
		}
	}
	return n
}

func TestCreateRequestID(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "mapping.db"))
	lib, err := s.Libraries.Create(by("r1"), library("GUB"))
	noErr(t, err)
	m1, err := s.Mappings.Create(by("r1"), mapping(libris, "Gbg", "GUB"))
	noErr(t, err)
	p, err := s.Partners.Create(by("r1"), &mappingv1.Partner{Code: "ABC"}) // request IDs are per collection
	noErr(t, err)
	checkIndexes(t, s)
	if n := requestEntries(t, s); n != 6 {
		t.Fatalf("%d request entries, want 6", n)
	}

	// Retries return the first record and write nothing, not even a mapping ID.
	before := dump(t, s)
	for _, tc := range []struct {
		name string
		got  func() (proto.Message, error)
		want proto.Message
	}{
		{"library", func() (proto.Message, error) { return s.Libraries.Create(by("r1"), library("GUB")) }, lib},
		{"mapping", func() (proto.Message, error) { return s.Mappings.Create(by("r1"), mapping(libris, "Gbg", "GUB")) }, m1},
		{"mapping to another library", func() (proto.Message, error) { return s.Mappings.Create(by("r1"), mapping(libris, "Gbg", "KB")) }, m1},
		{"partner", func() (proto.Message, error) { return s.Partners.Create(by("r1"), &mappingv1.Partner{Code: "ABC"}) }, p},
	} {
		got, err := tc.got()
		if err != nil || !proto.Equal(got, tc.want) {
			t.Errorf("%s retry = %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
	if !mapsEqual(before, dump(t, s)) {
		t.Error("a retry changed the file")
	}

	// Refused creates, including reuse for another identity, leave no request entry.
	var conflict *ConflictError
	var missing *MissingLibraryError
	var reused *RequestReusedError
	for _, tc := range []struct {
		name string
		err  error
		ok   func(error) bool
	}{
		{"library reused for another code", second(s.Libraries.Create(by("r1"), library("KB"))), func(err error) bool {
			return errors.As(err, &reused) && reused.Created == "libraries/GUB"
		}},
		{"mapping reused for another code", second(s.Mappings.Create(by("r1"), mapping(libris, "GBG", "GUB"))), func(err error) bool {
			return errors.As(err, &reused) && reused.Created == m1.Name
		}},
		{"mapping reused for another system", second(s.Mappings.Create(by("r1"), mapping(netpunkt, "Gbg", "GUB"))), func(err error) bool {
			return errors.As(err, &reused) && reused.Created == m1.Name
		}},
		{"partner reused for a code differing in case", second(s.Partners.Create(by("r1"), &mappingv1.Partner{Code: "abc"})), func(err error) bool {
			return errors.As(err, &reused) && reused.Created == "partners/ABC"
		}},
		{"duplicate mapping", second(s.Mappings.Create(by("x1"), mapping(libris, "Gbg", "GUB"))), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == m1.Name
		}},
		{"mapping to a missing library", second(s.Mappings.Create(by("x2"), mapping(libris, "Xyz", "NOPE"))), func(err error) bool {
			return errors.As(err, &missing)
		}},
		{"duplicate library", second(s.Libraries.Create(by("x3"), library("GUB"))), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == "libraries/GUB"
		}},
		{"partner code differing in case", second(s.Partners.Create(by("x4"), &mappingv1.Partner{Code: "abc"})), func(err error) bool {
			return errors.As(err, &conflict) && conflict.Existing == "partners/ABC"
		}},
	} {
		if !tc.ok(tc.err) {
			t.Errorf("%s: err = %v", tc.name, tc.err)
		}
	}
	if !mapsEqual(before, dump(t, s)) {
		t.Error("a refused create changed the file")
	}
	// A request ID whose create was refused is free for a create that succeeds.
	m2, err := s.Mappings.Create(by("x2"), mapping(libris, "Xyz", "GUB"))
	noErr(t, err)
	if m2.Name != "libraryMappings/2" {
		t.Errorf("mapping after refused creates is %s, want libraryMappings/2", m2.Name)
	}

	// Deleting a record forgets its request: a retry creates anew.
	noErr(t, s.Mappings.Delete(by(""), "1", accept))
	checkIndexes(t, s)
	again, err := s.Mappings.Create(by("r1"), mapping(libris, "Gbg", "GUB"))
	noErr(t, err)
	if again.Name != "libraryMappings/3" {
		t.Errorf("retry after delete made %s, want libraryMappings/3", again.Name)
	}
	// A code deleted and taken again by another create is not the first request's record.
	noErr(t, s.Partners.Delete(by(""), "ABC", accept))
	other := createPartner(t, s, "ABC")
	if _, err := s.Partners.Create(by("r1"), &mappingv1.Partner{Code: "ABC"}); !errors.As(err, &conflict) {
		t.Errorf("retry after the code was re-taken = %v, want a conflict", err)
	}
	if got, err := s.Partners.Get("ABC"); err != nil || !proto.Equal(got, other) {
		t.Errorf("partner ABC = %v (%v), want %v", got, err, other)
	}
	checkIndexes(t, s)
	if n := requestEntries(t, s); n != 6 { // library r1, mappings x2 and r1 (again), both ways
		t.Errorf("%d request entries, want 6", n)
	}
}

// TestChangeWithoutAuditCallIsRefused: a change nobody can account for is not stored;
// the record, its indexes, its request entry and the trail all stay as they were.
func TestChangeWithoutAuditCallIsRefused(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "m.db"))
	createLibrary(t, s, "GUB")
	createMapping(t, s, mapping(libris, "Gbg", "GUB"))
	before := dump(t, s)
	anonymous := audit.Call{RequestID: "r1"}
	changes := []struct {
		name string
		err  error
	}{
		{"create library", second(s.Libraries.Create(anonymous, library("KB")))},
		{"create partner", second(s.Partners.Create(audit.Call{Principal: "tester"}, &mappingv1.Partner{Code: "ABC"}))},
		{"update mapping", second(s.Mappings.Update(audit.Call{Method: "Test"}, "1", func(m *mappingv1.LibraryMapping) error {
			m.LocalLibraryCode = "GUB"
			return nil
		}))},
		{"delete mapping", s.Mappings.Delete(anonymous, "1", accept)},
	}
	for _, c := range changes {
		if !errors.Is(c.err, audit.ErrIncomplete) {
			t.Errorf("%s: %v, want audit.ErrIncomplete", c.name, c.err)
		}
	}
	if after := dump(t, s); !mapsEqual(before, after) {
		t.Errorf("refused changes wrote to the file")
	}
}
