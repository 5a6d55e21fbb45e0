package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/interloan/interloan/platform/apierr"
)

// OIDCAuthenticator accepts the access tokens (JWTs) of one OpenID provider: verified by
// Provider, for one of the configured audiences, the person named by PrincipalName with
// the roles RoleMap gives. A valid token whose claims map to no role authenticates no
// one: the call is UNAUTHENTICATED, exactly like an unknown token, so a person of the
// organisation who was given no access learns nothing about the policy.
type OIDCAuthenticator struct {
	provider  *Provider
	audiences []string
	roles     RoleMap
	log       *slog.Logger
}

// NewOIDCAuthenticator checks c (issuer, at least one audience, a non-empty role map)
// without contacting the provider: discovery happens on the first token.
func NewOIDCAuthenticator(c OIDCConfig, log *slog.Logger, opts ...ProviderOption) (*OIDCAuthenticator, error) {
	if log == nil {
		log = slog.Default()
	}
	if len(c.Audiences()) == 0 {
		return nil, errors.New("oidc: --oidc-audience is required with --oidc-issuer (the aud your provider puts in access tokens for Interloan)")
	}
	roles, err := ParseRoleMap(c.RolesClaim, c.RoleMap)
	if err != nil {
		return nil, fmt.Errorf("oidc: --oidc-role-map: %w", err)
	}
	p, err := NewProvider(c.Issuer, append([]ProviderOption{WithProviderLogger(log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &OIDCAuthenticator{provider: p, audiences: c.Audiences(), roles: roles, log: log}, nil
}

// Provider is the authenticator's provider.
func (a *OIDCAuthenticator) Provider() *Provider { return a.provider }

// Authenticate verifies token, fetching the provider's discovery document or keys if it
// must (bounded in time).
func (a *OIDCAuthenticator) Authenticate(token string) (Principal, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*issuerTimeout)
	defer cancel()
	p, ok, _ := a.authenticate(ctx, token)
	return p, ok
}

// authenticateOffline decides token from what is already cached; decided is false when
// that needs the network (TapHandle then leaves it to the interceptors).
func (a *OIDCAuthenticator) authenticateOffline(token string) (p Principal, ok, decided bool) {
	var needed bool
	p, ok, _ = a.authenticate(offlineContext(context.Background(), &needed), token)
	return p, ok, !needed
}

func (a *OIDCAuthenticator) authenticate(ctx context.Context, token string) (Principal, bool, error) {
	if !looksLikeJWT(token) {
		return Principal{}, false, nil
	}
	c, err := a.provider.Verify(ctx, token, a.audiences)
	if err != nil {
		if !errors.Is(err, errNeedsFetch) {
			a.log.Info("OIDC token refused", "issuer", a.provider.Issuer(), "reason", apierr.Clip(err.Error(), 200))
		}
		return Principal{}, false, err
	}
	roles := a.roles.Roles(c.All)
	name := PrincipalName(a.provider.Issuer(), c.Subject, c.All)
	if len(roles) == 0 {
		a.log.Info("OIDC token refused: its claims map to no role", "principal", name, "claim", a.roles.Claim())
		return Principal{}, false, nil
	}
	return Principal{Name: name, Roles: roles}, true, nil
}

// looksLikeJWT: three base64url parts, bounded; anything else is not worth parsing.
func looksLikeJWT(token string) bool {
	return len(token) <= MaxJWTLen && strings.Count(token, ".") == 2 && !strings.HasPrefix(token, TokenPrefix)
}

// Chain is a service's Authenticator with OpenID Connect: the tokens file decides every
// token it knows and every `il_` token (a break-glass token never reaches the provider);
// anything else shaped like a JWT goes to the provider. oidc may be nil.
func Chain(tokens Authenticator, oidc *OIDCAuthenticator) Authenticator {
	if oidc == nil {
		return tokens
	}
	return chain{tokens: tokens, oidc: oidc}
}

type chain struct {
	tokens Authenticator
	oidc   *OIDCAuthenticator
}

func (c chain) Authenticate(token string) (Principal, bool) {
	if p, ok := c.fromFile(token); ok || strings.HasPrefix(token, TokenPrefix) {
		return p, ok
	}
	return c.oidc.Authenticate(token)
}

func (c chain) authenticateOffline(token string) (Principal, bool, bool) {
	if p, ok := c.fromFile(token); ok || strings.HasPrefix(token, TokenPrefix) {
		return p, ok, true
	}
	return c.oidc.authenticateOffline(token)
}

func (c chain) fromFile(token string) (Principal, bool) {
	if c.tokens == nil || len(token) > MaxTokenLen {
		return Principal{}, false
	}
	return c.tokens.Authenticate(token)
}

// offlineAuthenticator is an Authenticator that may need the network to decide (an
// OpenID provider's keys). TapHandle, which runs on a connection's reader goroutine
// where waiting would stall every call on the connection, asks it to decide from what
// it holds and leaves what it cannot decide to the interceptors.
type offlineAuthenticator interface {
	authenticateOffline(token string) (p Principal, ok, decided bool)
}
