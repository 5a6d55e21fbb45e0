package config

import (
	"io"
	"testing"
	"time"
)

func TestEnvThenFlag(t *testing.T) {
	t.Setenv("X_ADDR", ":1")
	t.Setenv("X_GRACE", "3s")
	s := New("t")
	var addr string
	var grace time.Duration
	s.String(&addr, "addr", "X_ADDR", ":0", "")
	s.Duration(&grace, "grace", "X_GRACE", time.Second, "")
	if err := s.Parse(nil); err != nil || addr != ":1" || grace != 3*time.Second {
		t.Fatalf("env default: %q %v %v", addr, grace, err)
	}
	s = New("t")
	s.String(&addr, "addr", "X_ADDR", ":0", "")
	if err := s.Parse([]string{"-addr", ":2"}); err != nil || addr != ":2" {
		t.Fatalf("flag must win: %q %v", addr, err)
	}
}

func TestBadEnvIsAnError(t *testing.T) {
	t.Setenv("X_GRACE", "soon")
	s := New("t")
	s.SetOutput(io.Discard)
	var grace time.Duration
	s.Duration(&grace, "grace", "X_GRACE", time.Second, "")
	if err := s.Parse(nil); err == nil {
		t.Fatal("malformed env must fail Parse")
	}
}
