package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/services/console/internal/session"
)

// OIDC configures sign-in through the organisation's OpenID provider, beside the token
// form. Without an issuer it is off.
type OIDC struct {
	// Issuer, RolesClaim and RoleMap are the services' own settings: the same provider,
	// and the same mapping of its claims to roles.
	auth.OIDCConfig
	// ClientID and the secret in ClientSecretFile are the console's registration with
	// the provider (no file: a public client, PKCE alone).
	ClientID, ClientSecretFile string
	// RedirectURL is the console's callback as registered with the provider:
	// https://<console>/signin/oidc/callback.
	RedirectURL string
	// ProviderName is shown on the sign-in button ("" is the issuer's host).
	ProviderName string
	// Scopes are requested beside openid, profile and email (comma- or space-separated),
	// e.g. the API's scope with Entra ID, so the access token is for the services.
	Scopes string
}

// Bind registers the console's OIDC flags.
func (o *OIDC) Bind(s *config.Set) {
	o.OIDCConfig.Bind(s)
	s.String(&o.ClientID, "oidc-client-id", "INTERLOAN_OIDC_CLIENT_ID", "", "the console's client id at the OpenID provider (required with --oidc-issuer)")
	s.String(&o.ClientSecretFile, "oidc-client-secret-file", "INTERLOAN_OIDC_CLIENT_SECRET_FILE", "", "file holding the console's client secret (empty: a public client, PKCE only)")
	s.String(&o.RedirectURL, "oidc-redirect-url", "INTERLOAN_OIDC_REDIRECT_URL", "", "the console's callback as registered with the provider, https://<console host>"+oidcCallbackPath)
	s.String(&o.Scopes, "oidc-scopes", "INTERLOAN_OIDC_SCOPES", "", "scopes to request beside openid, profile and email (e.g. api://interloan/access with Entra ID, so the access token is for the services)")
	s.String(&o.ProviderName, "oidc-provider-name", "INTERLOAN_OIDC_PROVIDER_NAME", "", "name on the \"Sign in with …\" button (empty: the issuer's host)")
}

// The console's OIDC paths; the callback is the one the provider must know.
const (
	oidcStartPath     = "/signin/oidc"
	oidcCallbackPath  = "/signin/oidc/callback"
	oidcSignedOutPath = "/signin/oidc/signed-out"
)

// oidcCookie carries a sign-in's state from the console to the provider and back. It is
// SameSite=Lax because the provider's redirect back is a cross-site navigation, which a
// Strict cookie would not join; it holds no secret, only the key of the server-side
// pending sign-in, and lives ten minutes.
const oidcCookie = "__Host-interloan-oidc"

// Bounds of sign-ins under way.
const (
	pendingLife = 10 * time.Minute
	maxPending  = 10000
	maxSecret   = 4 << 10
	maxCodeLen  = 4 << 10
)

// oidcSignin is the console's side of the authorization code flow with PKCE.
type oidcSignin struct {
	provider *auth.Provider
	roles    auth.RoleMap
	clientID string
	secret   string
	redirect *url.URL
	name     string
	scopes   []string
	// formAction is the provider's origin, which the CSP's form-action must allow: the
	// sign-out form's answer redirects there.
	formAction string

	mu      sync.Mutex
	pending map[string]pendingSignin // by state
}

// pendingSignin is what a sign-in under way keeps on the server: the nonce the ID token
// must carry, the PKCE verifier, and where to go afterwards.
type pendingSignin struct {
	nonce, verifier, next string
	expires               time.Time
}

// newOIDCSignin checks the configuration without contacting the provider (nil if off).
func newOIDCSignin(o OIDC, log *slog.Logger) (*oidcSignin, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if o.ClientID == "" {
		return nil, errors.New("console: --oidc-client-id is required with --oidc-issuer")
	}
	redirect, err := url.Parse(o.RedirectURL)
	if err != nil || redirect.Host == "" || redirect.Path != oidcCallbackPath || redirect.RawQuery != "" {
		return nil, fmt.Errorf("console: --oidc-redirect-url must be the console's absolute URL with the path %s", oidcCallbackPath)
	}
	roles, err := auth.ParseRoleMap(o.RolesClaim, o.RoleMap)
	if err != nil {
		return nil, fmt.Errorf("console: --oidc-role-map: %w", err)
	}
	p, err := auth.NewProvider(o.Issuer, auth.WithProviderLogger(log))
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &oidcSignin{provider: p, roles: roles, clientID: o.ClientID, redirect: redirect, name: o.ProviderName, pending: map[string]pendingSignin{},
		scopes: append([]string{oidc.ScopeOpenID, "profile", "email"}, strings.FieldsFunc(o.Scopes, func(r rune) bool { return r == ',' || r == ' ' })...)}
	if o.ClientSecretFile != "" {
		data, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("console: --oidc-client-secret-file: %w", err)
		}
		if len(data) > maxSecret || strings.TrimSpace(string(data)) == "" {
			return nil, errors.New("console: --oidc-client-secret-file must hold the client secret (one line)")
		}
		s.secret = strings.TrimSpace(string(data))
	}
	iu, _ := url.Parse(o.Issuer) // auth.NewProvider checked it
	s.formAction = iu.Scheme + "://" + iu.Host
	if s.name == "" {
		s.name = iu.Hostname()
	}
	return s, nil
}

// oidcRoutes registers the OIDC sign-in's pages (none when it is off).
func (h *Handler) oidcRoutes() {
	if h.oidc == nil {
		return
	}
	h.mux.HandleFunc("GET "+oidcStartPath, h.oidcStart)
	h.mux.HandleFunc("GET "+oidcCallbackPath, h.oidcCallback)
	h.mux.HandleFunc("GET "+oidcSignedOutPath, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/signin?msg=flash.signed_out", http.StatusSeeOther)
	})
}

// oidcProviderName is the name on the sign-in button ("" when OIDC is off).
func (h *Handler) oidcProviderName() string {
	if h.oidc == nil {
		return ""
	}
	return h.oidc.name
}

// cspFormAction is the CSP's form-action: the console, and the provider when the
// sign-out form's answer redirects there.
func (h *Handler) cspFormAction() string {
	if h.oidc == nil {
		return "'self'"
	}
	return "'self' " + h.oidc.formAction
}

// oauth2Config is the client's view of the discovered provider.
func (o *oidcSignin) oauth2Config(d *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.clientID, ClientSecret: o.secret, Endpoint: d.Endpoint(),
		RedirectURL: o.redirect.String(), Scopes: o.scopes}
}

// oidcStart sends the browser to the provider, remembering the sign-in's state, nonce and
// PKCE verifier on the server under a state the browser carries in oidcCookie.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	o := h.oidc
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	d, _, err := o.provider.Discover(ctx)
	if err != nil {
		h.log.Warn("console sign-in: the OpenID provider is not answering", "issuer", o.provider.Issuer(), "error", err)
		h.showSignin(w, r, http.StatusServiceUnavailable, "signin.oidc.unavailable")
		return
	}
	state, err1 := session.Random()
	nonce, err2 := session.Random()
	if err := errors.Join(err1, err2); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	verifier := oauth2.GenerateVerifier()
	o.remember(state, pendingSignin{nonce: nonce, verifier: verifier, next: localPath(r.FormValue("next")), expires: time.Now().Add(pendingLife)})
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state, Path: "/", MaxAge: int(pendingLife.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, o.oauth2Config(d).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

// oidcCallback finishes the sign-in: the state must be this browser's, the code is
// exchanged with the PKCE verifier, the ID token verified (issuer, the console as
// audience, expiry, the nonce), its claims mapped to roles, and the services asked
// whether they accept the access token, which becomes the session's credential.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.oidc
	q := r.URL.Query()
	state := q.Get("state")
	c, cerr := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	if cerr != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		h.log.Info("console sign-in refused: the provider's answer does not belong to this browser's sign-in", "has_cookie", cerr == nil)
		h.showSignin(w, r, http.StatusBadRequest, "signin.oidc.stale")
		return
	}
	p, ok := o.take(state)
	if !ok {
		h.showSignin(w, r, http.StatusBadRequest, "signin.oidc.stale")
		return
	}
	// RFC 9207: an answer naming another issuer is not from our provider (a mix-up).
	if iss := q.Get("iss"); iss != "" && iss != o.provider.Issuer() {
		h.log.Warn("console sign-in refused: the answer names another issuer", "issuer", apierr.Clip(iss, 200))
		h.showSignin(w, r, http.StatusBadRequest, "signin.oidc.failed")
		return
	}
	if e := q.Get("error"); e != "" {
		h.log.Info("console sign-in: the provider refused", "error", apierr.Clip(e, 200), "description", apierr.Clip(q.Get("error_description"), 200))
		h.showSignin(w, r, http.StatusUnauthorized, "signin.oidc.refused")
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCodeLen {
		h.showSignin(w, r, http.StatusBadRequest, "signin.oidc.stale")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	d, _, err := o.provider.Discover(ctx)
	if err != nil {
		h.showSignin(w, r, http.StatusServiceUnavailable, "signin.oidc.unavailable")
		return
	}
	tok, err := o.oauth2Config(d).Exchange(context.WithValue(ctx, oauth2.HTTPClient, o.provider.HTTPClient()), code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		h.log.Warn("console sign-in: exchanging the code failed", "issuer", o.provider.Issuer(), "error", apierr.Clip(err.Error(), 200))
		h.showSignin(w, r, http.StatusBadGateway, "signin.oidc.failed")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	claims, err := o.provider.Verify(ctx, rawID, []string{o.clientID})
	if err == nil {
		err = checkIDToken(claims, p.nonce, o.clientID)
	}
	if err == nil && tok.AccessToken == "" {
		err = errors.New("the provider returned no access token")
	}
	if err != nil {
		h.log.Warn("console sign-in: the provider's tokens are not acceptable", "issuer", o.provider.Issuer(), "error", apierr.Clip(err.Error(), 200))
		h.showSignin(w, r, http.StatusBadGateway, "signin.oidc.failed")
		return
	}
	id := session.Identity{Principal: auth.PrincipalName(o.provider.Issuer(), claims.Subject, claims.All), Method: "oidc"}
	for _, role := range o.roles.Roles(claims.All) {
		id.Roles = append(id.Roles, string(role))
	}
	if len(id.Roles) == 0 {
		h.log.Info("console sign-in refused: the person's claims map to no role", "principal", id.Principal, "claim", o.roles.Claim())
		h.render(w, r, http.StatusForbidden, "oidc_noaccess", oidcNoAccess{Person: id.Principal, Provider: o.name})
		return
	}
	// The services judge every call with the access token; one they would refuse (an
	// opaque token, another audience) is a configuration problem to show now, not on
	// the first page.
	cctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.AccessToken)
	if _, err := h.identity.GetCaller(cctx, &adminv1.GetCallerRequest{}); err != nil {
		if status.Code(err) == codes.Unauthenticated {
			h.log.Warn("console sign-in: the services refuse the provider's access token; check the services' --oidc-issuer, --oidc-audience and role map", "principal", id.Principal)
			h.showSignin(w, r, http.StatusForbidden, "signin.oidc.token_refused")
			return
		}
		h.log.Warn("console sign-in: identity service failed", "error", err)
		h.showSignin(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	sess, err := h.sessions.CreateWithProvider(id, tok.AccessToken, session.Provider{IDToken: rawID, Expires: tok.Expiry})
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	h.startSession(w, r, sess)
	h.log.Info("console sign-in", "principal", id.Principal, "roles", strings.Join(id.Roles, ","), "method", id.Method)
	// A page, not a redirect: the browser arrived from the provider's site, and its
	// SameSite=Strict session cookie joins only a navigation this site starts.
	h.render(w, r, http.StatusOK, "oidc_continue", oidcContinue{Next: orDefault(p.next, "/requests"), Person: id.Principal})
}

// checkIDToken is what the console requires of a verified ID token (issuer, signature,
// expiry, the console among its audiences) besides: this sign-in's nonce, and, as
// OpenID Connect Core 3.1.3.7 asks, the console as the party it was issued to (azp)
// when it names one or is for several audiences.
func checkIDToken(c *auth.Claims, nonce, clientID string) error {
	if subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return errors.New("the ID token's nonce is not this sign-in's")
	}
	azp, _ := c.All["azp"].(string)
	if aud, _ := c.All["aud"].([]any); azp != clientID && (azp != "" || len(aud) > 1) {
		return fmt.Errorf("the ID token was issued to %q, not to the console", apierr.Clip(azp, 200))
	}
	return nil
}

type oidcNoAccess struct{ Person, Provider string }

type oidcContinue struct{ Next, Person string }

// oidcLogoutURL is where sign-out sends a person who signed in through the provider:
// its end_session_endpoint with the ID token as hint and the console's page to come back
// to ("" when the provider advertises none, or the session is a token's).
func (h *Handler) oidcLogoutURL(ctx context.Context, sess *session.Session) string {
	if h.oidc == nil || sess.Identity.Method != "oidc" {
		return ""
	}
	_, meta, err := h.oidc.provider.Discover(ctx)
	if err != nil || meta.EndSessionEndpoint == "" {
		return ""
	}
	u, err := url.Parse(meta.EndSessionEndpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	back := *h.oidc.redirect
	back.Path = oidcSignedOutPath
	v := u.Query()
	v.Set("id_token_hint", sess.Provider().IDToken)
	v.Set("post_logout_redirect_uri", back.String())
	v.Set("client_id", h.oidc.clientID)
	u.RawQuery = v.Encode()
	return u.String()
}

// remember keeps a sign-in under way. Anyone can start one, so at the bound the oldest
// is dropped rather than the new one refused: a flood of starts cannot lock people out.
func (o *oidcSignin) remember(state string, p pendingSignin) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) >= maxPending {
		now := time.Now()
		oldest := ""
		for k, v := range o.pending {
			if now.After(v.expires) {
				delete(o.pending, k)
			} else if oldest == "" || v.expires.Before(o.pending[oldest].expires) {
				oldest = k
			}
		}
		if len(o.pending) >= maxPending {
			delete(o.pending, oldest)
		}
	}
	o.pending[state] = p
}

// take returns and forgets the sign-in of state: each state is used once.
func (o *oidcSignin) take(state string) (pendingSignin, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pending[state]
	delete(o.pending, state)
	return p, ok && time.Now().Before(p.expires)
}
