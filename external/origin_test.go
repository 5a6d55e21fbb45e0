package external

import "testing"

func TestOrigin(t *testing.T) {
	tests := []struct {
		base, want string
	}{
		{"https://iller.libris.kb.se/librisfjarrlan/api", "https://iller.libris.kb.se:443"},
		{"https://iller.libris.kb.se:443/other/path/", "https://iller.libris.kb.se:443"},
		{"HTTPS://Iller.LIBRIS.kb.se./librisfjarrlan/api", "https://iller.libris.kb.se:443"},
		{"  https://openfindorder.addi.dk/2.8/ ", "https://openfindorder.addi.dk:443"},
		{"http://libris.example", "http://libris.example:80"},
		{"http://libris.example:80/", "http://libris.example:80"},
		{"http://libris.example:0080/", "http://libris.example:80"},
		{"https://libris.example:8443/api", "https://libris.example:8443"},
		{"http://127.0.0.1:9090/librisfjarrlan/api", "http://127.0.0.1:9090"},
		{"http://[::1]:8080/x", "http://[::1]:8080"},
		{"https://[2001:DB8::1]/", "https://[2001:db8::1]:443"},
		{"https://user:pw@libris.example/", "https://libris.example:443"},
		// Another scheme, host or port is another origin.
		{"http://iller.libris.kb.se/librisfjarrlan/api", "http://iller.libris.kb.se:80"},
		{"https://iller.libris.kb.se:444/librisfjarrlan/api", "https://iller.libris.kb.se:444"},
		{"https://evil.example/librisfjarrlan/api", "https://evil.example:443"},
	}
	for _, tc := range tests {
		got, err := Origin(tc.base)
		if err != nil || got != tc.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "   ", "libris.kb.se", "/librisfjarrlan/api", "ftp://libris.example/", "https://", "https:///path",
		"https://libris.example:0/", "https://libris.example:65536/", "https://.:443/", "http://[::1/", "://x",
	} {
		if got, err := Origin(bad); err == nil {
			t.Errorf("Origin(%q) = %q, want an error", bad, got)
		}
	}
}
