package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interloan/interloan/platform/auth"
)

func TestMainExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout or stderr
	}{
		{nil, 2, "Usage:"},
		{[]string{"help"}, 0, "interloan up"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"up", "-h"}, 0, "-base-port"},
		{[]string{"up", "--no-such-flag"}, 2, "no-such-flag"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("Main(%q) = %d, output %q; want %d containing %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}

// TestTokenCreate: the token goes to stdout once, its hash to the file (created 0600);
// bad roles or a missing principal change nothing.
func TestTokenCreate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "tokens")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"token", "create", "--role", "admin", "--principal", "alice", "--tokens-file", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())
	tokens, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tokens.Authenticate(tok); !ok || p.Name != "alice" || !p.Has(auth.RoleAdmin) {
		t.Fatalf("token not in the file: %v %v", p, ok)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode: %v %v", fi, err)
	}
	if strings.Contains(stderr.String(), tok) {
		t.Fatal("the token must appear on stdout only")
	}
	before, _ := os.ReadFile(file)
	for _, args := range [][]string{
		{"token", "create", "--role", "root", "--principal", "bob", "--tokens-file", file},
		{"token", "create", "--role", "viewer", "--tokens-file", file},
		{"token", "create", "--role", "viewer", "--principal", "bad name", "--tokens-file", file},
		{"token", "frobnicate"},
	} {
		stdout.Reset()
		if code := Main(args, &stdout, &stderr); code == 0 || stdout.Len() != 0 {
			t.Errorf("Main(%q) = %d, stdout %q; want a failure and no token", args, code, stdout.String())
		}
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("a failed create changed the tokens file")
	}
}
