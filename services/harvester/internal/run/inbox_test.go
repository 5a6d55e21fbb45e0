package run

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// inboxConnector is fakeConnector for a system that pushes: its inbox messages are
// requests as JSON, and a message that is not JSON decodes to a request with a Problem.
type inboxConnector struct{ *fakeConnector }

func (inboxConnector) DecodeInbox(message []byte) *connector.Request {
	var r connector.Request
	if err := json.Unmarshal(message, &r); err != nil {
		return &connector.Request{Problem: "undecodable message"}
	}
	return &r
}

func push(t *testing.T, st *store.Store, r *connector.Request) {
	t.Helper()
	msg, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutInbox("lib", store.InboxItem{ExternalID: r.ExternalID, Received: time.Now(), Message: msg}); err != nil {
		t.Fatal(err)
	}
}

// TestRunDrainsTheInbox: every pushed message reaches the ledger or a run event, the
// newest message of an order wins, an order also fetched is handled once, and the
// drained inbox is empty.
func TestRunDrainsTheInbox(t *testing.T) {
	h := newHarness(t)
	conn := inboxConnector{h.conn}
	h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) { return conn, nil }
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Xyz", 100)}

	push(t, h.store, req("P1", 20, "Xyz", 100))
	push(t, h.store, req("Abc-261126-0001", 26, "Xyz", 50)) // also fetched: handled once
	push(t, h.store, req("P2", 20, "Nope", 100))            // unknown lender: a SKIPPED event
	push(t, h.store, req("P1", 20, "Xyz", 200))             // newer state of P1
	if _, err := h.store.PutInbox("lib", store.InboxItem{ExternalID: "P3", Message: []byte("garbage")}); err != nil {
		t.Fatal(err)
	}

	run := h.runOnce(t)
	ev := h.events(t, run)
	if c := run.GetCounters(); c.GetFetched() != 4 || c.GetCreated() != 2 || c.GetSkipped() != 1 || c.GetFailed() != 1 {
		t.Fatalf("counters = %v, events %v", c, ev)
	}
	if ev["P2"].GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || ev["P3"].GetOutcome() != harvesterv1.Outcome_OUTCOME_FAILED {
		t.Fatalf("events = %v", ev)
	}
	if got := h.ledger.seen["P1"]; !got.Equal(time.Unix(200, 0)) {
		t.Fatalf("P1 ingested with last_modified %v, want the newer message's", got)
	}
	if left, _ := h.store.Inbox("lib", 0, 10); len(left) != 0 {
		t.Fatalf("inbox after the run: %+v", left)
	}
}

// TestFailedRunKeepsTheInbox: a run that fails before the inbox was ingested leaves it
// for the next run.
func TestFailedRunKeepsTheInbox(t *testing.T) {
	h := newHarness(t)
	conn := inboxConnector{h.conn}
	h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) { return conn, nil }
	h.ledger.failAt = 1
	push(t, h.store, req("P1", 20, "Xyz", 100))
	if run := h.runOnce(t); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
		t.Fatalf("state = %v", run.GetState())
	}
	if left, _ := h.store.Inbox("lib", 0, 10); len(left) != 1 {
		t.Fatalf("inbox after a failed run: %+v", left)
	}
}

// TestEachInboxPages: the drain's reader goes past one page and stops at upTo.
func TestEachInboxPages(t *testing.T) {
	h := newHarness(t)
	var seqs []uint64
	for i := 0; i < inboxPage+2; i++ {
		seq, err := h.store.PutInbox("lib", store.InboxItem{ExternalID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	x := &execution{r: h.runner, code: "lib"}
	for _, upTo := range []uint64{0, seqs[inboxPage], seqs[1]} {
		var got []uint64
		if err := x.eachInbox(upTo, func(it store.InboxItem) error {
			got = append(got, it.Seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := seqs
		if upTo != 0 {
			want = seqs[:slices.Index(seqs, upTo)+1]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("upTo %d: read %d messages (%v..), want %d", upTo, len(got), got[:min(3, len(got))], len(want))
		}
	}
}
