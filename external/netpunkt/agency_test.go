package netpunkt

import (
	"testing"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

// TestAgencySpellings: both spellings of a Danish library number, in any case and with
// stray spaces, become one library code and name each other; other codes stay as sent.
func TestAgencySpellings(t *testing.T) {
	for _, tc := range []struct {
		in, code, other string
		ok              bool
	}{
		{"710100", "DK-710100", "DK-710100", true},
		{" dk-710100 ", "DK-710100", "710100", true},
		{"DK-710100", "DK-710100", "710100", true},
		{"DK-71010", "DK-71010", "", false},
		{"SE-710100", "SE-710100", "", false},
		{"71010a", "71010a", "", false},
		{" Gbg ", "Gbg", "", false},
	} {
		code := System.LibraryCode(tc.in)
		other, ok := System.OtherSpelling(tc.in)
		if code != tc.code || ok != tc.ok || other != tc.other {
			t.Errorf("%q: code %q, other %q %v; want %q, %q %v", tc.in, code, other, ok, tc.code, tc.other, tc.ok)
		}
	}
}

// TestProfileAgencyStoredAsDigits: a profile keeps its own agency id as the six digits
// DBC's services take, whichever spelling staff typed; anything else is left for
// validation to refuse.
func TestProfileAgencyStoredAsDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"710100", "710100"},
		{" dk-710100", "710100"},
		{"DK-71010", "DK-71010"},
	} {
		p := &profilesv1.IntegrationProfile{SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{AgencyId: tc.in}}}
		System.Normalize(p)
		if got := p.GetNetpunkt().GetAgencyId(); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
