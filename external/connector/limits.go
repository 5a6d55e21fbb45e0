package connector

import (
	"fmt"
	"time"
)

// Defaults of Limits, for its zero (or negative) fields. Each is far above what a real
// library's run needs and far below what a broken or hostile server can make a run do;
// docs/robustness.md#bounds-of-a-run gives the reasoning.
const (
	// DefaultCallTimeout bounds one call, headers and whole body: the busiest library's
	// week is a few MiB, read in seconds.
	DefaultCallTimeout = 10 * time.Minute
	// DefaultMinRate and DefaultSlowGrace: an answer may keep the harvester waiting for
	// its body DefaultSlowGrace plus one second per DefaultMinRate bytes it delivers.
	DefaultMinRate   = 1024 // bytes per second
	DefaultSlowGrace = time.Minute
	// DefaultMaxBytes bounds what one run reads from the system: 200 000 requests (the
	// run's item bound) at up to 10 KiB each (real ones are 1–3 KiB).
	DefaultMaxBytes = 2 << 30
)

// Limits bound what a connector may take from its external system. The harvester builds
// a connector for each run, so MaxBytes is per run. Zero or negative fields take the
// defaults: there is no unbounded setting.
type Limits struct {
	// CallTimeout bounds one call: from sending it to the last byte of its answer,
	// however slowly or steadily that answer flows, and whatever the caller does with
	// what it read meanwhile.
	CallTimeout time.Duration
	// MinRate and SlowGrace end an answer that trickles in: waiting on the network for
	// its body may take at most SlowGrace plus one second per MinRate bytes received.
	// Only time spent waiting on the system counts, not time spent handling what came.
	MinRate   int64
	SlowGrace time.Duration
	// MaxBytes bounds the bytes of answers read over the connector's life, error
	// answers included.
	MaxBytes int64
}

// WithDefaults returns l with every zero or negative field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.CallTimeout <= 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.MinRate <= 0 {
		l.MinRate = DefaultMinRate
	}
	if l.SlowGrace <= 0 {
		l.SlowGrace = DefaultSlowGrace
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Bound names one of Limits' bounds.
type Bound int

const (
	// BoundCallTimeout: a call took longer than Limits.CallTimeout.
	BoundCallTimeout Bound = iota + 1
	// BoundMinRate: an answer arrived slower than Limits.MinRate allows.
	BoundMinRate
	// BoundMaxBytes: the answers read reached more than Limits.MaxBytes.
	BoundMaxBytes
)

// LimitError is a connector stopping because one of its Limits was reached. It is not a
// connector *Error: the system may be working, but retrying cannot bring the run within
// the bound, so the run ends on it. It carries no secret.
type LimitError struct {
	Bound Bound
	// Limits are the bounds in force, for the message.
	Limits Limits
	// Peer and What say which call reached it ("Libris", "outgoing 2026-11-20..2026-11-26");
	// the connector fills them in.
	Peer, What string
}

func (e *LimitError) Error() string {
	peer, what := e.Peer, e.What
	if peer == "" {
		peer = "the external system"
	}
	if what != "" {
		what = " for " + what
	}
	switch e.Bound {
	case BoundCallTimeout:
		return fmt.Sprintf("%s took longer than %s (the bound on one call) to answer%s", peer, e.Limits.CallTimeout, what)
	case BoundMinRate:
		return fmt.Sprintf("%s sent the answer%s slower than %d bytes a second after %s (the bound on a trickling answer)", peer, what, e.Limits.MinRate, e.Limits.SlowGrace)
	case BoundMaxBytes:
		if what != "" {
			what = ", at the answer" + what
		}
		return fmt.Sprintf("%s's answers in this run came to more than %s (the bound on bytes read per run)%s", peer, Bytes(e.Limits.MaxBytes), what)
	}
	return fmt.Sprintf("%s reached a bound%s", peer, what)
}

// Bytes writes a byte count for people: "2 GiB", "512 KiB", "100 bytes".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
