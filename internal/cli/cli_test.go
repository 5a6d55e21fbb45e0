package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/tlsconfig"
)

func TestMainExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout or stderr
	}{
		{nil, 2, "interloan needs a subcommand: audit, backup, certs"},
		{[]string{"help"}, 0, "Available Commands:"},
		{[]string{"--help"}, 0, "Available Commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate" for "interloan"`},
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

// TestCertsCreate: a CA and a certificate per service, each valid for the common hosts
// and its own in-cluster names, the harvester's carrying its role; usage errors write
// nothing.
func TestCertsCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"certs", "create", "--dir", dir, "--namespace", "interloan"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.crt: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "profiles.crt"), filepath.Join(dir, "profiles.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "profiles", "profiles.interloan.svc.cluster.local"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("profiles certificate for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "mapping.interloan.svc"}); err == nil {
		t.Error("the profiles certificate is valid for mapping's name")
	}
	if roles, err := tlsconfig.CertificateRoles(filepath.Join(dir, "harvester.crt")); err != nil || len(roles) != 1 || roles[0] != "harvester" {
		t.Errorf("harvester roles %v %v", roles, err)
	}
	other := filepath.Join(t.TempDir(), "none")
	for _, args := range [][]string{{"certs"}, {"certs", "create"}, {"certs", "create", "--dir", other, "extra"}, {"certs", "create", "--dir", other, "--valid", "-1h"}} {
		if code := Main(args, &stdout, &stderr); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		}
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a usage error wrote files")
	}
}
