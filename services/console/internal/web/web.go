// Package web is the staff console: server-rendered pages over the suite's public gRPC
// APIs, called with the signed-in person's own credential so that every role check stays
// in the services. Pages work without JavaScript; one small script adds live progress,
// local times and confirmations. Nothing is loaded from elsewhere: templates, styles,
// script and messages are embedded in the binary.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/services/console/internal/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console's handler.
type Options struct {
	Upstreams client.Upstreams
	Sessions  *session.Store
	Logger    *slog.Logger
	// CallTimeout bounds each call to a service made for a page (0: 15 s).
	CallTimeout time.Duration
	// OIDC, with an issuer, adds sign-in through that OpenID provider (oidc.go).
	OIDC OIDC
}

// Handler serves the console.
type Handler struct {
	mux       *http.ServeMux
	sessions  *session.Store
	log       *slog.Logger
	pages     *pages
	timeout   time.Duration
	identity  adminv1.IdentityServiceClient
	profiles  profilesv1.ProfileServiceClient
	mapping   mappingv1.MappingServiceClient
	harvester harvesterv1.HarvesterServiceClient
	requests  requestsv1.RequestServiceClient
	oidc      *oidcSignin // nil: token sign-in only
	streams   streamCount // live progress streams open (runs.go)
}

// The collections of the resource names the services use; a page's URL carries the
// name's last segment.
const (
	profilesCollection  = "integrationProfiles/"
	librariesCollection = "libraries/"
	mappingsCollection  = "libraryMappings/"
	partnersCollection  = "partners/"
	requestsCollection  = "borrowingRequests/"
	runsCollection      = "runs/"
)

// maxFormBytes bounds a posted form; the largest legitimate one (a profile) is a few KB.
const maxFormBytes = 64 << 10

// NewHandler builds the console's routes.
func NewHandler(o Options) (*Handler, error) {
	if o.Sessions == nil || o.Logger == nil {
		return nil, errors.New("console: Sessions and Logger are required")
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	h := &Handler{
		mux: http.NewServeMux(), sessions: o.Sessions, log: o.Logger, pages: p, timeout: o.CallTimeout,
		identity:  adminv1.NewIdentityServiceClient(o.Upstreams.Profiles),
		profiles:  profilesv1.NewProfileServiceClient(o.Upstreams.Profiles),
		mapping:   mappingv1.NewMappingServiceClient(o.Upstreams.Mapping),
		harvester: harvesterv1.NewHarvesterServiceClient(o.Upstreams.Harvester),
		requests:  requestsv1.NewRequestServiceClient(o.Upstreams.Requests),
	}
	if h.oidc, err = newOIDCSignin(o.OIDC, o.Logger); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	h.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h.mux.HandleFunc("GET /signin", h.signinForm)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.Handle("POST /signout", h.authed(h.signout))
	h.oidcRoutes()
	h.mux.Handle("GET /{$}", h.authed(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/requests", http.StatusSeeOther)
	}))
	h.routes()
	h.mux.Handle("/", h.authed(func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, http.StatusNotFound, "error.not_found") }))
	return h, nil
}

// ServeHTTP adds the headers every answer carries and bounds the request body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// No inline script or style anywhere: everything comes from /static.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action "+h.cspFormAction()+"; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	h.mux.ServeHTTP(w, r)
}

type sessionKey struct{}

// sessionOf returns the signed-in session authed put in r's context.
func sessionOf(r *http.Request) *session.Session {
	s, _ := r.Context().Value(sessionKey{}).(*session.Session)
	return s
}

// cookieName carries the session id. The __Host- prefix makes the browser refuse it
// unless it is Secure, host-only and for the whole path.
const cookieName = "__Host-interloan-session"

// authed runs next for a signed-in session only. A page request without one goes to the
// sign-in page; a state-changing request must also come from the console's own pages
// (same origin, the session's CSRF token), or it is refused before anything is called.
func (h *Handler) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess *session.Session
		if c, err := r.Cookie(cookieName); err == nil {
			sess, _ = h.sessions.Get(c.Value)
		}
		if sess == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.fail(w, r, http.StatusUnauthorized, "error.signed_out")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || !sess.CheckCSRF(r.PostFormValue("csrf")) {
				h.log.Warn("refused a state-changing request without the session's CSRF token or from another origin",
					"path", r.URL.Path, "principal", sess.Identity.Principal)
				h.fail(w, r, http.StatusForbidden, "error.csrf")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// sameOrigin refuses requests a browser marks as coming from another site. Browsers
// send Sec-Fetch-Site and Origin on every POST; a client sending neither is not a
// browser a forged page could drive, and still needs the CSRF token.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

// call returns a context for calls made on the session's behalf: its credential as the
// bearer token (exactly as the REST gateway forwards a caller's), bounded in time.
func (h *Handler) call(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	if s := sessionOf(r); s != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Credential())
	}
	return ctx, cancel
}

// staticHandler serves the embedded assets, cacheable for a day (they change only
// with the binary).
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
