package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// testIssuer is an OpenID provider's discovery document and key set served on loopback,
// whose keys the test controls, for tokens the test signs itself: the refusals.
type testIssuer struct {
	*httptest.Server
	mu       sync.Mutex
	public   []jose.JSONWebKey
	jwksHits int
	down     bool
	huge     bool
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	ti := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		down := ti.down
		ti.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": ti.URL, "jwks_uri": ti.URL + "/keys",
			"authorization_endpoint": ti.URL + "/auth", "token_endpoint": ti.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		ti.jwksHits++
		if ti.huge {
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxIssuerResponse+10) + `]}`))
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: ti.public})
	})
	ti.Server = httptest.NewServer(mux)
	t.Cleanup(ti.Close)
	return ti
}

// publish replaces the served key set with the public halves of keys.
func (ti *testIssuer) publish(keys ...jose.JSONWebKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.public = nil
	for _, k := range keys {
		ti.public = append(ti.public, k.Public())
	}
}

func (ti *testIssuer) hits() int {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.jwksHits
}

func rsaKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// sign makes a JWT of claims signed with key under alg.
func sign(t *testing.T, key jose.JSONWebKey, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if key.KeyID != "" {
		opts = opts.WithHeader("kid", key.KeyID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type oidcFixture struct {
	iss   *testIssuer
	key   jose.JSONWebKey
	clk   *clock
	authn *OIDCAuthenticator
}

func newOIDCFixture(t *testing.T, opts ...ProviderOption) *oidcFixture {
	t.Helper()
	f := &oidcFixture{iss: newTestIssuer(t), key: rsaKey(t, "k1"), clk: &clock{now: time.Now()}}
	f.iss.publish(f.key)
	cfg := OIDCConfig{Issuer: f.iss.URL, Audience: "interloan, other", RolesClaim: "groups", RoleMap: "ill-admins=admin,ill-staff=operator,ill-staff=viewer"}
	var err error
	f.authn, err = NewOIDCAuthenticator(cfg, slog.New(slog.DiscardHandler), append([]ProviderOption{WithClock(f.clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// claims are valid claims for the fixture, changed by edit.
func (f *oidcFixture) claims(edit func(map[string]any)) map[string]any {
	now := f.clk.Now()
	c := map[string]any{
		"iss": f.iss.URL, "sub": "a1b2", "aud": []string{"interloan"}, "name": "Ann Andersson",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "groups": []string{"ill-staff", "unrelated"},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func TestOIDCAcceptsAValidToken(t *testing.T) {
	f := newOIDCFixture(t)
	p, ok := f.authn.Authenticate(sign(t, f.key, jose.RS256, f.claims(nil)))
	if !ok {
		t.Fatal("a valid token was refused")
	}
	if want := "Ann Andersson <" + f.iss.URL + "#a1b2>"; p.Name != want {
		t.Errorf("principal %q, want %q", p.Name, want)
	}
	if fmt.Sprint(p.Roles) != "[operator viewer]" {
		t.Errorf("roles %v, want [operator viewer]", p.Roles)
	}
	// Another allowed algorithm and key type, a string aud, the second audience.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ek := jose.JSONWebKey{Key: ec, KeyID: "e1", Algorithm: string(jose.ES256), Use: "sig"}
	f.iss.publish(f.key, ek)
	f.clk.add(keysMinRefresh)
	if _, ok := f.authn.Authenticate(sign(t, ek, jose.ES256, f.claims(func(c map[string]any) { c["aud"] = "other" }))); !ok {
		t.Error("an ES256 token for the second audience was refused")
	}
	// Within the skew on both ends.
	if _, ok := f.authn.Authenticate(sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) {
		c["exp"] = f.clk.Now().Add(-20 * time.Second).Unix()
		c["nbf"] = f.clk.Now().Add(20 * time.Second).Unix()
	}))); !ok {
		t.Error("a token within the 30 s skew was refused")
	}
}

// TestOIDCRefuses holds each refusal the brief of OIDC tokens lists; every token is signed
// by the test, served keys and all.
func TestOIDCRefuses(t *testing.T) {
	f := newOIDCFixture(t)
	other := rsaKey(t, "k1") // same key id, another key: a forged signature
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&f.key.Key.(*rsa.PrivateKey).PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	unsigned := func(c map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"})
		p, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	now := f.clk.Now()
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"expired", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["exp"] = now.Add(-31 * time.Second).Unix() }))},
		{"no expiry", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { delete(c, "exp") }))},
		{"not yet valid", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }))},
		{"wrong issuer", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["iss"] = "https://idp.example/other" }))},
		{"wrong audience", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["aud"] = []string{"someone-else"} }))},
		{"no audience", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { delete(c, "aud") }))},
		{"bad signature", sign(t, other, jose.RS256, f.claims(nil))},
		{"alg none", unsigned(f.claims(nil))},
		{"HMAC with the public key as secret", sign(t, jose.JSONWebKey{Key: pubPEM, KeyID: "k1"}, jose.HS256, f.claims(nil))},
		{"no subject", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { delete(c, "sub") }))},
		{"no mapped group", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["groups"] = []string{"unrelated"} }))},
		{"no groups claim", sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { delete(c, "groups") }))},
		{"tampered payload", func() string {
			parts := strings.Split(sign(t, f.key, jose.RS256, f.claims(nil)), ".")
			p, _ := json.Marshal(f.claims(func(c map[string]any) { c["groups"] = []string{"ill-admins"} }))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		}()},
		{"il_ token never goes to the provider", TokenPrefix + "x.y.z"},
		{"not a JWT", "abc"},
		{"too long", strings.Repeat("a", MaxJWTLen) + ".b.c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, ok := f.authn.Authenticate(tc.token); ok {
				t.Fatalf("accepted as %+v", p)
			}
		})
	}
	// None of those made the service fetch keys more than once (the first discovery);
	// the forged signature named a known key id, which new keys would not change.
	if n := f.iss.hits(); n != 1 {
		t.Errorf("key set fetched %d times, want 1", n)
	}
}

// TestOIDCKeyRotation: a token signed with a key the cached set lacks is refused until
// the issuer publishes the key, then accepted without a restart; refetches for unknown
// key ids are rate-limited.
func TestOIDCKeyRotation(t *testing.T) {
	f := newOIDCFixture(t)
	if _, ok := f.authn.Authenticate(sign(t, f.key, jose.RS256, f.claims(nil))); !ok {
		t.Fatal("the first key's token was refused")
	}
	next := rsaKey(t, "k2")
	tok := func() string { return sign(t, next, jose.RS256, f.claims(nil)) }
	f.clk.add(keysMinRefresh)
	if _, ok := f.authn.Authenticate(tok()); ok {
		t.Fatal("a token of an unpublished key was accepted")
	}
	if n := f.iss.hits(); n != 2 {
		t.Fatalf("an unknown key id made %d fetches in all, want 2", n)
	}
	f.iss.publish(f.key, next)
	// Within the refetch interval, unknown key ids do not reach the issuer.
	for range 5 {
		if _, ok := f.authn.Authenticate(tok()); ok {
			t.Fatal("accepted before the refetch interval passed")
		}
	}
	if n := f.iss.hits(); n != 2 {
		t.Fatalf("key set fetched %d times within the interval, want 2", n)
	}
	f.clk.add(keysMinRefresh)
	if _, ok := f.authn.Authenticate(tok()); !ok {
		t.Fatal("the rotated key's token was refused after the issuer published it")
	}
	// The old key still works while published; once withdrawn it stops after the cache's
	// maximum age.
	f.iss.publish(next)
	f.clk.add(keysMaxAge)
	if _, ok := f.authn.Authenticate(sign(t, f.key, jose.RS256, f.claims(nil))); ok {
		t.Error("a withdrawn key's token was accepted after the cache expired")
	}
	if _, ok := f.authn.Authenticate(tok()); !ok {
		t.Error("the current key's token was refused")
	}
}

// TestOIDCIssuerDown: the authenticator is built without the issuer (a service starts),
// refuses OIDC tokens while discovery fails, retries at most every discoveryRetry, and
// accepts them once the issuer answers.
func TestOIDCIssuerDown(t *testing.T) {
	f := newOIDCFixture(t)
	f.iss.mu.Lock()
	f.iss.down = true
	f.iss.mu.Unlock()
	tok := sign(t, f.key, jose.RS256, f.claims(nil))
	if _, ok := f.authn.Authenticate(tok); ok {
		t.Fatal("accepted without discovery")
	}
	f.iss.mu.Lock()
	f.iss.down = false
	f.iss.mu.Unlock()
	if _, ok := f.authn.Authenticate(tok); ok {
		t.Fatal("discovery retried before its interval")
	}
	f.clk.add(discoveryRetry)
	if _, ok := f.authn.Authenticate(tok); !ok {
		t.Fatal("refused after the issuer came back")
	}
}

// TestOIDCOffline: the tap's offline check leaves a token undecided while the keys are
// not at hand, and decides it once they are.
func TestOIDCOffline(t *testing.T) {
	f := newOIDCFixture(t)
	a := Chain(nil, f.authn).(offlineAuthenticator)
	tok := sign(t, f.key, jose.RS256, f.claims(nil))
	if _, _, decided := a.authenticateOffline(tok); decided {
		t.Fatal("decided without discovery")
	}
	if f.iss.hits() != 0 {
		t.Fatal("the offline check fetched keys")
	}
	if _, ok := f.authn.Authenticate(tok); !ok {
		t.Fatal("refused")
	}
	if p, ok, decided := a.authenticateOffline(tok); !decided || !ok || p.Name == "" {
		t.Fatalf("with keys cached: ok=%v decided=%v", ok, decided)
	}
	if _, ok, decided := a.authenticateOffline(sign(t, rsaKey(t, "k9"), jose.RS256, f.claims(nil))); decided || ok {
		t.Fatalf("unknown key id: ok=%v decided=%v, want undecided", ok, decided)
	}
	if _, ok, decided := a.authenticateOffline(TokenPrefix + "unknown"); !decided || ok {
		t.Fatalf("il_ token: ok=%v decided=%v", ok, decided)
	}
}

func TestOIDCBoundsTheKeySet(t *testing.T) {
	f := newOIDCFixture(t)
	f.iss.mu.Lock()
	f.iss.huge = true
	f.iss.mu.Unlock()
	if _, ok := f.authn.Authenticate(sign(t, f.key, jose.RS256, f.claims(nil))); ok {
		t.Fatal("accepted with an oversized key set")
	}
}

func TestOIDCConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  OIDCConfig
	}{
		{"no audience", OIDCConfig{Issuer: "https://idp.example", RoleMap: "a=admin"}},
		{"no role map", OIDCConfig{Issuer: "https://idp.example", Audience: "x"}},
		{"http issuer", OIDCConfig{Issuer: "http://idp.example", Audience: "x", RoleMap: "a=admin"}},
		{"issuer with query", OIDCConfig{Issuer: "https://idp.example/?a=b", Audience: "x", RoleMap: "a=admin"}},
		{"harvester role", OIDCConfig{Issuer: "https://idp.example", Audience: "x", RoleMap: "a=harvester"}},
		{"unknown role", OIDCConfig{Issuer: "https://idp.example", Audience: "x", RoleMap: "a=root"}},
	} {
		if _, err := NewOIDCAuthenticator(tc.cfg, nil); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestRoleMap(t *testing.T) {
	m, err := ParseRoleMap("realm_access.roles", " ill-admins=admin, ill-staff=operator ,ill-staff=viewer,a=b=viewer")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"realm_access": map[string]any{"roles": []any{"ill-staff", 3, "x"}}}, "[operator viewer]"},
		{map[string]any{"realm_access.roles": "ill-admins"}, "[admin]"},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"a=b"}}}, "[viewer]"},
		{map[string]any{"realm_access": map[string]any{"roles": "nobody"}}, "[]"},
		{map[string]any{"realm_access": "flat"}, "[]"},
		{map[string]any{}, "[]"},
	} {
		if got := fmt.Sprint(m.Roles(tc.claims)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.claims, got, tc.want)
		}
	}
	for _, bad := range []string{"", "=admin", "x", "x=", "x=harvester"} {
		if _, err := ParseRoleMap("", bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPrincipalName(t *testing.T) {
	long := "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
	for _, tc := range []struct {
		name, issuer, sub string
		claims            map[string]any
		want              string
	}{
		{"name", "https://idp.example/realms/lib", "a1b2", map[string]any{"name": "Ann Andersson"}, "Ann Andersson <https://idp.example/realms/lib#a1b2>"},
		{"username", "https://idp.example", "a1", map[string]any{"preferred_username": "ann"}, "ann <https://idp.example#a1>"},
		{"none", "https://idp.example", "a1", nil, "<https://idp.example#a1>"},
		{"cleaned", "https://idp.example", "a1", map[string]any{"name": " Ann\n<b>\tAndersson\x00 "}, "Ann b Andersson <https://idp.example#a1>"},
		{"long issuer", long, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", map[string]any{"name": "Ann"},
			"Ann <login.microsoftonline.com#sha256:" + sha(long, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ") + ">"},
		{"long name", "https://idp.example", "a1", map[string]any{"name": strings.Repeat("Åsa ", 60)}, ""},
	} {
		got := PrincipalName(tc.issuer, tc.sub, tc.claims)
		if len(got) > maxPrincipalLen {
			t.Errorf("%s: %d bytes, over the limit", tc.name, len(got))
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.want == "" && (!strings.HasSuffix(got, "… <https://idp.example#a1>") || !strings.HasPrefix(got, "Åsa Åsa")) {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
	if PrincipalName("https://a.example", "x", nil) == PrincipalName("https://b.example", "x", nil) {
		t.Error("two issuers' subjects share a name")
	}
}

func sha(issuer, sub string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + sub))
	return hex.EncodeToString(sum[:])[:32]
}

// TestTapDefersOIDC: the tap, on a connection's reader goroutine, never contacts the
// provider: a JWT it cannot decide from cached keys passes it without a Principal, and
// the interceptor then authenticates it (fetching the keys) and authorises it; once the
// keys are cached the tap decides by itself, and refuses a bad token there.
func TestTapDefersOIDC(t *testing.T) {
	f := newOIDCFixture(t)
	authn := Chain(nil, f.authn)
	tapHandle := TapHandle(authn, DefaultPolicy(), nil)
	intercept := UnaryServerInterceptor(authn, DefaultPolicy(), nil)
	const read = "/interloan.requests.v1.RequestService/ListBorrowingRequests"
	incoming := func(tok string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	}
	tok := sign(t, f.key, jose.RS256, f.claims(nil))
	ctx, err := tapHandle(incoming(tok), &tap.Info{FullMethodName: read})
	if err != nil {
		t.Fatalf("tap refused a token it could not decide: %v", err)
	}
	if _, ok := FromContext(ctx); ok || f.iss.hits() != 0 {
		t.Fatalf("tap decided (principal %v, %d key fetches)", ok, f.iss.hits())
	}
	var who string
	_, err = intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: read}, func(ctx context.Context, _ any) (any, error) {
		who = Caller(ctx)
		return nil, nil
	})
	if err != nil || !strings.HasPrefix(who, "Ann Andersson <") {
		t.Fatalf("interceptor: %v, caller %q", err, who)
	}
	ctx, err = tapHandle(incoming(tok), &tap.Info{FullMethodName: read})
	if p, ok := FromContext(ctx); err != nil || !ok || p.Name != who {
		t.Fatalf("tap with cached keys: %v, %+v", err, p)
	}
	expired := sign(t, f.key, jose.RS256, f.claims(func(c map[string]any) { c["exp"] = f.clk.Now().Add(-time.Hour).Unix() }))
	if _, err := tapHandle(incoming(expired), &tap.Info{FullMethodName: read}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("tap with cached keys, expired token: %v", err)
	}
}
