package boltdb

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesBucketsAndRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "db.bolt")
	db, err := Open(path, Schema{Service: "svc", Version: 2, Buckets: [][]byte{[]byte("a"), []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range []string{"a", "b", "meta"} {
			if tx.Bucket([]byte(b)) == nil {
				t.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening with the same version works; an older binary is refused.
	db, err = Open(path, Schema{Service: "svc", Version: 2, Buckets: [][]byte{[]byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Schema{Service: "svc", Version: 1}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary: got %v, want ErrNewerSchema", err)
	}
	// A newer binary without a migration refuses the file; with one, it migrates once.
	if _, err := Open(path, Schema{Service: "svc", Version: 3}); err == nil {
		t.Fatal("upgrade without a migration accepted")
	}
	var migratedFrom []uint32
	migrate := func(tx *bolt.Tx, from uint32) error {
		migratedFrom = append(migratedFrom, from)
		return tx.Bucket([]byte("a")).Put([]byte("migrated"), []byte("yes"))
	}
	for range 2 {
		db, err := Open(path, Schema{Service: "svc", Version: 3, Buckets: [][]byte{[]byte("a")}, Migrate: migrate})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if len(migratedFrom) != 1 || migratedFrom[0] != 2 {
		t.Fatalf("migrations ran from %v, want once from 2", migratedFrom)
	}
}

// TestOpenClaimsTheFileForItsService: a new file records its service; another service's
// file is refused and left as it was; a file from before files named their service is
// claimed at open, unless it holds a bucket the schema does not have.
func TestOpenClaimsTheFileForItsService(t *testing.T) {
	dir := t.TempDir()
	profiles := Schema{Service: "profiles", Version: 1, Buckets: [][]byte{[]byte("profiles"), []byte("shared")}}
	mapping := Schema{Service: "mapping", Version: 1, Buckets: [][]byte{[]byte("libraries"), []byte("shared")}}
	recorded := func(path string) (service string, buckets []string) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_ = db.View(func(tx *bolt.Tx) error {
			if m := tx.Bucket(metaBucket); m != nil {
				service = string(m.Get(serviceKey))
			}
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error { buckets = append(buckets, string(name)); return nil })
		})
		return service, buckets
	}
	// legacy writes a file as an Open without service records did: buckets and version.
	legacy := func(name string, buckets ...string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucket(metaBucket)
			if err != nil {
				return err
			}
			for _, b := range buckets {
				if _, err := tx.CreateBucket([]byte(b)); err != nil {
					return err
				}
			}
			return meta.Put(schemaVersionKey, []byte{0, 0, 0, 1})
		})
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	open := func(path string, s Schema) error {
		db, err := Open(path, s)
		if err == nil {
			db.Close()
		}
		return err
	}

	fresh := filepath.Join(dir, "mapping.db")
	if err := open(fresh, mapping); err != nil {
		t.Fatal(err)
	}
	if svc, _ := recorded(fresh); svc != "mapping" {
		t.Fatalf("a new file records %q, want mapping", svc)
	}
	_, before := recorded(fresh)
	err := open(fresh, profiles)
	if !errors.Is(err, ErrOtherService) || !strings.Contains(err.Error(), "holds mapping data, not profiles") {
		t.Fatalf("mapping's file opened as profiles: %v", err)
	}
	if svc, after := recorded(fresh); svc != "mapping" || !slices.Equal(after, before) {
		t.Fatalf("a refused open changed the file: %q %v, was %v", svc, after, before)
	}

	old := legacy("old-profiles.db", "profiles", "shared")
	if err := open(old, profiles); err != nil {
		t.Fatalf("a file from before service records: %v", err)
	}
	if svc, _ := recorded(old); svc != "profiles" {
		t.Fatalf("the old file records %q after its open, want profiles", svc)
	}
	if err := open(old, mapping); !errors.Is(err, ErrOtherService) {
		t.Fatalf("once claimed, the old file opened as mapping: %v", err)
	}

	foreign := legacy("old-mapping.db", "libraries", "shared")
	err = open(foreign, profiles)
	if !errors.Is(err, ErrOtherService) || !strings.Contains(err.Error(), `bucket "libraries"`) {
		t.Fatalf("an old mapping file opened as profiles: %v", err)
	}
	if svc, buckets := recorded(foreign); svc != "" || slices.Contains(buckets, "profiles") {
		t.Fatalf("a refused old file was changed: %q %v", svc, buckets)
	}

	if err := open(filepath.Join(dir, "anon.db"), Schema{Version: 1}); err == nil {
		t.Fatal("a schema without a service opened a file")
	}
}

func TestOpenLockedFileNamesTheCause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(path, Schema{Service: "svc", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(path, Schema{Service: "svc", Version: 1}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestKeysSortInOrder(t *testing.T) {
	if bytes.Compare(Uint64Key(255), Uint64Key(256)) >= 0 {
		t.Error("Uint64Key order")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if bytes.Compare(append(AppendReverseTime(nil, t0.Add(time.Nanosecond)), 'z'), append(AppendReverseTime(nil, t0), 'a')) >= 0 {
		t.Error("AppendReverseTime order: newer must sort first")
	}
	if k := AppendReverseTime([]byte("p"), t0); len(k) != 9 || !bytes.HasPrefix(k, []byte("p")) {
		t.Errorf("AppendReverseTime = %x", k)
	}
}

func TestPageStaysInPrefixAndReportsMore(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), Schema{Service: "svc", Version: 1, Buckets: [][]byte{[]byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, k := range []string{"a1", "b1", "b2", "b3", "c1"} {
			if err := tx.Bucket([]byte("b")).Put([]byte(k), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := func(prefix, after string, limit int) (keys []string, last string, more bool) {
		_ = db.View(func(tx *bolt.Tx) error {
			var a []byte
			if after != "" {
				a = []byte(after)
			}
			l, m, err := Page(tx.Bucket([]byte("b")).Cursor(), []byte(prefix), a, limit, func(k, _ []byte) (bool, error) {
				keys = append(keys, string(k))
				return string(k) != "b2" || prefix != "", nil // with no prefix, b2 is filtered out
			})
			if err != nil {
				t.Fatal(err)
			}
			last, more = string(l), m
			return nil
		})
		return keys, last, more
	}
	for _, tc := range []struct {
		prefix, after string
		limit         int
		last          string
		more          bool
	}{
		{"b", "", 2, "b2", true},
		{"b", "b2", 2, "b3", false}, // c1 follows, but outside the prefix
		{"b", "", 3, "b3", false},
		{"", "", 3, "b3", true}, // a1, b1, (b2 rejected), b3; c1 follows
		{"", "b3", 5, "c1", false},
		{"z", "", 5, "", false},
	} {
		_, last, more := page(tc.prefix, tc.after, tc.limit)
		if last != tc.last || more != tc.more {
			t.Errorf("Page(%q after %q, %d) = last %q more %v, want %q %v", tc.prefix, tc.after, tc.limit, last, more, tc.last, tc.more)
		}
	}
}

// TestPageBoundedStopsAfterMaxScan checks the scan bound: a page stops after maxScan
// examined keys, resumes after the last one examined (accepted or not), and a walk of
// short pages still visits every key of the range exactly once.
func TestPageBoundedStopsAfterMaxScan(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), Schema{Service: "svc", Version: 1, Buckets: [][]byte{[]byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := []string{"a1", "b1", "b2", "b3", "b4", "b5", "c1"}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := tx.Bucket([]byte("b")).Put([]byte(k), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Only b5 is accepted, so with maxScan 2 the first pages are empty but promise more.
	accept := func(k []byte) bool { return string(k) == "b5" }
	page := func(after []byte, limit, maxScan int) (got, seen []string, last []byte, more bool) {
		_ = db.View(func(tx *bolt.Tx) error {
			var err error
			last, more, err = PageBounded(tx.Bucket([]byte("b")).Cursor(), []byte("b"), after, limit, maxScan, func(k, _ []byte) (bool, error) {
				seen = append(seen, string(k))
				if accept(k) {
					got = append(got, string(k))
				}
				return accept(k), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return nil
		})
		return got, seen, last, more
	}
	for _, tc := range []struct {
		after      string
		limit, max int
		got, last  string
		more       bool
		seen       string
	}{
		{"", 5, 2, "", "b2", true, "b1 b2"},
		{"b2", 5, 2, "", "b4", true, "b3 b4"},
		{"b4", 5, 2, "b5", "b5", false, "b5"},           // the range ends: no more, whatever the bound
		{"", 5, 5, "b5", "b5", false, "b1 b2 b3 b4 b5"}, // bound reached exactly at the end
		{"", 5, 0, "b5", "b5", false, "b1 b2 b3 b4 b5"}, // no bound: Page
		{"", 1, 5, "b5", "b5", false, "b1 b2 b3 b4 b5"},
	} {
		var after []byte
		if tc.after != "" {
			after = []byte(tc.after)
		}
		got, seen, last, more := page(after, tc.limit, tc.max)
		if strings.Join(got, " ") != tc.got || string(last) != tc.last || more != tc.more || strings.Join(seen, " ") != tc.seen {
			t.Errorf("after %q limit %d max %d: got %v seen %v last %q more %v; want %q seen %q last %q more %v",
				tc.after, tc.limit, tc.max, got, seen, last, more, tc.got, tc.seen, tc.last, tc.more)
		}
	}
	// The limit still wins over the bound: with everything accepted, 2 of 5 fill the page.
	accept = func([]byte) bool { return true }
	if got, _, last, more := page(nil, 2, 3); len(got) != 2 || string(last) != "b2" || !more {
		t.Errorf("limit 2 max 3: got %v last %q more %v", got, last, more)
	}
}

func TestCreateRequests(t *testing.T) {
	r := CreateRequests{ByRequest: []byte("req"), ByRecord: []byte("rec")}
	db, err := Open(filepath.Join(t.TempDir(), "db"), Schema{Service: "svc", Version: 1, Buckets: [][]byte{r.ByRequest, r.ByRecord}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if r.Lookup(tx, "a", "r1") != nil {
			t.Error("unknown request found")
		}
		if err := r.Remember(tx, "a", "r1", []byte("k1")); err != nil {
			return err
		}
		if got := r.Lookup(tx, "a", "r1"); string(got) != "k1" {
			t.Errorf("Lookup = %q", got)
		}
		if r.Lookup(tx, "b", "r1") != nil {
			t.Error("scopes must not share requests")
		}
		if err := r.Forget(tx, "b", []byte("k1")); err != nil { // other scope: no effect
			return err
		}
		if err := r.Forget(tx, "a", []byte("k1")); err != nil {
			return err
		}
		if k, _ := tx.Bucket(r.ByRecord).Cursor().First(); r.Lookup(tx, "a", "r1") != nil || k != nil {
			t.Error("Forget left entries")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
