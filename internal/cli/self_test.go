package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSelfCommand(t *testing.T) {
	dir := t.TempDir()
	installed := filepath.Join(dir, "interloan")
	other := filepath.Join(dir, "copy-of-interloan")
	for _, f := range []string{installed, other} {
		if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	found := func(string) (string, error) { return installed, nil }
	missing := func(string) (string, error) { return "", errors.New("not found") }
	for _, tc := range []struct {
		name, exe string
		look      func(string) (string, error)
		want      string
	}{
		{"go run", "/tmp/go-build123/b001/exe/interloan", found, "go run ./cmd/interloan"},
		{"installed", installed, found, "interloan"},
		{"another binary is on PATH", other, found, other},
		{"not on PATH", other, missing, other},
	} {
		if got := selfCommandOf(tc.exe, tc.look); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
