package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/interloan/interloan/platform/config"
)

// OIDCConfig is the OpenID Connect configuration as flags give it. The services use
// all of it to accept access tokens; the console uses Issuer and the role mapping.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its tokens' iss claim spells it;
	// "" turns OpenID Connect off.
	Issuer string
	// Audience lists (comma-separated) the audiences an access token may be for; one
	// of them must be in its aud claim.
	Audience string
	// RolesClaim names the claim holding groups or roles (DefaultRolesClaim if "").
	RolesClaim string
	// RoleMap maps the claim's values to roles: `value=role[,value=role...]`.
	RoleMap string
}

// Bind registers --oidc-issuer, --oidc-roles-claim and --oidc-role-map, which the
// services and the console share.
func (c *OIDCConfig) Bind(s *config.Set) {
	s.String(&c.Issuer, "oidc-issuer", "INTERLOAN_OIDC_ISSUER", "", "OpenID Connect issuer URL whose tokens are accepted (its /.well-known/openid-configuration is read on first use; empty: tokens from the tokens file only)")
	s.String(&c.RolesClaim, "oidc-roles-claim", "INTERLOAN_OIDC_ROLES_CLAIM", DefaultRolesClaim, "token claim holding the person's groups or roles (a string or an array; a dotted name reaches a nested claim, e.g. realm_access.roles)")
	s.String(&c.RoleMap, "oidc-role-map", "INTERLOAN_OIDC_ROLE_MAP", "", "claim values to roles, e.g. 'ill-admins=admin,ill-staff=operator,ill-readers=viewer' (a value may be listed twice for two roles; unmapped values grant nothing)")
}

// BindAudience registers --oidc-audience (the services only).
func (c *OIDCConfig) BindAudience(s *config.Set) {
	s.String(&c.Audience, "oidc-audience", "INTERLOAN_OIDC_AUDIENCE", "", "audiences an access token may carry (comma-separated; one must be in its aud claim); required with --oidc-issuer")
}

// Enabled reports whether an issuer is configured.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

// Audiences is Audience split at commas.
func (c OIDCConfig) Audiences() []string {
	var out []string
	for a := range strings.SplitSeq(c.Audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// CheckIssuer refuses an issuer URL that is not https (http only on loopback, for tests
// and a provider on the same machine), or that carries a query or fragment.
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc issuer %q is not an absolute URL without query or fragment", issuer)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("oidc issuer %q must be https (http only for a loopback address)", issuer)
}

// Clock skew allowed on exp and nbf, and the issuer's timeouts and retry pacing.
const (
	ClockSkew = 30 * time.Second
	// issuerTimeout bounds one discovery or key-set request.
	issuerTimeout = 10 * time.Second
	// discoveryRetry is the least time between two discovery attempts, so a provider
	// that is down is asked again soon, but not on every call.
	discoveryRetry = 5 * time.Second
	// keysMinRefresh and keysMaxAge pace key-set fetches (see keySet).
	keysMinRefresh = 10 * time.Second
	keysMaxAge     = time.Hour
)

// Provider is one OpenID provider: discovery (lazy, retried: a provider that is down
// when a service starts delays nothing but the first OIDC call) and its keys, shared by
// every token check. go-oidc reads the discovery document and checks signatures and
// iss; Provider adds what go-oidc leaves out or does differently: exp and nbf with a
// 30-second skew (go-oidc allows 5 minutes on nbf), the audience list, asymmetric
// algorithms only, bounded responses and timeouts, and rate-limited key refetches.
type Provider struct {
	issuer string
	client *http.Client
	now    func() time.Time
	log    *slog.Logger
	keys   *keySet

	mu       sync.Mutex
	disc     *oidc.Provider
	meta     Metadata
	tried    time.Time
	lastErr  error
	verifier *oidc.IDTokenVerifier
}

// Metadata is what Provider keeps from the discovery document beyond go-oidc's view.
type Metadata struct {
	EndSessionEndpoint string `json:"end_session_endpoint"`
	JWKSURI            string `json:"jwks_uri"`
}

// ProviderOption configures NewProvider.
type ProviderOption func(*Provider)

// WithHTTPClient sets the client for discovery and keys (its Timeout is kept if set).
func WithHTTPClient(c *http.Client) ProviderOption {
	return func(p *Provider) { p.client = c }
}

// WithClock sets the clock tokens are judged by (tests).
func WithClock(now func() time.Time) ProviderOption { return func(p *Provider) { p.now = now } }

// WithKeyRefresh sets the least time between two key-set fetches (default 10 s).
func WithKeyRefresh(d time.Duration) ProviderOption {
	return func(p *Provider) { p.keys.minRefresh = d }
}

// WithProviderLogger sets where discovery failures are reported.
func WithProviderLogger(l *slog.Logger) ProviderOption {
	return func(p *Provider) {
		if l != nil {
			p.log = l
		}
	}
}

// NewProvider prepares issuer without contacting it.
func NewProvider(issuer string, opts ...ProviderOption) (*Provider, error) {
	if err := CheckIssuer(issuer); err != nil {
		return nil, err
	}
	p := &Provider{issuer: issuer, now: time.Now, log: slog.Default()}
	p.keys = &keySet{minRefresh: keysMinRefresh, maxAge: keysMaxAge}
	for _, o := range opts {
		o(p)
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	c := *p.client
	if c.Timeout == 0 {
		c.Timeout = issuerTimeout
	}
	c.Transport = boundedTransport{next: c.Transport}
	p.client = &c
	p.keys.client, p.keys.now = p.client, p.now
	return p, nil
}

// Issuer is the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// HTTPClient is the bounded client Provider reads the issuer with; the console uses it
// for the token endpoint too.
func (p *Provider) HTTPClient() *http.Client { return p.client }

// Discover returns the provider's discovery document, reading it on first use and, after
// a failure, at most once every discoveryRetry (callers in between get the last error).
func (p *Provider) Discover(ctx context.Context) (*oidc.Provider, Metadata, error) {
	d, meta, _, err := p.discover(ctx, false)
	return d, meta, err
}

func (p *Provider) discover(ctx context.Context, offline bool) (*oidc.Provider, Metadata, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, p.meta, p.verifier, nil
	}
	if !p.tried.IsZero() && p.now().Sub(p.tried) < discoveryRetry {
		return nil, Metadata{}, nil, p.lastErr
	}
	if offline {
		return nil, Metadata{}, nil, errNeedsFetch
	}
	p.tried = p.now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), issuerTimeout)
	defer cancel()
	d, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.issuer)
	if err == nil {
		err = d.Claims(&p.meta)
	}
	if err == nil && p.meta.JWKSURI == "" {
		err = errors.New("discovery document has no jwks_uri")
	}
	if err != nil {
		p.lastErr = fmt.Errorf("oidc: discovery of %s: %w", p.issuer, err)
		p.log.Warn("OpenID provider discovery failed; OIDC tokens are refused until it succeeds", "issuer", p.issuer, "error", err, "retry_after", discoveryRetry)
		return nil, Metadata{}, nil, p.lastErr
	}
	p.keys.url = p.meta.JWKSURI
	p.verifier = oidc.NewVerifier(p.issuer, p.keys, &oidc.Config{
		SkipClientIDCheck: true, SkipExpiryCheck: true, // checked by Verify, with the list and skew
		SupportedSigningAlgs: signingAlgNames(),
	})
	p.disc = d
	p.log.Info("OpenID provider discovered", "issuer", p.issuer)
	return p.disc, p.meta, p.verifier, nil
}

// Claims are a verified token's claims.
type Claims struct {
	Subject string
	Expiry  time.Time
	Nonce   string
	// All holds every claim, for the role map and display names.
	All map[string]any
}

// Token errors worth telling apart in logs; none is ever shown to the caller.
var (
	ErrTokenExpired  = errors.New("token expired")
	ErrTokenNotYet   = errors.New("token not valid yet")
	ErrTokenAudience = errors.New("token not for this audience")
)

// Verify checks raw: signature by one of the issuer's keys with an allowed algorithm,
// iss, one of audiences in aud, exp (required) and nbf within ClockSkew, and a subject.
func (p *Provider) Verify(ctx context.Context, raw string, audiences []string) (*Claims, error) {
	if len(raw) > MaxJWTLen {
		return nil, errors.New("token too long")
	}
	_, offline := ctx.Value(offlineKey{}).(*bool)
	_, _, v, err := p.discover(ctx, offline)
	if err != nil {
		if offline && errors.Is(err, errNeedsFetch) {
			*ctx.Value(offlineKey{}).(*bool) = true
		}
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return nil, err
	}
	now := p.now()
	if tok.Expiry.IsZero() || !now.Before(tok.Expiry.Add(ClockSkew)) {
		return nil, ErrTokenExpired
	}
	if nbf, ok := numericDate(all["nbf"]); ok && now.Add(ClockSkew).Before(nbf) {
		return nil, ErrTokenNotYet
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, ErrTokenAudience
	}
	if tok.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	return &Claims{Subject: tok.Subject, Expiry: tok.Expiry, Nonce: tok.Nonce, All: all}, nil
}

func numericDate(v any) (time.Time, bool) {
	switch n := v.(type) {
	case float64:
		return time.Unix(int64(n), 0), true
	case json.Number:
		f, err := n.Float64()
		return time.Unix(int64(f), 0), err == nil
	}
	return time.Time{}, false
}

// PrincipalName is how a person from an OpenID provider is named in audit trails and
// logs: `Display Name <issuer#subject>`, e.g. `Ann Andersson <https://idp.example/realms/lib#a1b2>`.
// The part in angle brackets is unique per issuer and subject; when it would not fit in
// the principal length limit it becomes the issuer's host and a hash of issuer and
// subject (`<idp.example#sha256:3f2a…>`), still unique. The display name (name,
// preferred_username or email claim) is cut to what is left, without control characters
// or angle brackets.
func PrincipalName(issuer, subject string, claims map[string]any) string {
	id := issuer + "#" + subject
	if len(id) > maxPrincipalLen/2+24 || !printable(id) {
		sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
		host := issuer
		if u, err := url.Parse(issuer); err == nil && u.Host != "" {
			host = u.Host
		}
		if len(host) > 40 {
			host = host[:40]
		}
		id = host + "#sha256:" + hex.EncodeToString(sum[:])[:32]
	}
	display := ""
	for _, c := range []string{"name", "preferred_username", "email"} {
		if s, _ := claims[c].(string); strings.TrimSpace(s) != "" {
			display = s
			break
		}
	}
	display = cleanDisplay(display, maxPrincipalLen-len(id)-3)
	if display == "" {
		return "<" + id + ">"
	}
	return display + " <" + id + ">"
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// cleanDisplay keeps letters, marks, digits, punctuation and single spaces of s, at most
// max bytes (cut at a rune, marked with …).
func cleanDisplay(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == '<' || r == '>' || !unicode.IsPrint(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	if cut <= 0 {
		return ""
	}
	return strings.TrimSpace(out[:cut]) + "…"
}

// boundedTransport caps every response body read from the issuer.
type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxIssuerResponse}
	return resp, nil
}

// limitedBody fails a read past its limit, so an oversized answer is an error rather
// than a silently cut (and then misparsed) document.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the limit: only the end of the body may follow.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, errors.New("oidc: issuer's answer is larger than allowed")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
