// Package oidcprovider runs a real OpenID provider on loopback for tests: zitadel's
// OpenID Provider library (github.com/zitadel/oidc/v3/pkg/op) with its example in-memory
// storage and username/password login page, configured with the test's people, web
// clients and service clients. It is an independent implementation of the protocol, not
// something built from our client code, so a sign-in that works against it works by the
// standard: discovery, authorization code with PKCE, the login page, the token endpoint,
// client credentials, signed JWT access and ID tokens, and RP-initiated logout.
//
// The storage is extended only where the example leaves a gap: a `groups` claim (and
// `name`) in ID and access tokens, JWT access tokens with a configured extra audience,
// registered post-logout redirect URIs, and service clients of the test's choosing.
package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	exstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/text/language"
)

// User is a person who can sign in on the login page.
type User struct {
	ID, Username, Password string
	FirstName, LastName    string
	Email                  string
	Groups                 []string
}

// Client is a web application using the authorization code flow (with a secret). Its
// URIs may be globs (`http://localhost:*/signin/oidc/callback`), for an application
// whose port is chosen when it starts.
type Client struct {
	ID, Secret     string
	RedirectURIs   []string
	PostLogoutURIs []string
}

// Service is a client of the client-credentials grant: an API client acting as itself.
type Service struct {
	ID, Secret string
	Name       string
	Groups     []string
}

// Options configure Start.
type Options struct {
	Users    []User
	Clients  []Client
	Services []Service
	// Audience is added to the aud of client-credentials access tokens (the API's
	// audience), beside the service's id; code-flow tokens carry the web client's id.
	Audience string
	// Host to listen on ("" is 127.0.0.1).
	Host string
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its issuer URL (http on loopback).
	Issuer  string
	srv     *http.Server
	done    chan error
	storage *storage
	// endSessions counts requests to the end_session_endpoint (RP-initiated logout).
	endSessions atomic.Int64
}

// EndSessions is how many times a browser was sent to the end_session_endpoint.
func (p *Provider) EndSessions() int { return int(p.endSessions.Load()) }

// Start serves a provider until Close.
func Start(o Options) (*Provider, error) {
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	issuer := "http://" + lis.Addr().String()
	st := newStorage(o)
	router := exampleop.SetupServer(issuer, st, nil, false)
	p := &Provider{Issuer: issuer, storage: st, done: make(chan error, 1)}
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/end_session" {
			p.endSessions.Add(1)
		}
		router.ServeHTTP(w, r)
	})}
	go func() { p.done <- p.srv.Serve(lis) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serveErr := <-p.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// ClientCredentialsToken gets an access token for service id from the token endpoint.
func (p *Provider) ClientCredentialsToken(ctx context.Context, id, secret string) (string, error) {
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.Issuer + "/oauth/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("client credentials token: %w", err)
	}
	return tok.AccessToken, nil
}

// storage is the example's in-memory storage with the test's people and clients.
type storage struct {
	*exstorage.Storage
	audience string
	users    map[string]User    // by id
	clients  map[string]Client  // by id
	services map[string]Service // by id
}

func newStorage(o Options) *storage {
	s := &storage{audience: o.Audience, users: map[string]User{}, clients: map[string]Client{}, services: map[string]Service{}}
	us := userStore{byID: map[string]*exstorage.User{}}
	for _, u := range o.Users {
		s.users[u.ID] = u
		us.byID[u.ID] = &exstorage.User{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.FirstName,
			LastName: u.LastName, Email: u.Email, EmailVerified: true, PreferredLanguage: language.English}
	}
	clients := map[string]*exstorage.Client{}
	for _, c := range o.Clients {
		s.clients[c.ID] = c
		clients[c.ID] = exstorage.WebClient(c.ID, c.Secret, "http://localhost/unused")
	}
	for _, sv := range o.Services {
		s.services[sv.ID] = sv
	}
	s.Storage = exstorage.NewStorageWithClients(us, clients)
	return s
}

// GetClientByClientID adds JWT access tokens, the user's claims in the ID token and
// the registered post-logout URIs to the example's web client.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return client{Client: c, redirects: s.clients[id].RedirectURIs, postLogout: s.clients[id].PostLogoutURIs}, nil
}

type client struct {
	op.Client
	redirects, postLogout []string
	grants                []oidc.GrantType
}

func (c client) RedirectURIGlobs() []string           { return c.redirects }
func (c client) PostLogoutRedirectURIGlobs() []string { return c.postLogout }

func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) PostLogoutRedirectURIs() []string     { return c.postLogout }

func (c client) GrantTypes() []oidc.GrantType {
	if c.grants != nil {
		return c.grants
	}
	return c.Client.GrantTypes()
}

// ClientCredentials authenticates one of the test's services.
func (s *storage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	sv, ok := s.services[id]
	if !ok || sv.Secret != secret {
		return nil, errors.New("wrong service client or secret")
	}
	return client{Client: exstorage.WebClient(id, secret), grants: []oidc.GrantType{oidc.GrantTypeClientCredentials}}, nil
}

// ClientCredentialsTokenRequest is the service's token: itself as subject, for the API.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	if _, ok := s.services[id]; !ok {
		return nil, errors.New("wrong service client")
	}
	return &oidc.JWTTokenRequest{Subject: id, Audience: s.withAudience([]string{id}), Scopes: scopes}, nil
}

// withAudience adds the API audience. Only client-credentials tokens get it: a code-flow
// access token's aud is the web client's id, as the example storage has it.
func (s *storage) withAudience(aud []string) []string {
	if s.audience != "" && !slices.Contains(aud, s.audience) {
		aud = append(slices.Clone(aud), s.audience)
	}
	return aud
}

// GetPrivateClaimsFromScopes puts the person's (or service's) name and groups in JWT
// access tokens.
func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, subject, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, subject, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	if u, ok := s.users[subject]; ok {
		claims["groups"], claims["name"] = u.Groups, u.FirstName+" "+u.LastName
	}
	if sv, ok := s.services[subject]; ok {
		claims["groups"], claims["name"] = sv.Groups, sv.Name
	}
	return claims, nil
}

// SetUserinfoFromRequest puts the groups in the ID token.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if u, ok := s.users[req.GetSubject()]; ok {
		info.AppendClaims("groups", u.Groups)
	}
	return nil
}

// userStore is the example storage's view of the test's people.
type userStore struct{ byID map[string]*exstorage.User }

func (u userStore) GetUserByID(id string) *exstorage.User { return u.byID[id] }
func (u userStore) GetUserByUsername(name string) *exstorage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return "service" }
