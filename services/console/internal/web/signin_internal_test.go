package web

import (
	"testing"

	"github.com/interloan/interloan/services/console/internal/session"
)

func TestNonceLen(t *testing.T) {
	n, err := session.Random()
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != nonceLen {
		t.Fatalf("session.Random gives %d characters, nonceLen says %d", len(n), nonceLen)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/requests?status=NEW": "/requests?status=NEW",
		"//evil.example/":      "",
		"https://evil.example": "",
		"/\\evil.example":      "",
		"":                     "",
		"/a\r\nSet-Cookie: x":  "",
		"/\t/evil.example":     "",
		"/\n/evil.example":     "",
		"/\x00/evil.example":   "",
		"/\u0085/evil.example": "",
		"/a b?q=\u00e5":        "/a b?q=\u00e5",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
