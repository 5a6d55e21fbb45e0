package boltdb

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestRestore: a snapshot replaces nothing without force, replaces (keeping the old file)
// with it, is checked before it lands, and never replaces a file a service holds open.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	s := Schema{Version: 1, Buckets: [][]byte{[]byte("b")}}
	src, err := Open(filepath.Join(dir, "src.db"), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("k"), []byte("from backup")) }); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if _, err := Backup(src, &snap); err != nil {
		t.Fatal(err)
	}
	src.Close()
	check := func(p string) (io.Closer, error) { return Open(p, s) }
	read := func(p string) string {
		t.Helper()
		db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v string
		_ = db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket([]byte("b")).Get([]byte("k"))); return nil })
		return v
	}

	target := filepath.Join(dir, "data", "svc.db")
	if _, err := Restore(target, bytes.NewReader([]byte("not a bbolt file at all, just text")), check, false); err == nil {
		t.Fatal("a garbage snapshot was restored")
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("a refused snapshot left a data file")
	}
	if _, err := Restore(target, bytes.NewReader(nil), check, false); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty snapshot: %v", err)
	}
	if n, err := Restore(target, bytes.NewReader(snap.Bytes()), check, false); err != nil || n != int64(snap.Len()) {
		t.Fatalf("restore into an empty directory: %d %v", n, err)
	}
	if read(target) != "from backup" {
		t.Fatal("the restored file lacks the record")
	}
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), check, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("an existing file must need force: %v", err)
	}
	running, err := Open(target, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), check, true); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a file in use must be refused: %v", err)
	}
	running.Close()
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), check, true); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	kept, _ := filepath.Glob(target + ".before-restore-*")
	if len(kept) != 1 || read(kept[0]) != "from backup" {
		t.Fatalf("the replaced file was not kept: %v", kept)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "data", ".svc.db.*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}
