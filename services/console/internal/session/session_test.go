package session

import (
	"errors"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSessionExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []time.Duration // time passing between uses
		alive bool
	}{
		{"fresh", nil, true},
		{"used within idle", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, true},
		{"idle too long", []time.Duration{31 * time.Minute}, false},
		{"busy but past absolute", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
			s := NewStore(Limits{Idle: 30 * time.Minute, Absolute: 2 * time.Hour}, c.now)
			sess, err := s.Create(Identity{Principal: "ann", Roles: []string{"viewer"}}, "il_secret")
			if err != nil {
				t.Fatal(err)
			}
			var got *Session
			for _, d := range tc.steps {
				c.t = c.t.Add(d)
				if got, err = s.Get(sess.ID); err != nil {
					break
				}
			}
			if len(tc.steps) == 0 {
				got, err = s.Get(sess.ID)
			}
			if tc.alive != (err == nil) {
				t.Fatalf("alive = %v (err %v), want %v", err == nil, err, tc.alive)
			}
			if tc.alive && got.Credential() != "il_secret" {
				t.Errorf("credential not kept")
			}
			if !tc.alive && !errors.Is(err, ErrNoSession) {
				t.Errorf("err = %v, want ErrNoSession", err)
			}
		})
	}
}

func TestSessionDeleteAndCSRF(t *testing.T) {
	s := NewStore(Limits{}, nil)
	a, _ := s.Create(Identity{Principal: "a"}, "t1")
	b, _ := s.Create(Identity{Principal: "b"}, "t2")
	if a.ID == b.ID || a.CSRF == b.CSRF || a.ID == a.CSRF {
		t.Fatal("ids and CSRF tokens must be distinct random values")
	}
	if !a.CheckCSRF(a.CSRF) || a.CheckCSRF(b.CSRF) || a.CheckCSRF("") {
		t.Error("CheckCSRF accepts only the session's own token")
	}
	s.Delete(a.ID)
	if _, err := s.Get(a.ID); !errors.Is(err, ErrNoSession) {
		t.Errorf("after sign-out: %v", err)
	}
	if _, err := s.Get(b.ID); err != nil {
		t.Errorf("the other session ended too: %v", err)
	}
}

func TestSessionStoreIsBounded(t *testing.T) {
	c := &clock{t: time.Now()}
	s := NewStore(Limits{Max: 3}, c.now)
	var first *Session
	for i := range 10 {
		c.t = c.t.Add(time.Second)
		sess, err := s.Create(Identity{Principal: "x"}, "t")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = sess
		}
	}
	if s.Len() != 3 {
		t.Errorf("holds %d sessions, want 3", s.Len())
	}
	if _, err := s.Get(first.ID); err == nil {
		t.Error("the least recently used session should have been ended")
	}
}

// TestSessionEndsWithItsAccessToken: a session signed in through an OpenID provider ends
// when its access token expires, however recently it was used.
func TestSessionEndsWithItsAccessToken(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	s := NewStore(Limits{Idle: 30 * time.Minute, Absolute: 2 * time.Hour}, c.now)
	sess, err := s.CreateWithProvider(Identity{Principal: "Ann <https://idp.example#a1>", Roles: []string{"viewer"}, Method: "oidc"},
		"eyJ.access.token", Provider{IDToken: "eyJ.id.token", Expires: c.t.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(4 * time.Minute)
	got, err := s.Get(sess.ID)
	if err != nil || got.Provider().IDToken != "eyJ.id.token" {
		t.Fatalf("before expiry: %v, %+v", err, got)
	}
	c.t = c.t.Add(time.Minute)
	if _, err := s.Get(sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after the access token expired: %v, want ErrNoSession", err)
	}
}
