package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/netpunkt"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
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

func TestAllowedHosts(t *testing.T) {
	if _, err := ParseAllowedHosts("libris.kb.se, *."); err == nil {
		t.Fatal("a bare *. pattern was accepted")
	}
	for _, bad := range []string{"http://libris.kb.se", "libris.kb.se:443", "a*b.se", "user@host"} {
		if _, err := ParseAllowedHosts(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	allowed, err := ParseAllowedHosts(" Libris.KB.se ,*.dbc.dk,,")
	if err != nil {
		t.Fatal(err)
	}
	none, err := ParseAllowedHosts("")
	if err != nil || len(none) != 0 {
		t.Fatalf("empty list: %v %v", none, err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"libris.kb.se", true},
		{"LIBRIS.kb.se.", true},
		{"evil-libris.kb.se", false},
		{"libris.kb.se.evil.org", false},
		{"netpunkt.dbc.dk", true},
		{"a.b.dbc.dk", true},
		{"dbc.dk", false},
		{"xdbc.dk", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := allowed.Allows(tt.host); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v", tt.host, got, tt.want)
		}
		if !none.Allows(tt.host) {
			t.Errorf("an empty list must allow %q", tt.host)
		}
	}
}

func TestConnectChecksAllowedHosts(t *testing.T) {
	profile := func(base string) *profilesv1.IntegrationProfile {
		return &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
			SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: base, LibraryCode: "Abc"}}}
	}
	allowed := AllowedHosts{"libris.kb.se"}
	if _, err := allowed.Connect(profile("https://libris.kb.se/librisfjarrlan/api"), "key"); err != nil {
		t.Fatalf("allowed host refused: %v", err)
	}
	if _, err := allowed.Connect(profile("https://[libris.kb.se/api"), "key"); err == nil {
		t.Fatal("a base URL that does not parse got a connector")
	}
	_, err := allowed.Connect(profile("https://attacker.example/api"), "secret-api-key")
	if err == nil || !strings.Contains(err.Error(), "attacker.example") || strings.Contains(err.Error(), "secret-api-key") {
		t.Fatalf("a host outside the list: %v", err)
	}
}

func TestConnectNetpunkt(t *testing.T) {
	profile := func(base, agency string) *profilesv1.IntegrationProfile {
		return &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
			SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: base, AgencyId: agency, User: "u"}}}
	}
	allowed := AllowedHosts{"*.addi.dk"}
	c, err := allowed.Connect(profile("https://openfindorder.addi.dk/2.8/", "775100"), "dbc-password")
	if err != nil {
		t.Fatalf("allowed host refused: %v", err)
	}
	if np, ok := c.(*netpunkt.Client); !ok || np.Agency() != "DK-775100" {
		t.Fatalf("connector = %T %v", c, c)
	}
	for _, tc := range []struct{ base, agency, want string }{
		{"https://attacker.example/", "775100", "attacker.example"},
		{"https://openfindorder.addi.dk/", "77", "agency id"},
	} {
		_, err := allowed.Connect(profile(tc.base, tc.agency), "dbc-password")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "dbc-password") {
			t.Errorf("Connect(%s, %s) = %v", tc.base, tc.agency, err)
		}
	}
}
