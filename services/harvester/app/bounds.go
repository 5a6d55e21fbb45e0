package app

import (
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/services/harvester/internal/run"
)

// Bounds are the hard bounds of every run: what a broken or hostile external system can
// make one run do (docs/robustness.md#bounds-of-a-run). Reaching one ends the run FAILED
// with RUN_LIMIT_EXCEEDED, keeps what the ledger acknowledged and leaves the cursor. A
// field of zero or less takes its default, the flag's; no bound can be switched off.
type Bounds struct {
	MaxChunkItems int           // requests the system may send for one window chunk, repeats included
	MaxRunItems   int           // distinct requests one run may handle: one run event each
	MaxReadMiB    int           // MiB one run may read from the system
	RunTimeout    time.Duration // one run, from its start
	CallTimeout   time.Duration // one call to the system, its whole answer included
	MinRate       int           // bytes a second an answer must keep up once SlowGrace of waiting for it has passed
	SlowGrace     time.Duration
}

func (b *Bounds) bind(s *config.Set) {
	s.Int(&b.MaxChunkItems, "run-max-chunk-items", "INTERLOAN_RUN_MAX_CHUNK_ITEMS", run.DefaultMaxChunkItems,
		"requests an external system may send for one 7-day window chunk, repeats included, before the run ends FAILED (RUN_LIMIT_EXCEEDED)")
	s.Int(&b.MaxRunItems, "run-max-items", "INTERLOAN_RUN_MAX_ITEMS", run.DefaultMaxRunItems,
		"distinct requests one run may handle, each one run event in harvester.db, before it ends FAILED (RUN_LIMIT_EXCEEDED)")
	s.Int(&b.MaxReadMiB, "run-max-read-mib", "INTERLOAN_RUN_MAX_READ_MIB", connector.DefaultMaxBytes>>20,
		"MiB one run may read from the external system, before it ends FAILED (RUN_LIMIT_EXCEEDED)")
	s.Duration(&b.RunTimeout, "run-timeout", "INTERLOAN_RUN_TIMEOUT", run.DefaultRunTimeout,
		"how long one run may take before it ends FAILED (RUN_LIMIT_EXCEEDED); the profile's scheduled runs wait while one runs")
	s.Duration(&b.CallTimeout, "external-call-timeout", "INTERLOAN_EXTERNAL_CALL_TIMEOUT", connector.DefaultCallTimeout,
		"how long one call to an external system may take, its whole answer included, before the run ends FAILED (RUN_LIMIT_EXCEEDED)")
	s.Int(&b.MinRate, "external-min-rate", "INTERLOAN_EXTERNAL_MIN_RATE", connector.DefaultMinRate,
		"bytes a second an external system's answer must keep up: waiting for its body may take --external-slow-grace plus one second per this many bytes received, else the run ends FAILED (RUN_LIMIT_EXCEEDED)")
	s.Duration(&b.SlowGrace, "external-slow-grace", "INTERLOAN_EXTERNAL_SLOW_GRACE", connector.DefaultSlowGrace,
		"how long waiting for an answer's body may take before --external-min-rate applies")
}

// limits are the bounds each connector enforces (external/httpcall.Bounded). The runner
// builds a connector per run, which makes its byte bound a bound per run.
func (b Bounds) limits() connector.Limits {
	return connector.Limits{CallTimeout: b.CallTimeout, MinRate: int64(b.MinRate), SlowGrace: b.SlowGrace, MaxBytes: int64(b.MaxReadMiB) << 20}
}
