package api

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// failureLimiter counts the authentication failures of keys (source addresses, profile
// names) and locks a key out after a few: the first lockout is short and each further
// failure doubles it up to a cap, so that guessing a password costs hours per handful of
// tries while a sender that got it wrong once soon gets through. Attempts in flight
// count against what a key may still fail, so guesses sent all at once get no more
// tries than guesses sent in turn. It remembers at most cap keys: beyond that it drops
// the keys that matter least (forgotten ones first, locked-out ones last), so a caller
// rotating addresses or names cannot grow it without bound.
type failureLimiter struct {
	free   int           // failures a key may have before it is locked out
	first  time.Duration // the first lockout; each further failure doubles it
	max    time.Duration // the longest lockout
	forget time.Duration // a key without a failure for this long starts afresh
	cap    int           // keys remembered at most
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*strikes
}

// strikes is what a failureLimiter remembers of a key.
type strikes struct {
	failures int
	inFlight int       // attempts admitted and not yet done
	last     time.Time // of the last failure
	until    time.Time // locked out until
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	attemptUndecided outcome = iota // no password was tried (a malformed message, profiles down)
	attemptFailed
	attemptSucceeded
)

// evictSample is how many keys a full failureLimiter looks at to choose one to drop.
const evictSample = 16

func newFailureLimiter(free int, first, max, forget time.Duration, cap int, now func() time.Time) *failureLimiter {
	return &failureLimiter{free: free, first: first, max: max, forget: forget, cap: cap, now: now, keys: map[string]*strikes{}}
}

// lockedOut says how long key is still locked out, if it is; unlike admit it reserves
// nothing, so it can come before a request is read.
func (l *failureLimiter) lockedOut(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if s := l.keys[key]; s != nil && now.Before(s.until) {
		return s.until.Sub(now), true
	}
	return 0, false
}

// admit reserves an attempt for key, or says how long to wait when key is locked out
// or (busy) already has as many attempts in flight as failures it may still have. Each
// admitted attempt must be ended with done.
func (l *failureLimiter) admit(key string) (wait time.Duration, busy, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.get(key, now)
	if now.Before(s.until) {
		return s.until.Sub(now), false, false
	}
	budget := l.free - s.failures
	if budget < 1 {
		budget = 1 // past a lockout: one try at a time
	}
	if s.inFlight >= budget {
		return time.Second, true, false
	}
	s.inFlight++
	return 0, false, true
}

// done ends an attempt admit reserved for key. A failure counts; when it locks key out,
// done returns the lockout and the failures so far. A success forgets key's failures.
func (l *failureLimiter) done(key string, o outcome) (lockout time.Duration, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.get(key, now) // dropped meanwhile (only when every key had an attempt in flight): afresh
	if s.inFlight > 0 {
		s.inFlight--
	}
	switch o {
	case attemptSucceeded:
		s.failures, s.until = 0, time.Time{}
	case attemptFailed:
		s.failures++
		s.last = now
		if s.failures >= l.free {
			lockout = l.max
			if n := s.failures - l.free; n < 30 && l.first<<n < l.max {
				lockout = l.first << n
			}
			s.until = now.Add(lockout)
		}
	}
	if s.failures == 0 && s.inFlight == 0 {
		delete(l.keys, key) // nothing to remember
	}
	return lockout, s.failures
}

// size is how many keys l remembers.
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// get returns key's strikes, new ones if key is unknown or forgotten, making room first
// when l is full.
func (l *failureLimiter) get(key string, now time.Time) *strikes {
	if s := l.keys[key]; s != nil && !l.forgotten(s, now) {
		return s
	}
	delete(l.keys, key)
	if len(l.keys) >= l.cap {
		l.evict(now)
	}
	s := &strikes{}
	l.keys[key] = s
	return s
}

func (l *failureLimiter) forgotten(s *strikes, now time.Time) bool {
	return s.inFlight == 0 && !now.Before(s.until) && now.Sub(s.last) >= l.forget
}

// evict drops the forgotten keys among a sample of l's keys or, if there are none, the
// one of them that matters least, so that a flood of new keys cannot push out a key
// that is locked out while keys that are not remain.
func (l *failureLimiter) evict(now time.Time) {
	var least string
	var ls *strikes
	seen, dropped := 0, false
	for k, s := range l.keys { // map order is random: a random sample
		if l.forgotten(s, now) {
			delete(l.keys, k)
			dropped = true
		} else if ls == nil || mattersLess(s, ls) {
			least, ls = k, s
		}
		if seen++; seen == evictSample {
			break
		}
	}
	if !dropped && ls != nil {
		delete(l.keys, least)
	}
}

// mattersLess orders keys for eviction: one with an attempt in flight matters most, then
// the one locked out longest, the one with more failures, the one that failed last.
func mattersLess(a, b *strikes) bool {
	switch {
	case (a.inFlight > 0) != (b.inFlight > 0):
		return b.inFlight > 0
	case !a.until.Equal(b.until):
		return a.until.Before(b.until)
	case a.failures != b.failures:
		return a.failures < b.failures
	}
	return a.last.Before(b.last)
}

// logGate lets one log line per key through each interval and counts the ones it held
// back, so that a caller repeating a refused request cannot fill the log. It remembers
// at most cap keys; beyond that, new keys share one, so the lines it lets through stay
// within cap+1 an interval.
type logGate struct {
	every time.Duration
	cap   int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*gated
}

type gated struct {
	next time.Time // no line before
	held int       // lines held back since the last one let through
}

// overflowKey is the key new keys share when a logGate is full.
const overflowKey = "\x00overflow"

func newLogGate(every time.Duration, cap int, now func() time.Time) *logGate {
	return &logGate{every: every, cap: cap, now: now, keys: map[string]*gated{}}
}

// allow reports whether a line for key may be logged now and how many were held back
// since the last one.
func (g *logGate) allow(key string) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	e := g.keys[key]
	if e == nil && len(g.keys) >= g.cap {
		g.sweep(now)
		if len(g.keys) >= g.cap {
			key = overflowKey
			e = g.keys[key]
		}
	}
	if e == nil {
		e = &gated{}
		g.keys[key] = e
	}
	if now.Before(e.next) {
		e.held++
		return false, 0
	}
	held := e.held
	e.next, e.held = now.Add(g.every), 0
	return true, held
}

// sweep drops the keys whose interval has passed; the lines they held back are counted
// on the shared key.
func (g *logGate) sweep(now time.Time) {
	moved := 0
	for k, e := range g.keys {
		if k != overflowKey && !now.Before(e.next) {
			moved += e.held
			delete(g.keys, k)
		}
	}
	if moved > 0 {
		o := g.keys[overflowKey]
		if o == nil {
			o = &gated{}
			g.keys[overflowKey] = o
		}
		o.held += moved
	}
}

// untrustedPrefix is how many bytes of a value an unauthenticated caller chose the log
// shows.
const untrustedPrefix = 64

// untrusted is how the log shows a value an unauthenticated caller chose: its first
// bytes, quoted so that nothing in it can pass for log syntax, with its length when cut.
func untrusted(s string) string { return clip(s, untrustedPrefix) }

// clip quotes at most the first n bytes of s (whole runes), followed by s's length when
// that is not all of s.
func clip(s string, n int) string {
	if len(s) <= n {
		return strconv.QuoteToASCII(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.QuoteToASCII(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// sourceOf is the key a request's failures count under: the TCP peer's address (a
// forwarding header is anyone's to write), and for IPv6 its /64, which one host
// commonly holds whole.
func sourceOf(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	a := ap.Addr().Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64) // a valid IPv6 address and bit count: cannot fail
		return p.String()
	}
	return a.String()
}
