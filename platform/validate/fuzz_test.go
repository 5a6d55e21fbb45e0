package validate

import (
	"strings"
	"testing"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// codeRule is CodeRule written out by hand, independent of the regular expression behind
// resource.ValidCode, so the two can check each other.
func codeRule(s string) bool {
	if len(s) < 1 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-' && c != '.') {
			return false
		}
	}
	return true
}

// FuzzCode: Code accepts exactly what CodeRule describes; an accepted code needs no
// escaping in a resource name (so `partners/{code}` parses back to it) and its case
// variants, the forms partner lookups fold between, are valid too; CodeName accepts
// `partners/{code}` exactly when Code accepts the code.
func FuzzCode(f *testing.F) {
	for _, s := range []string{
		"MAIN-1", "a", "A.b_c-d", "0", "-a", ".a", "_a", "a/b", "a b", "", "é", "K\u212a",
		"a\x00", "\xff", strings.Repeat("a", 63), strings.Repeat("a", 64), "partners/ABC",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		var v apierr.Violations
		Code(&v, "f", code)
		ok := v.Len() == 0
		if ok != codeRule(code) {
			t.Fatalf("Code(%q) accepted = %v, the rule says %v", code, ok, !ok)
		}
		var vn apierr.Violations
		CodeName(&vn, "f", "partners/"+code, "partners")
		if (vn.Len() == 0) != ok {
			t.Fatalf("CodeName(partners/%q) accepted = %v, Code accepted = %v", code, vn.Len() == 0, ok)
		}
		if !ok {
			return
		}
		if id, err := resource.ParseName("name", resource.Name("partners", code), "partners"); err != nil || id != code {
			t.Fatalf("ParseName(Name(%q)) = %q, %v", code, id, err)
		}
		for _, c := range []string{strings.ToUpper(code), strings.ToLower(code)} {
			if !resource.ValidCode(c) {
				t.Fatalf("valid code %q has the invalid case variant %q", code, c)
			}
		}
	})
}
