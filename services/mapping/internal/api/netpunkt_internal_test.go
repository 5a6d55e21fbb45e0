package api

import "testing"

func TestNetpunktCode(t *testing.T) {
	for _, tc := range []struct {
		in, want, other string
		ok              bool
	}{
		{"710100", "DK-710100", "DK-710100", true},
		{" dk-710100 ", "DK-710100", "710100", true},
		{"DK-710100", "DK-710100", "710100", true},
		{"DK-71010", "DK-71010", "", false},
		{"SE-710100", "SE-710100", "", false},
		{"71010a", "71010a", "", false},
		{"Gbg", "Gbg", "", false},
	} {
		got, ok := netpunktCode(tc.in)
		other, _ := otherSpelling(tc.in)
		if got != tc.want || ok != tc.ok || other != tc.other {
			t.Errorf("netpunktCode(%q) = %q, %v, other %q; want %q, %v, %q", tc.in, got, ok, other, tc.want, tc.ok, tc.other)
		}
	}
}
