package httpcall

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSnippet: whatever a hostile or broken server answers, the quoted snippet is short,
// valid UTF-8, one line without control characters, and never holds the secret.
func FuzzSnippet(f *testing.F) {
	f.Add([]byte("<html><body>Down for maintenance</body></html>"), "text/html", false, "k3y")
	f.Add([]byte(`{"error":"bad key k3y"}`), "application/json", false, "k3y")
	f.Add([]byte("<e>pass=a%26b</e>"), "text/xml", true, "a&b")
	f.Add([]byte("\xff\xfe\x00<\n"), "", true, "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string, always bool, secret string) {
		markup := MarkupIfHTML
		if always {
			markup = MarkupAlways
		}
		s := NewSecret(secret, "[secret]", url.QueryEscape)
		got := Snippet(body, ctype, markup, s)
		if len(got) > MaxSnippet+len("…") || !utf8.ValidString(got) {
			t.Fatalf("snippet of %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got)
		}
		if strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || r == '\n' }) >= 0 {
			t.Fatalf("control character in %q", got)
		}
		// Without tags nothing can join pieces of the body into the secret, so a secret
		// of letters and digits (not part of the label itself) cannot survive.
		if alnum(secret) && !strings.Contains("[secret]", secret) && !strings.ContainsRune(string(body), '<') && strings.Contains(got, secret) {
			t.Fatalf("secret %q in %q", secret, got)
		}
	})
}

func alnum(s string) bool {
	return len(s) >= 3 && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) < 0
}
