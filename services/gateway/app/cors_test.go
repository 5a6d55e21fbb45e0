package app

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/interloan/interloan/platform/logging"
)

// TestCORS checks preflights and actual requests for an allowed origin, a refused one,
// and the default of no allowed origins, over REST against the real profiles service.
func TestCORS(t *testing.T) {
	const app, evil = "https://app.example.org", "https://evil.example.org"
	start := func(origins ...string) string {
		other := startFake(t, nil)
		return startGateway(t, Config{ProfilesAddr: startProfiles(t), MappingAddr: other.addr, HarvesterAddr: other.addr, RequestsAddr: other.addr},
			Options{Logger: logging.Discard(), CORSAllowedOrigins: origins})
	}
	preflight := func(base, origin string) response {
		return do(t, "OPTIONS", base+"/v1/integrationProfiles/X", "", "Origin", origin,
			"Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", "authorization, if-match")
	}

	base := start(app, "http://localhost:5173")
	do(t, "POST", base+"/v1/integrationProfiles", `{"code":"X","displayName":"x"}`).expect(t, http.StatusOK)

	r := preflight(base, app)
	if r.code != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("preflight: HTTP %d %s", r.code, r.body)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":  app,
		"Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
		"Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, If-None-Match",
		"Access-Control-Max-Age":       "600",
		"Vary":                         "Origin",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("preflight %s = %q, want %q", h, got, want)
		}
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("preflight allows credentials")
	}
	r = do(t, "GET", base+"/v1/integrationProfiles/X", "", "Origin", app)
	r.expect(t, http.StatusOK)
	if r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Expose-Headers") != "ETag" || r.header.Get("Vary") != "Origin" {
		t.Errorf("actual response headers = %v", r.header)
	}
	// Errors carry the headers too, or the browser would hide them from the client.
	r = do(t, "GET", base+"/v1/integrationProfiles/NOPE", "", "Origin", app)
	if r.code != http.StatusNotFound || r.header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("error response: HTTP %d, headers %v", r.code, r.header)
	}

	// A refused origin: the preflight is 403 and the response names no origin.
	preflight(base, evil).expectError(t, http.StatusForbidden, codes.PermissionDenied, "CORS_ORIGIN_NOT_ALLOWED")
	r = do(t, "GET", base+"/v1/integrationProfiles/X", "", "Origin", evil)
	if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Vary") != "Origin" {
		t.Errorf("refused origin got headers %v", r.header)
	}

	// The default, no origins: no CORS headers at all, and every preflight is refused.
	base = start()
	preflight(base, app).expectError(t, http.StatusForbidden, codes.PermissionDenied, "CORS_ORIGIN_NOT_ALLOWED")
	r = do(t, "GET", base+"/v1/integrationProfiles/X", "", "Origin", app)
	for h := range r.header {
		if strings.HasPrefix(h, "Access-Control-") || h == "Vary" {
			t.Errorf("without allowed origins the response has %s", h)
		}
	}
}

// TestCORSOriginsValidated refuses origins a browser never sends, and the wildcard.
func TestCORSOriginsValidated(t *testing.T) {
	for _, o := range []string{"*", "app.example.org", "https://app.example.org/", "https://app.example.org/x", "ftp://a", "https://u@a", "https://a?x", "https://a?", "https://a#x", "https://a#", "https://"} {
		if _, err := parseOrigins([]string{o}); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
	got, err := parseOrigins(SplitOrigins(" https://a.example, http://localhost:5173 ,"))
	if err != nil || len(got) != 2 || !got["https://a.example"] || !got["http://localhost:5173"] {
		t.Errorf("parseOrigins = %v, %v", got, err)
	}
}
