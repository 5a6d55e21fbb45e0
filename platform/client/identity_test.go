package client

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// TestIdentity: a service authenticates with its token when it has one, with its
// certificate when that names its role, and refuses to start otherwise.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	files, err := pki.WriteSuite(dir, pki.SuiteIdentities(), []string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "harvester.token")
	if err := os.WriteFile(tokenFile, []byte("il_secret-token-of-the-harvester\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certOf := func(name string) tlsconfig.Config {
		return tlsconfig.Config{CertFile: files.Cert[name], KeyFile: files.Key[name], CAFile: files.CA}
	}
	tests := []struct {
		name      string
		token     string
		tls       tlsconfig.Config
		wantToken bool   // bearer credentials
		wantErr   string // substring; "" for success
	}{
		{"token, plain text", tokenFile, tlsconfig.Config{}, true, ""},
		{"token wins over a certificate", tokenFile, certOf("harvester"), true, ""},
		{"certificate with the harvester role", "", certOf("harvester"), false, ""},
		{"certificate without the role", "", certOf("gateway"), false, "OU=harvester"},
		{"neither", "", tlsconfig.Config{}, false, "no service token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tlsconfig.Load(tt.tls)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := Identity(auth.RoleHarvester, tt.token, tt.tls, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (creds != nil) != tt.wantToken {
				t.Fatalf("bearer credentials: %v, want %v", creds != nil, tt.wantToken)
			}
			if creds != nil && creds.RequireTransportSecurity() != set.Secure() {
				t.Fatal("the token must require TLS exactly when the connections have it")
			}
		})
	}
}

// TestReadToken: one token, whitespace around it trimmed; anything else is refused
// without the file's content in the error; a file others may read is only warned about.
func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		content  string
		missing  bool // no file
		mode     os.FileMode
		want     string
		wantErr  string // substring; "" for success
		wantWarn bool
	}{
		{name: "one token", content: "  il_abc\n", mode: 0o600, want: "il_abc"},
		{name: "readable by others", content: "il_abc", mode: 0o644, want: "il_abc", wantWarn: true},
		{name: "missing", missing: true, wantErr: "service token file"},
		{name: "empty", content: " \n", mode: 0o600, wantErr: "exactly one token"},
		{name: "two tokens", content: "il_abc il_def", mode: 0o600, wantErr: "exactly one token"},
		{name: "too large", content: strings.Repeat("x", auth.MaxTokenLen+3), mode: 0o600, wantErr: "too large"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "token"+string(rune('a'+i)))
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			got, err := ReadToken(path, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if c := strings.TrimSpace(tt.content); c != "" && strings.Contains(err.Error(), c) {
					t.Fatalf("the error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadToken = %q, %v; want %q", got, err, tt.want)
			}
			if warned := strings.Contains(logs.String(), "readable by others"); warned != tt.wantWarn {
				t.Fatalf("warned %v, want %v: %s", warned, tt.wantWarn, logs.String())
			}
			if strings.Contains(logs.String(), tt.want) {
				t.Fatal("the log shows the token")
			}
		})
	}
}
