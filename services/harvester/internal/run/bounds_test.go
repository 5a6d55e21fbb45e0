package run

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

// endlessConnector hands over requests without end for every chunk, the same ones or,
// with distinct, new ones; with stall it sends nothing and waits for its context.
type endlessConnector struct {
	*fakeConnector
	distinct, stall bool
}

func (e endlessConnector) Fetch(ctx context.Context, w connector.Window, visit func(*connector.Request) error) error {
	if e.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	for i := 0; ; i++ {
		id := "Abc-261125-0001"
		if e.distinct {
			id = fmt.Sprintf("Abc-261125-%07d", i)
		}
		if err := visit(req(id, 25, "Xyz", 100)); err != nil {
			return err
		}
	}
}

// boundAlert returns the run's RUN_LIMIT_EXCEEDED message, failing the test unless the
// run FAILED with it and left the cursor.
func (h *harness) boundAlert(t *testing.T, run *harvesterv1.Run) string {
	t.Helper()
	if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
		t.Fatalf("state %s, alerts %v", run.GetState(), run.GetAlerts())
	}
	for _, a := range run.GetAlerts() {
		if a.GetCode() == harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED {
			if _, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); ok {
				t.Fatal("a run stopped at a bound moved the cursor")
			}
			return a.GetMessage()
		}
	}
	t.Fatalf("no RUN_LIMIT_EXCEEDED among %v", run.GetAlerts())
	return ""
}

func TestRunBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(h *harness)
		// the alert names these; events and requests in the ledger stay within most
		want []string
		most int
	}{
		{"the same requests without end meet the chunk bound", func(h *harness) {
			h.runner.d.MaxChunkItems = 50
			h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
				return endlessConnector{fakeConnector: h.conn}, nil
			}
		}, []string{"Libris sent more than 50 requests for 2026-11-20..2026-11-26", "--run-max-chunk-items"}, 1},
		{"distinct requests without end meet the chunk bound", func(h *harness) {
			h.runner.d.MaxChunkItems = 50
			h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
				return endlessConnector{fakeConnector: h.conn, distinct: true}, nil
			}
		}, []string{"more than 50 requests for 2026-11-20..2026-11-26", "--run-max-chunk-items"}, 50},
		{"distinct requests over the chunks meet the run bound", func(h *harness) {
			h.runner.d.MaxRunItems = 7
			for i := range 12 { // 6 a day over the window's two chunks, none past the chunk bound
				h.conn.reqs = append(h.conn.reqs, req(fmt.Sprintf("Abc-2611%02d-%04d", 25+i%3, i), 25+i%3, "Xyz", 100))
			}
		}, []string{"Libris sent more than 7 requests in this run", "--run-max-items"}, 7},
		{"a silent connector meets the run's deadline", func(h *harness) {
			h.runner.d.RunTimeout = 300 * time.Millisecond
			h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
				return endlessConnector{fakeConnector: h.conn, stall: true}, nil
			}
		}, []string{"the run took longer than 300ms", "--run-timeout", "while fetching 2026-11-20..2026-11-26"}, 0},
		{"a connector's bound on bytes ends the window", func(h *harness) {
			h.conn.fetchErr = &connector.LimitError{Bound: connector.BoundMaxBytes, Limits: connector.Limits{MaxBytes: 1 << 20}, Peer: "Libris", What: "outgoing 2026-11-20..2026-11-26"}
		}, []string{"Libris's answers in this run came to more than 1 MiB", "--run-max-read-mib", "while fetching 2026-11-20..2026-11-26",
			"the cursor is unchanged"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.set(h)
			began := time.Now()
			run := h.runOnce(t)
			msg := h.boundAlert(t, run)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("alert %q lacks %q", msg, w)
				}
			}
			events := h.events(t, run)
			h.ledger.mu.Lock()
			inLedger := len(h.ledger.seen)
			h.ledger.mu.Unlock()
			t.Logf("ended in %s: %d events, %d in the ledger; %s", time.Since(began).Round(time.Millisecond), len(events), inLedger, msg)
			if len(events) > tc.most || inLedger > tc.most || int(run.GetCounters().GetFetched()) != len(events) {
				t.Errorf("%d events, %d in the ledger, counters %v; at most %d", len(events), inLedger, run.GetCounters(), tc.most)
			}
		})
	}
}

// TestRunBoundInTheRetryPhase: a bound reached after the window was acknowledged still
// ends the run FAILED and leaves the cursor.
func TestRunBoundInTheRetryPhase(t *testing.T) {
	h := newHarness(t)
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Nope", 100)} // skipped: into the retry set
	h.runOnce(t)
	h.now = h.now.AddDate(0, 0, 10)
	h.runOnce(t)                    // still read again through the overlap
	h.now = h.now.AddDate(0, 0, 10) // out of the window now: fetched by id
	h.conn.getErr = map[string]error{"Abc-261126-0001": &connector.LimitError{Bound: connector.BoundCallTimeout, Limits: connector.Limits{CallTimeout: time.Minute}, Peer: "Libris", What: "request Abc-261126-0001"}}
	cur, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile))
	if !ok {
		t.Fatal("no cursor after two runs")
	}
	run := h.runOnce(t)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(run.GetAlerts()) == 0 {
		t.Fatalf("state %s, alerts %v", run.GetState(), run.GetAlerts())
	}
	msg := run.GetAlerts()[len(run.GetAlerts())-1].GetMessage()
	if code := run.GetAlerts()[len(run.GetAlerts())-1].GetCode(); code != harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED ||
		!strings.Contains(msg, "Libris took longer than 1m0s") || !strings.Contains(msg, "--external-call-timeout") {
		t.Fatalf("%s: %q", code, msg)
	}
	if after, _, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); !after.Equal(cur) {
		t.Fatalf("cursor moved from %v to %v", cur, after)
	}
}
