package netpunkt

import "strings"

// Danish library numbers are written two ways: as the bare six-digit agency id that DBC's
// services and profiles use, and as the ISIL `DK-nnnnnn` that staff, Netpunkt's order
// data and the mapping service use. Staff type either, in any case, with stray spaces.
// agencyDigits is the one parser of both; everything else spells its result.

// agencyDigits returns the six digits of a Danish agency id given as `DK-nnnnnn` (any
// case of the prefix) or as the bare digits, surrounding spaces ignored; ok is false for
// anything else.
func agencyDigits(s string) (digits string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) == 9 && strings.EqualFold(s[:3], "DK-") {
		s = s[3:]
	}
	if len(s) != 6 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// NormalizeAgency turns a Danish agency id into its ISIL form `DK-nnnnnn`; ok is false
// when s is not one.
func NormalizeAgency(s string) (string, bool) {
	d, ok := agencyDigits(s)
	if !ok {
		return "", false
	}
	return "DK-" + d, true
}

// normalizeCode is NormalizeAgency for codes of other libraries, which may not be Danish
// library numbers (an ISIL of another country, a DNUCNI): those are kept as sent, trimmed.
func normalizeCode(s string) string {
	if n, ok := NormalizeAgency(s); ok {
		return n
	}
	return strings.TrimSpace(s)
}

// otherSpelling is the spelling of a Danish library number that code is not in: the bare
// digits for DK-nnnnnn, DK-nnnnnn for the bare digits.
func otherSpelling(code string) (string, bool) {
	d, ok := agencyDigits(code)
	if !ok {
		return "", false
	}
	if t := strings.TrimSpace(code); len(t) == len(d) {
		return "DK-" + d, true
	}
	return d, true
}
