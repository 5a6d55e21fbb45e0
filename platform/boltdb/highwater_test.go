package boltdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestHighWater: the mark grows with the data, lies on a page boundary inside the file,
// and is read while the database is open.
func TestHighWater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.bolt")
	db, err := Open(path, Schema{Service: "svc", Version: 1, Buckets: [][]byte{[]byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, err := HighWater(path)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("a")).Put([]byte("k"), []byte(strings.Repeat("v", 1<<20)))
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := HighWater(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after < before+1<<20 || after%4096 != 0 || int64(after) > st.Size() {
		t.Fatalf("high water %d → %d, file of %d bytes", before, after, st.Size())
	}
}

func TestHighWaterRejectsOtherFiles(t *testing.T) {
	for name, content := range map[string][]byte{"empty": nil, "short": []byte("bolt"), "zeros": make([]byte, 8192)} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := HighWater(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
