package boltdb

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesBucketsAndRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "db.bolt")
	db, err := Open(path, Schema{Version: 2, Buckets: [][]byte{[]byte("a"), []byte("b")}})
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
	db, err = Open(path, Schema{Version: 2, Buckets: [][]byte{[]byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Schema{Version: 1}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary: got %v, want ErrNewerSchema", err)
	}
}

func TestKeysSortInOrder(t *testing.T) {
	if bytes.Compare(Uint64Key(255), Uint64Key(256)) >= 0 {
		t.Error("Uint64Key order")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if bytes.Compare(TimeKey(t0, []byte("z")), TimeKey(t0.Add(time.Nanosecond), []byte("a"))) >= 0 {
		t.Error("TimeKey order")
	}
}
