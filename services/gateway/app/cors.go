package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"
)

// CORS for browser clients served from other origins. Only the exact origins configured
// are answered; there is no wildcard, and no Access-Control-Allow-Credentials: the API
// authenticates with a bearer token in Authorization, which a preflight allows as a
// header, never with cookies.
const (
	corsAllowMethods = "GET, POST, PATCH, DELETE"
	corsAllowHeaders = "Authorization, Content-Type, If-Match, If-None-Match"
	corsMaxAge       = "600" // seconds; browsers cap it anyway (Chromium at 7200)
)

// parseOrigins validates the allowed origins: each is scheme://host[:port], as a browser
// sends it in Origin, with nothing after.
func parseOrigins(origins []string) (map[string]bool, error) {
	allowed := map[string]bool{}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		// Rebuilt from scheme and host alone, any user, path, query or fragment (even an
		// empty `?` or `#`) makes it differ from what was given.
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || o != u.Scheme+"://"+u.Host {
			return nil, fmt.Errorf("CORS allowed origin %q: want scheme://host[:port], e.g. https://app.example.org", o)
		}
		allowed[o] = true
	}
	return allowed, nil
}

// SplitOrigins splits a comma-separated list of origins, as the flag takes it.
func SplitOrigins(s string) []string {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// cors answers a preflight and adds the CORS headers to the answer of an allowed origin.
// It reports whether the request has been answered.
func (g *gateway) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if len(g.origins) > 0 {
		w.Header().Add("Vary", "Origin") // the answer differs by Origin; caches must know
	}
	allowed := origin != "" && g.origins[origin]
	if preflight {
		if !allowed {
			// 403 rather than a 204 without Allow-Origin: the browser refuses either way,
			// and a developer sees why.
			g.reject(w, r, http.StatusForbidden, gatewayStatus(codes.PermissionDenied, "CORS_ORIGIN_NOT_ALLOWED",
				"cross-origin requests from this origin are not allowed", nil).Err())
			return true
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "ETag")
	}
	return false
}
