package external

import (
	"strings"
	"testing"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/netpunkt"
)

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
	allowed := Outbound{Hosts: AllowedHosts{"libris.kb.se"}}
	if _, err := Connect(allowed, profile("https://libris.kb.se/librisfjarrlan/api"), "key", connector.Limits{}); err != nil {
		t.Fatalf("allowed host refused: %v", err)
	}
	if _, err := Connect(allowed, profile("https://[libris.kb.se/api"), "key", connector.Limits{}); err == nil {
		t.Fatal("a base URL that does not parse got a connector")
	}
	_, err := Connect(allowed, profile("https://attacker.example/api"), "secret-api-key", connector.Limits{})
	if err == nil || !strings.Contains(err.Error(), "attacker.example") || strings.Contains(err.Error(), "secret-api-key") {
		t.Fatalf("a host outside the list: %v", err)
	}
}

func TestConnectNetpunkt(t *testing.T) {
	profile := func(base, agency string) *profilesv1.IntegrationProfile {
		return &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
			SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: base, AgencyId: agency, User: "u"}}}
	}
	allowed := Outbound{Hosts: AllowedHosts{"*.addi.dk"}}
	c, err := Connect(allowed, profile("https://openfindorder.addi.dk/2.8/", "775100"), "dbc-password", connector.Limits{})
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
		_, err := Connect(allowed, profile(tc.base, tc.agency), "dbc-password", connector.Limits{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "dbc-password") {
			t.Errorf("Connect(%s, %s) = %v", tc.base, tc.agency, err)
		}
	}
}
