package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// TestCallerIdentity: the harvester authenticates with its token when it has one, with
// its certificate when that names the harvester role, and refuses to start otherwise.
func TestCallerIdentity(t *testing.T) {
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
			cfg := Config{Common: server.Common{TLS: tt.tls}, ServiceTokenFile: tt.token}
			set, err := tlsconfig.Load(tt.tls)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := callerIdentity(cfg, set, nil)
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
