package run

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// FlagBorrowingRequest flags like the ledger: needs attention with the reason, idempotent.
func (f *fakeLedger) FlagBorrowingRequest(_ context.Context, r *requestsv1.FlagBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flagErr != nil {
		return nil, f.flagErr
	}
	if f.flags == nil {
		f.flags = map[string]string{}
	}
	f.flags[r.GetName()] = r.GetReasonCode()
	return &requestsv1.BorrowingRequest{Name: r.GetName(), NeedsAttention: true, AttentionReason: r.GetReason()}, nil
}

func (f *fakeLedger) flagged() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.flags)
}

// systemsUnderTest runs f with the harness's profile as a Libris and as a Netpunkt
// profile: the rules of the run are the same for both.
func systemsUnderTest(t *testing.T, f func(t *testing.T, h *harness)) {
	for _, sys := range []string{"libris", "netpunkt"} {
		t.Run(sys, func(t *testing.T) {
			h := newHarness(t)
			if sys == "netpunkt" {
				p := h.profiles.profile
				p.System = typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT
				p.SystemConfig = &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "http://x", AgencyId: "DK-775100", User: "u"}}
				h.mapping.libraries["DK-775100"] = "MAIN"
			}
			f(t, h)
		})
	}
}

func (h *harness) gets(id string) int {
	h.conn.mu.Lock()
	defer h.conn.mu.Unlock()
	n := 0
	for _, g := range h.conn.gets {
		if g == id {
			n++
		}
	}
	return n
}

func TestAwaitsAuthentication(t *testing.T) {
	open, shipped := requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_SHIPPED_PHYSICALLY
	for _, tc := range []struct {
		name                string
		required            bool
		initiated, approved bool
		status              requestsv1.Status
		awaits              bool
	}{
		{"patron's request, not approved", true, true, false, open, true},
		{"patron's request, not approved, just created", true, true, false, requestsv1.Status_STATUS_CREATED, true},
		{"patron's request, not approved, lender will supply", true, true, false, requestsv1.Status_STATUS_WILL_SUPPLY, true},
		{"patron's request, approved", true, true, true, open, false},
		{"staff-entered, no approval", true, false, false, open, false},
		{"staff-entered, approved", true, false, true, open, false},
		{"patron's request, not approved, shipped", true, true, false, shipped, false},
		{"patron's request, not approved, received", true, true, false, requestsv1.Status_STATUS_RECEIVED_DIGITALLY, false},
		{"patron's request, not approved, returned", true, true, false, requestsv1.Status_STATUS_RETURNED_TO_PARTNER, false},
		{"patron's request, not approved, completed", true, true, false, requestsv1.Status_STATUS_COMPLETED, false},
		{"patron's request, not approved, cancelled", true, true, false, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, false},
		{"patron's request, not approved, rejected", true, true, false, requestsv1.Status_STATUS_REJECTED_BY_PARTNER, false},
		{"patron's request, not approved, expired", true, true, false, requestsv1.Status_STATUS_EXPIRED, false},
		{"profile does not require it", false, true, false, open, false},
	} {
		r := &connector.Request{PatronInitiated: tc.initiated, PatronApproved: tc.approved, Status: tc.status}
		if got := awaitsAuthentication(tc.required, r); got != tc.awaits {
			t.Errorf("%s: awaits = %v, want %v", tc.name, got, tc.awaits)
		}
	}
}

// Under require_authentication, only a patron's own request whose patron is not
// approved waits; staff-entered and finished requests are imported.
func TestRunAuthenticationAppliesToPatronRequestsOnly(t *testing.T) {
	systemsUnderTest(t, func(t *testing.T, h *harness) {
		h.profiles.profile.RequireAuthentication = true
		staff := req("Abc-261126-0001", 26, "Xyz", 100)
		staff.PatronApproved = false
		waiting := req("Abc-261126-0002", 26, "Xyz", 100)
		waiting.PatronInitiated, waiting.PatronApproved = true, false
		cancelled := req("Abc-261126-0003", 26, "Xyz", 100)
		cancelled.PatronInitiated, cancelled.PatronApproved, cancelled.Status = true, false, requestsv1.Status_STATUS_CANCELLED_BY_STAFF
		approved := req("Abc-261126-0004", 26, "Xyz", 100)
		approved.PatronInitiated = true
		h.conn.reqs = []*connector.Request{staff, waiting, cancelled, approved}
		run := h.runOnce(t)
		if c := run.GetCounters(); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || c.GetCreated() != 3 || c.GetSkipped() != 1 {
			t.Fatalf("run %v %v", run.GetState(), c)
		}
		ev := h.events(t, run)
		for id, want := range map[string]string{"Abc-261126-0001": "", "Abc-261126-0002": reasonNotApproved, "Abc-261126-0003": "", "Abc-261126-0004": ""} {
			if ev[id].GetReasonCode() != want {
				t.Errorf("%s: %v, want reason %q", id, ev[id], want)
			}
		}
	})
}

// Connector warnings go to the ledger with the item; the ledger's answer, with its own
// warnings, is what the event shows, and the run ends with warnings.
func TestWarningsReachTheLedgerAndTheEvent(t *testing.T) {
	h := newHarness(t)
	odd := req("Abc-261126-0001", 26, "Xyz", 100)
	odd.Warn("status", connector.WarnUnknownStatus, "unknown Libris status %q", "Ankommen")
	long := req("Abc-261126-0002", 26, "Xyz", 100)
	long.Note = strings.Repeat("x", 5000)
	h.ledger.warn = map[string]*typev1.DataWarning{"Abc-261126-0002": {Field: "note", Code: "TEXT_TRUNCATED", Message: "note cut"}}
	h.conn.reqs = []*connector.Request{odd, long, req("Abc-261126-0003", 26, "Xyz", 100)}
	run := h.runOnce(t)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || run.GetCounters().GetCreated() != 3 {
		t.Fatalf("run %v %v", run.GetState(), run.GetCounters())
	}
	ev := h.events(t, run)
	if e := ev["Abc-261126-0001"]; len(e.GetWarnings()) != 1 || e.GetWarnings()[0].GetCode() != connector.WarnUnknownStatus ||
		e.GetReasonCode() != reasonExternalWarning || !strings.Contains(e.GetReason(), "Ankommen") || e.GetBorrowingRequest() == "" {
		t.Errorf("event of the odd request: %v", e)
	}
	if e := ev["Abc-261126-0002"]; len(e.GetWarnings()) != 1 || e.GetWarnings()[0].GetCode() != "TEXT_TRUNCATED" || e.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
		t.Errorf("event of the long request: %v", e)
	}
	if e := ev["Abc-261126-0003"]; len(e.GetWarnings()) != 0 || e.GetReasonCode() != "" {
		t.Errorf("event of the clean request: %v", e)
	}
	// A second pass changes nothing and says the same.
	run = h.runOnce(t)
	if c := run.GetCounters(); c.GetUnchanged() != 3 || run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS {
		t.Fatalf("second run %v %v", run.GetState(), c)
	}
	if e := h.events(t, run)["Abc-261126-0002"]; len(e.GetWarnings()) != 1 {
		t.Errorf("second event of the long request: %v", e)
	}
}

// A request the external system no longer knows is flagged in the ledger once, linked
// from its event, and not read again; one the ledger never held just leaves the retry set.
func TestGoneRequests(t *testing.T) {
	systemsUnderTest(t, func(t *testing.T, h *harness) {
		h.conn.reqs = []*connector.Request{req("Abc-261120-0001", 20, "Xyz", 100), req("Abc-261120-0002", 20, "Nope", 100)}
		h.runOnce(t)
		// Both vanish from the external system, long after their window.
		h.conn.reqs = nil
		h.now = h.now.AddDate(0, 0, 20)
		run := h.runOnce(t)
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || run.GetCounters().GetSkipped() != 2 {
			t.Fatalf("run %v %v %v", run.GetState(), run.GetCounters(), run.GetAlerts())
		}
		ev := h.events(t, run)
		imported, never := ev["Abc-261120-0001"], ev["Abc-261120-0002"]
		if imported.GetReasonCode() != reasonExternalGone || imported.GetBorrowingRequest() != "borrowingRequests/Abc-261120-0001" {
			t.Errorf("gone imported request: %v", imported)
		}
		if never.GetReasonCode() != reasonExternalGone || never.GetBorrowingRequest() != "" {
			t.Errorf("gone request never imported: %v", never)
		}
		if got := h.ledger.flagged(); len(got) != 1 || got["borrowingRequests/Abc-261120-0001"] != reasonExternalGone {
			t.Errorf("flags = %v", got)
		}
		if retry, _ := h.store.Retry("lib"); len(retry) != 0 {
			t.Errorf("retry set keeps gone requests: %v", retry)
		}
		// Later runs read neither again.
		for range 2 {
			h.now = h.now.Add(time.Hour)
			run = h.runOnce(t)
			if run.GetCounters().GetFetched() != 0 || run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS {
				t.Fatalf("later run: %v %v", run.GetState(), run.GetCounters())
			}
		}
		if a, b := h.gets("Abc-261120-0001"), h.gets("Abc-261120-0002"); a != 1 || b != 1 {
			t.Errorf("gone requests fetched %d and %d times, want once each", a, b)
		}
		// Should it come back and be imported, it is no longer gone.
		back := req("Abc-261120-0001", 20, "Xyz", 200)
		back.OrderDay = connector.DayOf(h.now)
		h.conn.reqs = []*connector.Request{back}
		run = h.runOnce(t)
		if e := h.events(t, run)["Abc-261120-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_UPDATED {
			t.Fatalf("back: %v", e)
		}
		if gone, _ := h.store.GoneIDs("lib"); gone["Abc-261120-0001"] || !gone["Abc-261120-0002"] {
			t.Fatalf("gone set = %v", gone)
		}
	})
}

// When the ledger cannot flag a gone request, the phase stops with an alert and the next
// run tries again.
func TestGoneRequestFlagFailureRetries(t *testing.T) {
	h := newHarness(t)
	h.conn.reqs = []*connector.Request{req("Abc-261120-0001", 20, "Xyz", 100)}
	h.runOnce(t)
	h.conn.reqs = nil
	h.now = h.now.AddDate(0, 0, 20)
	h.ledger.flagErr = status.Error(codes.Unavailable, "ledger busy")
	run := h.runOnce(t)
	if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS || len(a) == 0 ||
		a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE || !strings.Contains(a[0].GetMessage(), "Abc-261120-0001") {
		t.Fatalf("run %v %v", run.GetState(), a)
	}
	h.ledger.mu.Lock()
	h.ledger.flagErr = nil
	h.ledger.mu.Unlock()
	h.now = h.now.Add(time.Hour)
	run = h.runOnce(t)
	if e := h.events(t, run)["Abc-261120-0001"]; e.GetReasonCode() != reasonExternalGone || e.GetBorrowingRequest() == "" {
		t.Fatalf("second run: %v %v", run.GetState(), e)
	}
	if got := h.ledger.flagged(); len(got) != 1 {
		t.Fatalf("flags = %v", got)
	}
}

// A request that fails ParkAfter runs in a row is parked: it leaves the retry set, later
// runs carry a standing warning instead of an error, and staff can retry it.
func TestParking(t *testing.T) {
	h := newHarness(t)
	h.runner.d.ParkAfter = 3
	bad := req("Abc-261126-0001", 26, "Nope", 100)
	bad.Status = requestsv1.Status_STATUS_REQUEST_SENT
	h.conn.reqs = []*connector.Request{bad, req("Abc-261126-0002", 26, "Xyz", 100)}
	var run *harvesterv1.Run
	for i := 1; i <= 3; i++ {
		run = h.runOnce(t)
		e := h.events(t, run)["Abc-261126-0001"]
		if e.GetAttempt() != int32(i) || e.GetReasonCode() != reasonPartnerUnknown || e.GetParked() != (i == 3) {
			t.Fatalf("run %d: event %v", i, e)
		}
		h.now = h.now.AddDate(0, 0, 10) // out of the window: the retry set fetches it
	}
	if c := run.GetCounters(); c.GetParked() != 1 || c.GetSkipped() != 1 {
		t.Fatalf("parking run counters %v", c)
	}
	if !hasAlert(run, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED) {
		t.Fatalf("parking run alerts %v", run.GetAlerts())
	}
	if retry, _ := h.store.Retry("lib"); len(retry) != 0 {
		t.Fatalf("retry set = %v", retry)
	}
	items, _, err := h.store.ListParked("lib", nil, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("parked = %v, %v", items, err)
	}
	p := items[0]
	if p.GetName() != "integrationProfiles/lib/parkedItems/Abc-261126-0001" || p.GetReasonCode() != reasonPartnerUnknown || p.GetAttempts() != 3 ||
		!strings.Contains(p.GetReason(), "Nope") || p.GetRun() != run.GetName() || p.GetFirstFailureTime() == nil || !p.GetParkTime().AsTime().Equal(h.now.AddDate(0, 0, -10)) {
		t.Fatalf("parked item %v", p)
	}

	// The next runs no longer fetch it and end with a warning, not an error.
	before := h.gets("Abc-261126-0001")
	run = h.runOnce(t)
	if c := run.GetCounters(); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || c.GetSkipped()+c.GetFailed() != 0 ||
		!hasAlert(run, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED) || h.gets("Abc-261126-0001") != before {
		t.Fatalf("run after parking: %v %v %v", run.GetState(), run.GetCounters(), run.GetAlerts())
	}

	// Staff create the partner and retry it: the next run imports it and the list empties.
	h.mapping.mu.Lock()
	h.mapping.partners["NOPE"] = true
	h.mapping.mu.Unlock()
	if _, err := h.store.RetryParked("lib", "Abc-261126-0001"); err != nil {
		t.Fatal(err)
	}
	run = h.runOnce(t)
	if e := h.events(t, run)["Abc-261126-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || e.GetAttempt() != 1 {
		t.Fatalf("retried: %v", e)
	}
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || hasAlert(run, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED) {
		t.Fatalf("run after the retry: %v %v", run.GetState(), run.GetAlerts())
	}
	if n, _ := h.store.ParkedCount("lib"); n != 0 {
		t.Fatalf("%d parked after the import", n)
	}
}

// A parked request the window brings again stays parked while it fails, reported as
// skipped rather than failed, and leaves the parked list once it imports.
func TestParkedRequestSeenAgain(t *testing.T) {
	h := newHarness(t)
	h.runner.d.ParkAfter = 2
	bad := req("Abc-261126-0001", 26, "Xyz", 100)
	bad.Problem = "last_modified is missing"
	h.conn.reqs = []*connector.Request{bad}
	first := h.runOnce(t)
	second := h.runOnce(t) // the window still holds it
	if first.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS || second.GetCounters().GetParked() != 1 {
		t.Fatalf("runs: %v %v; %v %v", first.GetState(), first.GetCounters(), second.GetState(), second.GetCounters())
	}
	third := h.runOnce(t)
	e := h.events(t, third)["Abc-261126-0001"]
	if third.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || third.GetCounters().GetFailed() != 0 ||
		e.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || e.GetParked() || e.GetAttempt() != 3 || !strings.Contains(e.GetReason(), "parked") {
		t.Fatalf("third run %v %v, event %v", third.GetState(), third.GetCounters(), e)
	}
	items, _, _ := h.store.ListParked("lib", nil, 10)
	if len(items) != 1 || items[0].GetAttempts() != 3 || items[0].GetRun() != second.GetName() {
		t.Fatalf("parked %v", items)
	}
	if retry, _ := h.store.Retry("lib"); len(retry) != 0 {
		t.Fatalf("a parked request is in the retry set: %v", retry)
	}
	h.conn.mu.Lock()
	h.conn.reqs[0].Problem = ""
	h.conn.mu.Unlock()
	fourth := h.runOnce(t)
	if e := h.events(t, fourth)["Abc-261126-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || fourth.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("fourth run %v, event %v", fourth.GetState(), e)
	}
	if n, _ := h.store.ParkedCount("lib"); n != 0 {
		t.Fatalf("%d parked after the import", n)
	}
}

// Waiting for a patron's approval is not a failure: it is never parked.
func TestAwaitingAuthenticationIsNeverParked(t *testing.T) {
	h := newHarness(t)
	h.runner.d.ParkAfter = 2
	h.profiles.profile.RequireAuthentication = true
	waiting := req("Abc-261126-0001", 26, "Xyz", 100)
	waiting.PatronInitiated, waiting.PatronApproved = true, false
	h.conn.reqs = []*connector.Request{waiting}
	for i := range 4 {
		run := h.runOnce(t)
		if run.GetCounters().GetParked() != 0 || run.GetCounters().GetSkipped() != 1 {
			t.Fatalf("run %d: %v", i+1, run.GetCounters())
		}
		h.now = h.now.AddDate(0, 0, 10)
	}
	if n, _ := h.store.ParkedCount("lib"); n != 0 {
		t.Fatalf("%d parked", n)
	}
	if retry, _ := h.store.Retry("lib"); len(retry) != 1 || retry[0].Attempts != 4 {
		t.Fatalf("retry set %v", retry)
	}
}

func hasAlert(run *harvesterv1.Run, code harvesterv1.AlertCode) bool {
	return slices.ContainsFunc(run.GetAlerts(), func(a *harvesterv1.Alert) bool { return a.GetCode() == code })
}
