package boltdb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestRestore: a backup replaces nothing without force, replaces (keeping the old file)
// with it, lands only once verify has accepted a copy of it in a directory of its own,
// lands as it was taken whatever verify did to its copy, and never replaces a file a
// service holds open. A refused backup leaves nothing behind.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	s := Schema{Service: "svc", Version: 1, Buckets: [][]byte{[]byte("b")}}
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
	target := filepath.Join(dir, "data", "svc.db")
	var candidates []string
	verify := func(p string) error {
		candidates = append(candidates, p)
		return Verify(p, func(p string) (io.Closer, error) { return Open(p, s) })
	}
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
	noLeftovers := func() {
		t.Helper()
		if left, _ := filepath.Glob(filepath.Join(dir, "data", ".svc.db.*")); len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	}

	for _, bad := range []struct{ name, snap, want string }{
		{"garbage", "not a bbolt file at all, just text", "refused, nothing changed"},
		{"empty", "", "empty"},
	} {
		if _, err := Restore(target, strings.NewReader(bad.snap), verify, false); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("%s backup: %v, want %q", bad.name, err, bad.want)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("a refused %s backup left a data file", bad.name)
		}
		noLeftovers()
	}
	if len(candidates) != 1 || filepath.Dir(filepath.Dir(candidates[0])) != filepath.Join(dir, "data") ||
		filepath.Base(candidates[0]) != "svc.db" {
		t.Fatalf("verify saw %v, want one copy named svc.db in a directory of its own beside the target", candidates)
	}
	if n, err := Restore(target, bytes.NewReader(snap.Bytes()), verify, false); err != nil || n != int64(snap.Len()) {
		t.Fatalf("restore into an empty directory: %d %v", n, err)
	}
	if read(target) != "from backup" {
		t.Fatal("the restored file lacks the record")
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, snap.Bytes()) {
		t.Fatal("the restored file is not the backup as taken")
	}
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), verify, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("an existing file must need force: %v", err)
	}
	running, err := Open(target, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), verify, true); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a file in use must be refused: %v", err)
	}
	running.Close()
	refuse := func(string) error { return errors.New("not this one") }
	before, _ := os.ReadFile(target)
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), refuse, true); err == nil || !strings.Contains(err.Error(), "not this one") {
		t.Fatalf("a refusal of verify: %v", err)
	}
	if after, _ := os.ReadFile(target); !bytes.Equal(after, before) {
		t.Fatal("a refused forced restore changed the file")
	}
	if kept, _ := filepath.Glob(target + ".before-restore-*"); len(kept) != 0 {
		t.Fatalf("a refused restore set the file aside: %v", kept)
	}
	if _, err := Restore(target, bytes.NewReader(snap.Bytes()), verify, true); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	kept, _ := filepath.Glob(target + ".before-restore-*")
	if len(kept) != 1 || read(kept[0]) != "from backup" {
		t.Fatalf("the replaced file was not kept: %v", kept)
	}
	noLeftovers()
}

// TestVerify: Verify accepts a sound file its service opens and refuses, with the
// reason, another service's file, one the service cannot open and the damage it can
// see without walking into it (a file cut short). Damage that crashes the check is
// internal/cli's test, where the check runs in a child process.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	s := Schema{Service: "svc", Version: 2, Buckets: [][]byte{[]byte("b")}}
	path := filepath.Join(dir, "svc.db")
	db, err := Open(path, s)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for i := range 2000 { // several pages, so that cutting the file loses some
			if err := tx.Bucket([]byte("b")).Put(Uint64Key(uint64(i)), bytes.Repeat([]byte("v"), 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if _, err := Backup(db, &snap); err != nil {
		t.Fatal(err)
	}
	db.Close()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	as := func(s Schema) func(string) (io.Closer, error) {
		return func(p string) (io.Closer, error) { return Open(p, s) }
	}
	if err := Verify(write("good.db", snap.Bytes()), as(s)); err != nil {
		t.Fatalf("a sound file: %v", err)
	}
	for _, tc := range []struct {
		name string
		file []byte
		open Schema
		is   error
		want string
	}{
		{"another service", snap.Bytes(), Schema{Service: "other", Version: 2}, ErrOtherService, "holds svc data, not other"},
		{"newer schema", snap.Bytes(), Schema{Service: "svc", Version: 1}, ErrNewerSchema, "schema 2 > 1"},
		{"cut short", snap.Bytes()[:snap.Len()/2], s, ErrDamaged, "the file ends at"},
		{"not bbolt", bytes.Repeat([]byte("x"), 8192), s, ErrDamaged, "invalid"},
	} {
		err := Verify(write(tc.name, tc.file), as(tc.open))
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.is, tc.want)
		}
	}
}
