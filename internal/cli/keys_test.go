package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
)

func TestKeysArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.key")
	if code := Main([]string{"keys", "new", "--out", existing}, new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
		t.Fatalf("keys new = %d", code)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"keys"}, 2, "interloan keys needs a subcommand: new, rotate"},
		{[]string{"keys", "frobnicate"}, 2, `unknown command "frobnicate" for "interloan keys"`},
		{[]string{"keys", "new"}, 2, "--out FILE is required"},
		{[]string{"keys", "new", "--out", existing, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"keys", "new", "--bogus"}, 2, "bogus"},
		{[]string{"keys", "new", "-h"}, 0, "-out"},
		{[]string{"keys", "new", "--out", existing}, 1, "already exists"},
		{[]string{"keys", "rotate", "--data-dir", dir}, 2, "--secret-key-file NEW is required"},
		{[]string{"keys", "rotate", "--bogus"}, 2, "bogus"},
		{[]string{"keys", "rotate", "-h"}, 0, "-previous-secret-key-files"},
		{[]string{"keys", "rotate", "--data-dir", filepath.Join(dir, "none"), "--secret-key-file", existing}, 1, "no profiles data file"},
		{[]string{"keys", "rotate", "--data-dir", dir, "--secret-key-file", filepath.Join(dir, "missing.key")}, 1, "read encryption key"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("Main(%q) = %d, output %q; want %d containing %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}

// TestKeysNewAndRotate: a profile's API key stored by the service under an old key is,
// after `keys new` and `keys rotate`, under the new key alone; a second rotation has
// nothing to do.
func TestKeysNewAndRotate(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	for _, f := range []string{oldKey, newKey} {
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"keys", "new", "--out", f}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "wrote key") {
			t.Fatalf("keys new: %d %s %s", code, stdout.String(), stderr.String())
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode: %v %v", fi, err)
		}
	}
	data := filepath.Join(dir, "data")
	createProfile(t, data, oldKey, "LIBRIS-X", "the-api-key")

	rotate := []string{"keys", "rotate", "--data-dir", data, "--secret-key-file", newKey, "--previous-secret-key-files", oldKey}
	var stdout, stderr bytes.Buffer
	if code := Main(rotate, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "1 re-encrypted, 0 already current") {
		t.Fatalf("keys rotate = %d: %s %s", code, stdout.String(), stderr.String())
	}
	// The new key alone now opens every secret.
	stdout.Reset()
	if code := Main([]string{"keys", "rotate", "--data-dir", data, "--secret-key-file", newKey}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "0 re-encrypted, 1 already current") {
		t.Fatalf("second rotate = %d: %s %s", code, stdout.String(), stderr.String())
	}
	// The old key alone no longer opens it: the rotation fails and names the profile.
	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"keys", "rotate", "--data-dir", data, "--secret-key-file", oldKey}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "integrationProfiles/LIBRIS-X") {
		t.Fatalf("rotate back without the new key = %d: %s %s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "the-api-key") {
		t.Fatal("output shows an API key")
	}
}

// createProfile runs the profiles service on dataDir with keyFile just long enough to
// create a profile with an API key, as an admin would.
func createProfile(t *testing.T, dataDir, keyFile, code, apiKey string) {
	t.Helper()
	token, line, err := auth.NewToken("admin", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	cfg := profilesapp.Config{
		Common:        server.Common{DataDir: dataDir, GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), TokensFile: tokens, Ready: func(g, _ net.Addr) { addr <- g.String() }},
		SecretKeyFile: keyFile,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- profilesapp.Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("profiles: %v", err)
		}
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		done <- err
		t.Fatalf("profiles did not start: %v", err)
	}
	conn, err := client.Dial(a, tlsconfig.Config{}, token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := profilesv1.NewProfileServiceClient(conn).CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Code: code, DisplayName: code, ApiKey: apiKey},
	}); err != nil {
		t.Fatal(err)
	}
}
