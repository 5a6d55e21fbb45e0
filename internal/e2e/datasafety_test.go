package e2e

import (
	"encoding/json"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// The data-safety promises, through the real path (fake system over HTTP → harvester →
// ledger over gRPC): every request seen ends in the ledger or in a report that says why,
// and a person can act on it.

// seed configures MAIN, its library mapping and the system's lenders as partners, and
// puts n requests of today into the fake; it returns them.
func (e *env) seed(sys *system, n int) []extRequest {
	e.t.Helper()
	sys.grant("key", sys.ours)
	today := time.Now()
	gen := sys.generate(11, sys.ours, n, today, today, sys.lenders)
	e.library("MAIN")
	e.mapOurs(sys.ours, "MAIN")
	for _, l := range sys.lenders {
		e.partner(l)
	}
	return gen
}

// createProfile creates profile "abc" over the suite's system, changed by change first.
func (e *env) createProfile(sys *system, change func(*profilesv1.IntegrationProfile)) string {
	e.t.Helper()
	p := testenv.Profile(sys.enum, "abc", e.extURL, sys.ours, "key", time.Now())
	p.ResourceSharingLibrary = "MAIN"
	if change != nil {
		change(p)
	}
	name, err := e.CreateProfile(e.ctx, p)
	e.must(err)
	return name
}

// etags is every ledger request of profile by external id, as its etag.
func (e *env) etags(profile string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for id, br := range e.ledger(profile) {
		out[id] = br.GetEtag()
	}
	return out
}

// rerunChangesNothing runs profile twice more and checks that neither run creates or
// updates anything and that the ledger stays exactly as it was.
func (e *env) rerunChangesNothing(profile string) {
	e.t.Helper()
	before := e.etags(profile)
	for i := range 2 {
		run := e.run(profile)
		if c := run.GetCounters(); c.GetCreated() != 0 || c.GetUpdated() != 0 || run.GetState() == harvesterv1.RunState_RUN_STATE_FAILED {
			e.t.Fatalf("re-import %d: %v %s %v", i+1, run.GetState(), counters(run), run.GetAlerts())
		}
	}
	if after := e.etags(profile); !maps.Equal(before, after) {
		e.t.Fatalf("re-importing changed the ledger:\nbefore %v\nafter  %v", before, after)
	}
}

func hasAlert(run *harvesterv1.Run, code harvesterv1.AlertCode) bool {
	for _, a := range run.GetAlerts() {
		if a.GetCode() == code {
			return true
		}
	}
	return false
}

// Under require_authentication, staff-entered requests and those already past the
// patron's approval are imported; a patron's own request waits until its patron is
// approved, and is imported then.
func TestAuthenticationAppliesToPatronRequests(t *testing.T) {
	t.Run("libris", func(t *testing.T) {
		sys := librisSystem()
		e := startWith(t, sys)
		fake := sys.fake.(*fakelibris.Server)
		gen := e.seed(sys, 5)
		patron := func(approved bool, status string) func(*fakelibris.Request) {
			return func(r *fakelibris.Request) {
				r.LibrisEnduserRequestID, r.EnduserID, r.EndUser.UserID = "512345", "77001", "77001"
				r.EndUser.Approved, r.Status, r.StatusCode = approved, status, fakelibris.StatusCode(status)
			}
		}
		staff, waiting, cancelled, delivered, approved := gen[0].id, gen[1].id, gen[2].id, gen[3].id, gen[4].id
		fake.Touch(staff, func(r *fakelibris.Request) {
			r.LibrisEnduserRequestID, r.EnduserID, r.EndUser.UserID, r.EndUser.Approved = "0", "0", "0", false
			r.Status, r.StatusCode = fakelibris.StatusLast, fakelibris.StatusCode(fakelibris.StatusLast)
		})
		fake.Touch(waiting, patron(false, fakelibris.StatusLast))
		fake.Touch(cancelled, patron(false, fakelibris.StatusAvbestalld))
		fake.Touch(delivered, patron(false, fakelibris.StatusLevererad))
		fake.Touch(approved, patron(true, fakelibris.StatusLast))
		profile := e.createProfile(sys, func(p *profilesv1.IntegrationProfile) { p.RequireAuthentication = true })

		e.checkAuthentication(profile, waiting, []string{staff, cancelled, delivered, approved})
		fake.Touch(waiting, func(r *fakelibris.Request) { r.EndUser.Approved = true })
		e.checkApproved(profile, waiting)
	})
	t.Run("netpunkt", func(t *testing.T) {
		sys := netpunktSystem()
		e := startWith(t, sys)
		fake := sys.fake.(*fakenetpunkt.Server)
		gen := e.seed(sys, 4)
		set := func(id, orderType, state string) {
			o, _ := fake.Get(id)
			o.OrderType, o.RequesterOrderState, o.ProviderOrderState, o.ProviderAnswer = orderType, state, "requested", ""
			o.LastModification = o.LastModification.Add(time.Second)
			fake.Put(o)
		}
		staff, waiting, finished, approved := gen[0].id, gen[1].id, gen[2].id, gen[3].id
		set(staff, "inter_library_request", "requested")
		set(waiting, "enduser_illrequest", "unknown_user")
		set(finished, "enduser_illrequest", "finished")
		set(approved, "enduser_illrequest", "requested")
		profile := e.createProfile(sys, func(p *profilesv1.IntegrationProfile) { p.RequireAuthentication = true })

		e.checkAuthentication(profile, waiting, []string{staff, finished, approved})
		set(waiting, "enduser_illrequest", "requested") // the library identified the patron
		e.checkApproved(profile, waiting)
	})
}

func (e *env) checkAuthentication(profile, waiting string, imported []string) {
	e.t.Helper()
	run := e.run(profile)
	if c := run.GetCounters(); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS ||
		c.GetCreated() != int64(len(imported)) || c.GetSkipped() != 1 {
		e.t.Fatalf("run: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
	}
	ev := e.events(run)
	if w := ev[waiting]; w.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || w.GetReasonCode() != "AWAITING_AUTHENTICATION" {
		e.t.Fatalf("waiting request: %v", w)
	}
	led := e.ledger(profile)
	for _, id := range imported {
		if ev[id].GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || led[id] == nil {
			e.t.Fatalf("%s not imported: %v", id, ev[id])
		}
	}
	if led[waiting] != nil {
		e.t.Fatalf("the waiting request is in the ledger")
	}
}

func (e *env) checkApproved(profile, waiting string) {
	e.t.Helper()
	run := e.run(profile)
	if got := e.events(run)[waiting]; got.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || got.GetAttempt() != 2 {
		e.t.Fatalf("approved request: %v (run %v %s)", got, run.GetState(), counters(run))
	}
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		e.t.Fatalf("run after approval: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
	}
	e.rerunChangesNothing(profile)
}

// A request the external system no longer knows is flagged in the ledger, linked from
// its event, and read once: later runs neither fetch it nor report it again.
func TestGoneRequestFlaggedOnce(t *testing.T) {
	forEachSystem(t, func(t *testing.T, sys *system) {
		e := startWith(t, sys)
		gen := e.seed(sys, 8)
		profile := e.createProfile(sys, nil)
		if run := e.run(profile); run.GetCounters().GetCreated() != 8 {
			t.Fatalf("first run: %v %s", run.GetState(), counters(run))
		}
		goneID := gen[3].id
		var getCalls func() int
		switch fake := sys.fake.(type) {
		case *fakelibris.Server:
			fake.Delete(goneID)
			getCalls = func() int { return fake.Calls("/" + goneID) }
		case *fakenetpunkt.Server:
			// Moved to another library: our agency no longer finds it.
			o, _ := fake.Get(goneID)
			o.RequesterID = "DK-799998"
			fake.Put(o)
			getCalls = func() int { return fake.CallsOf("findSpecificOrder") }
		}

		run := e.run(profile)
		ev := e.events(run)[goneID]
		br := e.ledger(profile)[goneID]
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED ||
			ev.GetReasonCode() != "EXTERNAL_REQUEST_GONE" || ev.GetBorrowingRequest() != br.GetName() || br.GetName() == "" {
			t.Fatalf("run %v %s; event %v; ledger %v", run.GetState(), counters(run), ev, br.GetName())
		}
		if !br.GetNeedsAttention() || br.GetAttentionReason() == "" {
			t.Fatalf("ledger request not flagged: attention %v %q", br.GetNeedsAttention(), br.GetAttentionReason())
		}
		calls := getCalls()
		if calls == 0 {
			t.Fatal("the gone request was never fetched by id")
		}

		// Later runs: not read, not reported; the ledger keeps the request as flagged.
		for range 2 {
			run = e.run(profile)
			if _, again := e.events(run)[goneID]; again || run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
				t.Fatalf("later run: %v %s, event again: %v", run.GetState(), counters(run), again)
			}
		}
		if got := getCalls(); got != calls {
			t.Fatalf("the gone request was fetched %d more times", got-calls)
		}
		if again := e.ledger(profile)[goneID]; again.GetEtag() != br.GetEtag() || !again.GetNeedsAttention() {
			t.Fatalf("the flagged request changed: %v", again)
		}
		e.rerunChangesNothing(profile)
	})
}

// A request that fails five runs in a row is parked: listed with what, why, since when
// and how often, no longer retried, reported by each later run as a standing warning
// instead of an error, and retried when staff ask.
func TestFailingRequestParked(t *testing.T) {
	forEachSystem(t, func(t *testing.T, sys *system) {
		e := startWith(t, sys)
		gen := e.seed(sys, 6)
		stranger := gen[2].id
		sys.setLender(stranger, sys.stranger)
		// In Libris, also a request that fails: it has lost its request_id.
		invalid := ""
		if fake, ok := sys.fake.(*fakelibris.Server); ok {
			invalid = gen[4].id
			r, _ := fake.Get(invalid)
			r.RequestID = ""
			fake.Put(r)
		}
		profile := e.createProfile(sys, nil)
		erring := harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
		if invalid != "" {
			erring = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS
		}
		var run *harvesterv1.Run
		for i := 1; i <= 5; i++ {
			run = e.run(profile)
			ev := e.events(run)[stranger]
			if run.GetState() != erring || ev.GetReasonCode() != "PARTNER_UNKNOWN" || ev.GetAttempt() != int32(i) || ev.GetParked() != (i == 5) {
				t.Fatalf("run %d: %v %s; event %v", i, run.GetState(), counters(run), ev)
			}
		}
		parkedNow := int64(1)
		if invalid != "" {
			parkedNow = 2
		}
		if run.GetCounters().GetParked() != parkedNow || !hasAlert(run, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED) {
			t.Fatalf("parking run: %s parked=%d %v", counters(run), run.GetCounters().GetParked(), run.GetAlerts())
		}

		// Listed, through gRPC and REST.
		list, err := e.Harvester.ListParkedItems(e.ctx, &harvesterv1.ListParkedItemsRequest{Parent: profile})
		e.must(err)
		items := map[string]*harvesterv1.ParkedItem{}
		for _, p := range list.GetParkedItems() {
			items[p.GetExternalId()] = p
		}
		if p := items[stranger]; len(items) != int(parkedNow) || p.GetReasonCode() != "PARTNER_UNKNOWN" || p.GetAttempts() != 5 ||
			p.GetRun() != run.GetName() || p.GetFirstFailureTime() == nil || p.GetParkTime() == nil || !strings.Contains(p.GetReason(), sys.stranger) {
			t.Fatalf("parked items %v", list.GetParkedItems())
		}
		if invalid != "" && items[invalid].GetReasonCode() != "INVALID_EXTERNAL_DATA" {
			t.Fatalf("parked invalid request %v", items[invalid])
		}
		code, _, body := e.rest("GET", "/v1/"+profile+"/parkedItems", e.adminToken, "")
		var listed struct {
			ParkedItems []struct{ ExternalID, ReasonCode string }
		}
		if code != 200 || json.Unmarshal([]byte(body), &listed) != nil || len(listed.ParkedItems) != int(parkedNow) {
			t.Fatalf("GET parkedItems: %d %s", code, body)
		}

		// The next run: a standing warning, no fresh error, though the window still holds both.
		run = e.run(profile)
		ev := e.events(run)[stranger]
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || run.GetCounters().GetFailed() != 0 ||
			run.GetCounters().GetParked() != 0 || !hasAlert(run, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED) ||
			ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || ev.GetParked() {
			t.Fatalf("run after parking: %v %s %v; event %v", run.GetState(), counters(run), run.GetAlerts(), ev)
		}

		// Staff create the partner and retry the request: the next run imports it.
		e.partner(sys.stranger)
		path := "/v1/" + profile + "/parkedItems/" + url.PathEscape(stranger) + ":retry"
		if code, _, body := e.rest("POST", path, e.adminToken, "{}"); code != 200 {
			t.Fatalf("POST %s: %d %s", path, code, body)
		}
		if code, _, _ := e.rest("POST", path, e.adminToken, "{}"); code != 404 {
			t.Fatalf("second retry: %d, want 404", code)
		}
		run = e.run(profile)
		if ev := e.events(run)[stranger]; ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
			t.Fatalf("retried request: %v", ev)
		}
		want := harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS
		if invalid != "" {
			want = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS // the invalid one stays parked
		}
		if run.GetState() != want {
			t.Fatalf("run after the retry: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
		}
		e.rerunChangesNothing(profile)
	})
}

// A request with a free text longer than the ledger keeps is imported, cut with a
// marker, and the warning shows on the run event and on the ledger request.
func TestOverLongTextImportedWithWarning(t *testing.T) {
	sys := librisSystem()
	e := startWith(t, sys)
	fake := sys.fake.(*fakelibris.Server)
	gen := e.seed(sys, 3)
	long := gen[1].id
	message := strings.Repeat("Lång hälsning från låntagaren. ", 2000) // 62 000 characters
	fake.Touch(long, func(r *fakelibris.Request) { r.Message = message })
	profile := e.createProfile(sys, nil)

	run := e.run(profile)
	ev := e.events(run)[long]
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || run.GetCounters().GetCreated() != 3 ||
		ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || !hasWarning(ev.GetWarnings(), "TEXT_TRUNCATED") {
		t.Fatalf("run %v %s %v; event %v", run.GetState(), counters(run), run.GetAlerts(), ev)
	}
	br, err := e.Requests.GetBorrowingRequest(e.ctx, &requestsv1.GetBorrowingRequestRequest{Name: ev.GetBorrowingRequest()})
	e.must(err)
	note := br.GetNote()
	if !hasWarning(br.GetDataWarnings(), "TEXT_TRUNCATED") || !strings.Contains(note, "truncated") ||
		!strings.HasPrefix(note, message[:1000]) || len([]rune(note)) >= len([]rune(message)) {
		t.Fatalf("ledger request: warnings %v, note of %d characters ending %q", br.GetDataWarnings(), len([]rune(note)), tail(note, 60))
	}
	t.Logf("a message of %d characters is stored as %d, with warnings %v", len([]rune(message)), len([]rune(note)), br.GetDataWarnings())
	e.rerunChangesNothing(profile)
}

func hasWarning[W interface{ GetCode() string }](ws []W, code string) bool {
	for _, w := range ws {
		if w.GetCode() == code {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	r := []rune(s)
	return string(r[max(0, len(r)-n):])
}
