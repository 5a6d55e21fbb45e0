package libris

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// TestLimitsEndACallWithoutRetry: an answer that reaches a bound of Config.Limits ends
// Fetch or Get with a *connector.LimitError naming the call, and is not tried again.
func TestLimitsEndACallWithoutRetry(t *testing.T) {
	body := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
	dripBody := func(w http.ResponseWriter, r *http.Request, _ int) {
		// Never silent for the idle timeout, but far too slow.
		w.Header().Set("Content-Type", "application/json")
		rc := http.NewResponseController(w)
		for _, b := range body {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			_ = rc.Flush()
			select {
			case <-time.After(ms(20)):
			case <-r.Context().Done():
				return
			}
		}
	}
	giant := func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"count":1,"padding":"` + strings.Repeat("x", 2<<20) + `","ill_requests":[]}`))
	}
	for _, tc := range []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, int)
		limits  connector.Limits
		get     bool
		want    connector.Bound
		what    string
	}{
		{"drip meets the call deadline", dripBody, connector.Limits{CallTimeout: ms(300), MinRate: 1, SlowGrace: time.Hour},
			false, connector.BoundCallTimeout, "for outgoing 2025-03-01..2025-03-01"},
		{"drip meets the rate", dripBody, connector.Limits{MinRate: 1000, SlowGrace: ms(200)},
			false, connector.BoundMinRate, "Libris sent the answer for outgoing 2025-03-01..2025-03-01 slower"},
		{"giant body meets the byte bound", giant, connector.Limits{MaxBytes: 1 << 20},
			false, connector.BoundMaxBytes, "more than 1 MiB"},
		{"a giant single answer too", giant, connector.Limits{MaxBytes: 1 << 20},
			true, connector.BoundMaxBytes, "at the answer for request Abc-250301-0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.handler, func(c *Config) { c.Limits = tc.limits; c.ReadIdleTimeout = time.Minute })
			var err error
			if tc.get {
				_, _, err = hs.c.Get(context.Background(), "Abc-250301-0001")
			} else {
				_, err = hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
			}
			var le *connector.LimitError
			if !errors.As(err, &le) || le.Bound != tc.want || connector.KindOf(err) != 0 {
				t.Fatalf("got %v, want bound %d", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.what) || !strings.HasPrefix(err.Error(), "Libris") {
				t.Errorf("message %q lacks %q", err, tc.what)
			}
			if hs.rec.n() != 1 || len(hs.sleeps.All()) != 0 {
				t.Errorf("%d calls, %d sleeps: a bound must not be retried", hs.rec.n(), len(hs.sleeps.All()))
			}
			noKey(t, err)
		})
	}
}
