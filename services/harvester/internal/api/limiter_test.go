package api

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func testLimiter(clock *testClock, cap int) *failureLimiter {
	return newFailureLimiter(receiptFreeFailures, receiptFirstLockout, receiptMaxLockout, receiptForget, cap, clock.Now)
}

// fail makes one failed attempt for key and reports whether it was admitted.
func fail(l *failureLimiter, key string) bool {
	if _, _, ok := l.admit(key); !ok {
		return false
	}
	l.done(key, attemptFailed)
	return true
}

// TestFailureLimiterIsBounded: a flood of failures from 100 000 distinct sources keeps
// the table within its cap, and does not push out a source that is locked out.
func TestFailureLimiterIsBounded(t *testing.T) {
	const cap = 1000
	clock := newTestClock()
	l := testLimiter(clock, cap)
	for range receiptFreeFailures {
		fail(l, "192.0.2.1")
	}
	if _, _, ok := l.admit("192.0.2.1"); ok {
		t.Fatal("the guessing source was not locked out")
	}
	most := 0
	for i := range 100_000 {
		src := "10." + strconv.Itoa(i>>16) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		if !fail(l, src) {
			t.Fatalf("a new source %s was refused", src)
		}
		most = max(most, l.size())
	}
	t.Logf("100000 sources with one failure each: at most %d keys held (cap %d)", most, cap)
	if most > cap {
		t.Fatalf("the table held %d keys; cap %d", most, cap)
	}
	if _, _, ok := l.admit("192.0.2.1"); ok {
		t.Fatal("the flood of new sources ended the guessing source's lockout")
	}
}

func TestFailureLimiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(t *testing.T, l *failureLimiter, clock *testClock)
	}{
		{"a key forgotten after an hour without failures starts afresh", func(t *testing.T, l *failureLimiter, clock *testClock) {
			for range receiptFreeFailures - 1 {
				fail(l, "k")
			}
			clock.Advance(receiptForget)
			for i := range receiptFreeFailures - 1 {
				if !fail(l, "k") {
					t.Fatalf("failure %d after an hour refused", i+1)
				}
			}
		}},
		{"failures of one key do not lock another", func(t *testing.T, l *failureLimiter, clock *testClock) {
			for range receiptFreeFailures {
				fail(l, "a")
			}
			if !fail(l, "b") {
				t.Fatal("b refused for a's failures")
			}
		}},
		{"an undecided attempt neither counts nor is remembered", func(t *testing.T, l *failureLimiter, clock *testClock) {
			for range 3 * receiptFreeFailures {
				if _, _, ok := l.admit("k"); !ok {
					t.Fatal("refused after undecided attempts")
				}
				l.done("k", attemptUndecided)
			}
			if l.size() != 0 {
				t.Fatalf("%d keys remembered", l.size())
			}
		}},
		{"attempts in flight count against the failures left", func(t *testing.T, l *failureLimiter, clock *testClock) {
			fail(l, "k")
			for i := range receiptFreeFailures - 1 {
				if _, _, ok := l.admit("k"); !ok {
					t.Fatalf("attempt %d in flight refused", i+1)
				}
			}
			if wait, busy, ok := l.admit("k"); ok || !busy || wait != time.Second {
				t.Fatalf("one more attempt in flight: wait %v busy %v admitted %v; want refused as busy for 1s", wait, busy, ok)
			}
			l.done("k", attemptSucceeded)
			if _, _, ok := l.admit("k"); !ok {
				t.Fatal("refused after a success")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			tc.steps(t, testLimiter(clock, 100), clock)
		})
	}
}

// TestLogGate: one line per key per interval, with the count held back; a flood of keys
// shares one line once the gate is full.
func TestLogGate(t *testing.T) {
	clock := newTestClock()
	g := newLogGate(time.Minute, 10, clock.Now)
	let := 0
	for i := range 1000 {
		if ok, _ := g.allow("k" + strconv.Itoa(i)); ok {
			let++
		}
	}
	if let > 11 {
		t.Fatalf("%d lines let through for 1000 keys within a minute; want at most 11", let)
	}
	g2 := newLogGate(time.Minute, 10, clock.Now)
	for i, want := range []bool{true, false, false} {
		if ok, _ := g2.allow("p"); ok != want {
			t.Fatalf("line %d let through %v, want %v", i, ok, want)
		}
	}
	clock.Advance(time.Minute)
	if ok, held := g2.allow("p"); !ok || held != 2 {
		t.Fatalf("a minute later: let through %v, held %d; want true, 2", ok, held)
	}
}

func TestUntrustedAndSourceOf(t *testing.T) {
	long := "é" + strings.Repeat("x", 300<<10)
	for _, tc := range []struct{ in, want string }{
		{"PUSH1", `"PUSH1"`},
		{"a\nb\x1b[31m", `"a\nb\x1b[31m"`},
		{long, `"\u00e9` + strings.Repeat("x", untrustedPrefix-2) + `"... (307202 bytes)`},
		{"é" + strings.Repeat("x", untrustedPrefix-3) + "é", `"\u00e9` + strings.Repeat("x", untrustedPrefix-3) + `"... (65 bytes)`}, // not cut within é
	} {
		if got := untrusted(tc.in); got != tc.want {
			t.Errorf("untrusted(%.20q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7:443", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:443", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
		{"@", "@"},
	} {
		if got := sourceOf(tc.in); got != tc.want {
			t.Errorf("sourceOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
