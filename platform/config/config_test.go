package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestEnvThenFlag(t *testing.T) {
	t.Setenv("X_ADDR", ":1")
	t.Setenv("X_GRACE", "3s")
	t.Setenv("X_N", "7")
	t.Setenv("X_ON", "true")
	s := New("t")
	var addr string
	var grace time.Duration
	var n int
	var on bool
	s.String(&addr, "addr", "X_ADDR", ":0", "")
	s.Duration(&grace, "grace", "X_GRACE", time.Second, "")
	s.Int(&n, "n", "X_N", 1, "")
	s.Bool(&on, "on", "X_ON", false, "")
	if err := s.Parse(nil); err != nil || addr != ":1" || grace != 3*time.Second || n != 7 || !on {
		t.Fatalf("env default: %q %v %d %v %v", addr, grace, n, on, err)
	}
	s = New("t")
	s.String(&addr, "addr", "X_ADDR", ":0", "")
	if err := s.Parse([]string{"-addr", ":2"}); err != nil || addr != ":2" {
		t.Fatalf("flag must win: %q %v", addr, err)
	}
}

func TestBadEnvIsAnError(t *testing.T) {
	for _, bind := range []func(*Set){
		func(s *Set) { var d time.Duration; s.Duration(&d, "grace", "X_BAD", time.Second, "") },
		func(s *Set) { var n int; s.Int(&n, "n", "X_BAD", 1, "") },
		func(s *Set) { var b bool; s.Bool(&b, "on", "X_BAD", false, "") },
	} {
		t.Setenv("X_BAD", "soon")
		s := New("t")
		s.SetOutput(io.Discard)
		bind(s)
		if err := s.Parse(nil); err == nil {
			t.Fatal("malformed env must fail Parse")
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Setenv("X_KEY", "s3cr3t-value")
	var out strings.Builder
	s := New("t")
	s.SetOutput(&out)
	var key string
	s.Secret(&key, "key", "X_KEY", "the key")
	if err := s.Parse([]string{"-bogus"}); err == nil {
		t.Fatal("bogus flag accepted")
	}
	if strings.Contains(out.String(), "s3cr3t") {
		t.Fatalf("usage printed the secret: %s", out.String())
	}
	s = New("t")
	s.Secret(&key, "key", "X_KEY", "the key")
	if err := s.Parse(nil); err != nil || key != "s3cr3t-value" {
		t.Fatalf("env secret = %q, %v", key, err)
	}
	s = New("t")
	s.Secret(&key, "key", "X_KEY", "the key")
	if err := s.Parse([]string{"-key", "flag-value"}); err != nil || key != "flag-value" {
		t.Fatalf("flag must win: %q, %v", key, err)
	}
}
