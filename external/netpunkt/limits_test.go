package netpunkt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

// TestLimitsEndACallWithoutRetry: an answer that reaches a bound of Config.Limits ends
// Fetch or Get with a *connector.LimitError naming the call, and is not tried again.
func TestLimitsEndACallWithoutRetry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  fakenetpunkt.Fault
		limits connector.Limits
		get    bool
		want   connector.Bound
		what   string
	}{
		{"drip meets the call deadline", fakenetpunkt.Fault{Drip: 20 * time.Millisecond, DripSize: 1},
			connector.Limits{CallTimeout: 300 * time.Millisecond, MinRate: 1, SlowGrace: time.Hour}, false, connector.BoundCallTimeout,
			"Netpunkt took longer than 300ms (the bound on one call) to answer for orders 2026-03-01..2026-03-10 from 1"},
		{"drip meets the rate", fakenetpunkt.Fault{Drip: 20 * time.Millisecond, DripSize: 1},
			connector.Limits{MinRate: 1000, SlowGrace: 200 * time.Millisecond}, true, connector.BoundMinRate,
			"Netpunkt sent the answer for order NP000000001 slower than 1000 bytes a second"},
		{"an endless answer meets the byte bound", fakenetpunkt.Fault{Flood: &fakenetpunkt.Flood{}},
			connector.Limits{MaxBytes: 1 << 20}, false, connector.BoundMaxBytes, "more than 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Limits = tc.limits })
			h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 5, From: from, To: to})...)
			tc.fault.Times = 1
			h.fake.Inject(tc.fault)
			var err error
			if tc.get {
				_, _, err = h.c.Get(context.Background(), "NP000000001")
			} else {
				_, err = h.fetch(t)
			}
			var le *connector.LimitError
			if !errors.As(err, &le) || le.Bound != tc.want || connector.KindOf(err) != 0 {
				t.Fatalf("got %v, want bound %d", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.what) {
				t.Errorf("message %q lacks %q", err, tc.what)
			}
			if h.fake.Calls() != 1 || len(h.sleeps.All()) != 0 {
				t.Errorf("%d calls, %d sleeps: a bound must not be retried", h.fake.Calls(), len(h.sleeps.All()))
			}
			noPassword(t, err)
		})
	}
}
