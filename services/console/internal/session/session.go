// Package session keeps the staff console's signed-in sessions on the server. The browser
// holds only an opaque random id in an HttpOnly cookie; the credential the console calls
// the services with (an API token today, an OIDC access token later) never leaves this
// process, so it cannot leak through browser storage, URLs or logs.
package session

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// Identity is who the services take the session's credential to be, as the identity
// service reported it at sign-in. The console shapes its pages with it; the services
// still judge every call themselves.
type Identity struct {
	Principal string
	Roles     []string
	// Method is how the person signed in: "token" or "oidc".
	Method string
}

// Session is one signed-in browser.
type Session struct {
	ID string
	// CSRF is the token every state-changing form of this session must carry.
	CSRF     string
	Identity Identity
	Created  time.Time
	// credential is what the console calls the services with on the person's behalf.
	credential string
	provider   Provider
	seen       time.Time
}

// Provider is what a sign-in through an OpenID provider keeps beside the credential.
type Provider struct {
	// IDToken is sent back to the provider as the hint of RP-initiated logout.
	IDToken string
	// Expires is when the credential (the provider's access token) stops being accepted;
	// the session ends then, since every call would be refused after it.
	Expires time.Time
}

// Provider returns what the session's OpenID sign-in kept (zero for a token sign-in).
func (s *Session) Provider() Provider { return s.provider }

// Credential is the bearer credential for calls made on the session's behalf.
func (s *Session) Credential() string { return s.credential }

// CheckCSRF reports whether token is this session's CSRF token, in constant time.
func (s *Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// Limits bound a session's life and the store's size.
type Limits struct {
	// Idle ends a session not used for this long.
	Idle time.Duration
	// Absolute ends a session this long after sign-in, however busy.
	Absolute time.Duration
	// Max is the number of live sessions kept; signing in beyond it ends the session
	// that was used least recently, so a flood of sign-ins cannot exhaust memory.
	Max int
}

// DefaultLimits: a working day at most, half an hour idle.
var DefaultLimits = Limits{Idle: 30 * time.Minute, Absolute: 10 * time.Hour, Max: 10000}

// ErrNoSession is returned for an unknown, ended or expired session id.
var ErrNoSession = errors.New("no such session")

// Store holds the live sessions in memory. A restart signs everyone out, which is the
// safe failure for a store of credentials.
type Store struct {
	limits Limits
	now    func() time.Time
	mu     sync.Mutex
	byID   map[string]*Session
}

// NewStore returns an empty store; now is the clock (nil: time.Now).
func NewStore(l Limits, now func() time.Time) *Store {
	if l.Idle <= 0 {
		l.Idle = DefaultLimits.Idle
	}
	if l.Absolute <= 0 {
		l.Absolute = DefaultLimits.Absolute
	}
	if l.Max <= 0 {
		l.Max = DefaultLimits.Max
	}
	if now == nil {
		now = time.Now
	}
	return &Store{limits: l, now: now, byID: map[string]*Session{}}
}

// Limits returns the store's limits.
func (s *Store) Limits() Limits { return s.limits }

// Create starts a session for identity with its credential.
func (s *Store) Create(id Identity, credential string) (*Session, error) {
	return s.CreateWithProvider(id, credential, Provider{})
}

// CreateWithProvider is Create for a sign-in through an OpenID provider.
func (s *Store) CreateWithProvider(id Identity, credential string, p Provider) (*Session, error) {
	sid, err := Random()
	if err != nil {
		return nil, err
	}
	csrf, err := Random()
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &Session{ID: sid, CSRF: csrf, Identity: id, Created: now, credential: credential, provider: p, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if len(s.byID) >= s.limits.Max {
		var oldest *Session
		for _, o := range s.byID {
			if oldest == nil || o.seen.Before(oldest.seen) {
				oldest = o
			}
		}
		delete(s.byID, oldest.ID)
	}
	s.byID[sid] = sess
	return sess, nil
}

// Get returns the live session with id and marks it used. An expired session is ended.
func (s *Store) Get(id string) (*Session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if !ok {
		return nil, ErrNoSession
	}
	if s.expired(sess, now) {
		delete(s.byID, id)
		return nil, ErrNoSession
	}
	sess.seen = now
	return sess, nil
}

// Delete ends the session with id (signing out); an unknown id is not an error.
func (s *Store) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// Len is the number of sessions held, expired ones included until swept.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *Store) expired(sess *Session, now time.Time) bool {
	return now.Sub(sess.seen) > s.limits.Idle || now.Sub(sess.Created) > s.limits.Absolute ||
		!sess.provider.Expires.IsZero() && !now.Before(sess.provider.Expires)
}

// sweep drops expired sessions; called on every sign-in, so the store never holds more
// than the sessions of the last idle period plus Max.
func (s *Store) sweep(now time.Time) {
	for id, sess := range s.byID {
		if s.expired(sess, now) {
			delete(s.byID, id)
		}
	}
}

// Random returns 256 random bits, URL-safe: session ids, CSRF tokens, sign-in nonces.
func Random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
