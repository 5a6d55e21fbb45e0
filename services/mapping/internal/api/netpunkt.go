package api

import (
	"strings"

	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// netpunktCode is the one spelling of a Danish library number: Netpunkt writes agency
// ids either as ISIL `DK-nnnnnn` or as the bare six digits (docs/connectors/netpunkt.md,
// "Agency codes"), and staff type either, in any case. Both become `DK-nnnnnn`; anything else
// (another country's ISIL, a DNUCNI) is returned trimmed and unchanged, with ok false.
func netpunktCode(s string) (code string, ok bool) {
	s = strings.TrimSpace(s)
	digits := s
	if len(s) == 9 && strings.EqualFold(s[:3], "DK-") {
		digits = s[3:]
	}
	if len(digits) != 6 {
		return s, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return s, false
		}
	}
	return "DK-" + digits, true
}

// otherSpelling is the spelling of a Danish library number that code is not in: the
// bare digits for DK-nnnnnn, DK-nnnnnn for the bare digits.
func otherSpelling(code string) (string, bool) {
	n, ok := netpunktCode(code)
	if !ok {
		return "", false
	}
	if strings.EqualFold(strings.TrimSpace(code), n) {
		return n[3:], true
	}
	return n, true
}

// externalCode normalises an external library code of system for storage and lookup.
func externalCode(system typev1.ExternalSystem, code string) string {
	if system == typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT {
		n, _ := netpunktCode(code)
		return n
	}
	return strings.TrimSpace(code)
}
