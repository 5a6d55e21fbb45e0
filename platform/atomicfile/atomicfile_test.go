package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "f")
	if n, err := Write(path, strings.NewReader("one"), 0o600, nil); err != nil || n != 3 {
		t.Fatalf("first write: %d %v", n, err)
	}
	refused := errors.New("no")
	var seen string
	_, err := Write(path, strings.NewReader("two!"), 0o600, func(tmp string, size int64) error {
		b, _ := os.ReadFile(tmp)
		seen = string(b)
		if size != 4 {
			t.Errorf("size %d", size)
		}
		return refused
	})
	if !errors.Is(err, refused) || seen != "two!" {
		t.Fatalf("refused write: %v, the check saw %q", err, seen)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("a refused write changed the file: %q", b)
	}
	if _, err := Write(path, strings.NewReader("three"), 0o640, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if b, _ := os.ReadFile(path); string(b) != "three" || err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("replaced file: %q %v %v", b, fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".f.*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
