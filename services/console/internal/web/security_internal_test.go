package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/auth"
)

func TestCheckIDToken(t *testing.T) {
	const client, nonce = "interloan-console", "n-0123456789"
	for _, tc := range []struct {
		name  string
		nonce string
		all   map[string]any
		ok    bool
	}{
		{"ours", nonce, map[string]any{"aud": client}, true},
		{"ours, azp", nonce, map[string]any{"aud": []any{client, "api"}, "azp": client}, true},
		{"ours, one audience in a list", nonce, map[string]any{"aud": []any{client}}, true},
		{"another sign-in's nonce", "n-other", map[string]any{"aud": client}, false},
		{"no nonce", "", map[string]any{"aud": client}, false},
		{"issued to another client", nonce, map[string]any{"aud": client, "azp": "other-app"}, false},
		{"several audiences, no azp", nonce, map[string]any{"aud": []any{client, "other-app"}}, false},
		{"several audiences, another azp", nonce, map[string]any{"aud": []any{client, "other-app"}, "azp": "other-app"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkIDToken(&auth.Claims{Subject: "s", Nonce: tc.nonce, All: tc.all}, nonce, client)
			if (err == nil) != tc.ok {
				t.Errorf("checkIDToken: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStreamCountBounds(t *testing.T) {
	var c streamCount
	for i := range maxProgressPerPerson {
		if !c.acquire("ann") {
			t.Fatalf("ann's stream %d refused", i+1)
		}
	}
	if c.acquire("ann") {
		t.Fatal("ann holds more than maxProgressPerPerson streams")
	}
	c.release("ann")
	if !c.acquire("ann") {
		t.Fatal("a released stream is not given back")
	}
	// Everyone together: the total bound holds whoever asks.
	n := maxProgressPerPerson
	for p := 0; n < maxProgressStreams; p++ {
		for range maxProgressPerPerson {
			if n < maxProgressStreams && c.acquire(string(rune('b'+p))) {
				n++
			}
		}
	}
	if c.acquire("zed") {
		t.Fatal("more than maxProgressStreams streams in all")
	}
	c.release("ann")
	if !c.acquire("zed") {
		t.Fatal("a stream is refused below the bounds")
	}
	for range maxProgressPerPerson - 1 { // ann's, after one went back
		c.release("ann")
	}
	if _, ok := c.byPerson["ann"]; ok || c.total != maxProgressStreams-maxProgressPerPerson+1 {
		t.Errorf("after releasing: total %d, ann %d", c.total, c.byPerson["ann"])
	}
}

// TestPendingSigninsFlood: anyone can start provider sign-ins (GET /signin/oidc); a flood
// of them must not refuse the next person's, it pushes out the oldest instead.
func TestPendingSigninsFlood(t *testing.T) {
	o := &oidcSignin{pending: map[string]pendingSignin{}}
	start := time.Now().Add(pendingLife)
	for i := range maxPending {
		o.remember(fmt.Sprint("flood-", i), pendingSignin{expires: start.Add(time.Duration(i) * time.Millisecond)})
	}
	o.remember("person", pendingSignin{nonce: "n", expires: start.Add(time.Hour)})
	if len(o.pending) != maxPending {
		t.Errorf("%d sign-ins held, want at most %d", len(o.pending), maxPending)
	}
	if _, ok := o.pending["flood-0"]; ok {
		t.Error("the oldest sign-in was kept")
	}
	if p, ok := o.take("person"); !ok || p.nonce != "n" {
		t.Error("the person's sign-in is gone")
	}
}
