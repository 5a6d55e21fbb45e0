// Package e2e runs the whole suite in one process over real loopback gRPC and HTTP with a
// fake Libris, and checks the import path end to end: what the fake holds is what the
// ledger holds, exactly once, after any number of runs.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/demo"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/tlsconfig"
)

type env struct {
	testenv.Clients // the administrator's
	t               *testing.T
	ctx             context.Context
	// suite is the running suite over sys's fake; nil in the crash test, which runs its
	// services itself.
	suite *testenv.Env
	// sys is the external system the suite imports from, served at extURL.
	sys    *system
	extURL string
	// adminToken is the token every client above sends; tokensFile is the suite's
	// tokens file, for tests that create more tokens.
	adminToken, tokensFile string
	serviceTokenFile       string // the harvester's (crash test only)
}

func start(t *testing.T) *env {
	t.Helper()
	return startSuite(t, logging.Discard(), "")
}

// startWith runs the whole suite over sys's fake.
func startWith(t *testing.T, sys *system) *env {
	t.Helper()
	return startSuiteWith(t, sys, logging.Discard(), "")
}

// startSuite runs the whole suite over a fake Libris, logging to logger at level, with
// admin clients. The suite stops when the test ends, or before at e.suite.Close.
func startSuite(t *testing.T, logger *slog.Logger, level string) *env {
	t.Helper()
	return startSuiteWith(t, librisSystem(), logger, level)
}

// startSuiteWith is startSuite over sys's fake.
func startSuiteWith(t *testing.T, sys *system, logger *slog.Logger, level string) *env {
	t.Helper()
	return startEnv(t, sys, testenv.Options{Logger: logger, LogLevel: level})
}

// startEnv runs the whole suite with o, in a data directory of the test's, over sys's
// fake (none if sys is nil).
func startEnv(t *testing.T, sys *system, o testenv.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	// TLS on: every e2e call, and every call between the services, goes over TLS, and
	// the harvester authenticates with its client certificate (mTLS).
	o.DataDir, o.TLS = t.TempDir(), true
	if sys != nil {
		sys.serve(&o)
	}
	suite, err := testenv.Start(ctx, o)
	if err != nil {
		t.Fatalf("suite did not start: %v", err)
	}
	t.Cleanup(func() {
		if err := suite.Close(); err != nil {
			t.Error(err)
		}
	})
	e := &env{Clients: suite.Clients, t: t, ctx: ctx, suite: suite, sys: sys, adminToken: suite.AdminToken, tokensFile: suite.Addrs.TokensFile}
	if sys != nil {
		e.extURL = sys.url(suite)
	}
	return e
}

// dial connects to one of the suite's services with token (none if ""), over TLS when
// the suite has it.
func (e *env) dial(addr, token string) *grpc.ClientConn {
	e.t.Helper()
	c, err := e.suite.Dial(addr, token)
	e.must(err)
	e.t.Cleanup(func() { c.Close() })
	return c
}

// dialAs connects to a service the test runs itself, on loopback in plain text, sending
// token on every call.
func dialAs(t *testing.T, addr, token string) *grpc.ClientConn {
	t.Helper()
	c, err := client.Dial(addr, tlsconfig.Config{}, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rest calls the gateway with token (none if "") and a JSON body (none if "").
func (e *env) rest(method, path, token, body string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.suite.GatewayURL()+path, strings.NewReader(body))
	e.must(err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.suite.HTTP.Do(req)
	e.must(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	e.must(err)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) library(code string) {
	e.must(e.CreateLibrary(e.ctx, code, code))
}

func (e *env) mapLibris(sigel, local string) {
	e.must(e.MapLibrary(e.ctx, typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, sigel, local))
}

// mapOurs maps library, a code of the suite's external system, to the local library.
func (e *env) mapOurs(library, local string) {
	e.must(e.MapLibrary(e.ctx, e.sys.enum, library, local))
}

func (e *env) partner(code string) {
	e.must(e.CreatePartner(e.ctx, e.sys.enum, code, code))
}

// profile creates an active profile of the suite's external system for library (a sigel,
// an agency id) with credential key, and returns its name.
func (e *env) profile(code, library, key, local string, start time.Time) string {
	p := testenv.Profile(e.sys.enum, code, e.extURL, library, key, start)
	p.ResourceSharingLibrary = local
	name, err := e.CreateProfile(e.ctx, p)
	e.must(err)
	return name
}

func (e *env) run(profile string) *harvesterv1.Run {
	e.t.Helper()
	r, err := testenv.Import(e.ctx, e.Harvester, profile)
	e.must(err)
	return r
}

func (e *env) events(run *harvesterv1.Run) map[string]*harvesterv1.RunEvent {
	e.t.Helper()
	out := map[string]*harvesterv1.RunEvent{}
	token := ""
	for {
		resp, err := e.Harvester.ListRunEvents(e.ctx, &harvesterv1.ListRunEventsRequest{Parent: run.GetName(), PageSize: 1000, PageToken: token})
		e.must(err)
		for _, ev := range resp.GetRunEvents() {
			if _, dup := out[ev.GetExternalId()]; dup {
				e.t.Fatalf("two events for %s in one run", ev.GetExternalId())
			}
			out[ev.GetExternalId()] = ev
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// ledger lists every request of a profile, failing on a duplicate external id.
func (e *env) ledger(profile string) map[string]*requestsv1.BorrowingRequest {
	e.t.Helper()
	out := map[string]*requestsv1.BorrowingRequest{}
	token := ""
	for {
		resp, err := e.Requests.ListBorrowingRequests(e.ctx, &requestsv1.ListBorrowingRequestsRequest{Profile: profile, PageSize: 100, PageToken: token})
		e.must(err)
		for _, br := range resp.GetBorrowingRequests() {
			id := br.GetExternalReference().GetExternalId()
			if _, dup := out[id]; dup {
				e.t.Fatalf("external id %s is in the ledger twice", id)
			}
			out[id] = br
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

func counters(r *harvesterv1.Run) string { return countersOf(r.GetCounters()) }

func countersOf(c *harvesterv1.RunCounters) string {
	return fmt.Sprintf("fetched=%d created=%d updated=%d unchanged=%d skipped=%d failed=%d",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
}

func TestImportEndToEnd(t *testing.T) { forEachSystem(t, testImportEndToEnd) }

func testImportEndToEnd(t *testing.T, sys *system) {
	e := startWith(t, sys)
	today := time.Now()
	const n = 250
	sys.grant("key-abc", sys.ours)
	generated := sys.generate(7, sys.ours, n, today.AddDate(0, 0, -2), today, sys.lenders)
	// One request lent by a library that is not (yet) a partner.
	stranger := generated[n-1]
	sys.setLender(stranger.id, sys.stranger)

	e.library("MAIN")
	e.mapOurs(sys.ours, "MAIN")
	first := strings.ToUpper(sys.lenders[0]) // the system's spelling differs: resolution ignores case
	e.partner(first)
	e.partner(sys.lenders[1])
	profile := e.profile("abc", sys.ours, "key-abc", "MAIN", today.AddDate(0, 0, -2))

	// First run: everything but the stranger's request is created, exactly once.
	run1 := e.run(profile)
	if run1.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS ||
		counters(run1) != fmt.Sprintf("fetched=%d created=%d updated=0 unchanged=0 skipped=1 failed=0", n, n-1) {
		t.Fatalf("first run: %v %s %v", run1.GetState(), counters(run1), run1.GetAlerts())
	}
	ev := e.events(run1)
	if len(ev) != n {
		t.Fatalf("%d events for %d fetched requests", len(ev), n)
	}
	if s := ev[stranger.id]; s.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || s.GetReasonCode() != "PARTNER_UNKNOWN" {
		t.Fatalf("stranger's event: %v", s)
	}
	led := e.ledger(profile)
	if len(led) != n-1 {
		t.Fatalf("ledger holds %d requests, want %d", len(led), n-1)
	}
	for _, g := range generated[:n-1] {
		br, ok := led[g.id]
		if !ok {
			t.Fatalf("%s was fetched but is not in the ledger", g.id)
		}
		if ev[g.id].GetBorrowingRequest() != br.GetName() {
			t.Fatalf("event of %s links %s, ledger has %s", g.id, ev[g.id].GetBorrowingRequest(), br.GetName())
		}
		if br.GetExternalReference().GetStatusRaw() != g.statusRaw || br.GetOwner() != "MAIN" {
			t.Fatalf("ledger copy of %s: status %q owner %q", g.id, br.GetExternalReference().GetStatusRaw(), br.GetOwner())
		}
		if g.lender == sys.lenders[0] && br.GetPartner() != "partners/"+first {
			t.Fatalf("%s lent by %s resolved to partner %q", g.id, g.lender, br.GetPartner())
		}
	}

	// Second run over the same window: nothing new.
	second := e.run(profile)
	if counters(second) != fmt.Sprintf("fetched=%d created=0 updated=0 unchanged=%d skipped=1 failed=0", n, n-1) {
		t.Fatalf("second run: %s", counters(second))
	}

	// The system changes one request: exactly that one is UPDATED.
	changed := generated[3].id
	status := sys.touch(changed)
	third := e.run(profile)
	if counters(third) != fmt.Sprintf("fetched=%d created=0 updated=1 unchanged=%d skipped=1 failed=0", n, n-2) {
		t.Fatalf("third run: %s", counters(third))
	}
	if e.events(third)[changed].GetOutcome() != harvesterv1.Outcome_OUTCOME_UPDATED {
		t.Fatalf("touched request not UPDATED")
	}
	if got := e.ledger(profile)[changed].GetExternalReference().GetStatusRaw(); got != status {
		t.Fatalf("ledger status of the touched request = %q, want %q", got, status)
	}

	// The stranger becomes a partner, and a new request appears late: both imported.
	e.partner(sys.stranger)
	late := sys.late(sys.ours, sys.lenders[1], today)
	fourth := e.run(profile)
	ev = e.events(fourth)
	if fourth.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS ||
		ev[stranger.id].GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED || ev[late.id].GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
		t.Fatalf("fourth run: %v %s; stranger %v; late %v", fourth.GetState(), counters(fourth), ev[stranger.id], ev[late.id])
	}
	if got := len(e.ledger(profile)); got != n+1 {
		t.Fatalf("ledger holds %d requests, want %d", got, n+1)
	}

	// The job history lists the four runs newest first, through the REST gateway too.
	code, _, body := e.rest("GET", "/v1/runs?profile="+profile, e.adminToken, "")
	var history struct {
		Runs []struct{ Name, State string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &history) != nil || len(history.Runs) != 4 || history.Runs[0].Name != fourth.GetName() {
		t.Fatalf("GET /v1/runs: %d %s", code, body)
	}
}

func TestUnmappedProfileLibraryFailsAndImportsNothing(t *testing.T) {
	forEachSystem(t, func(t *testing.T, sys *system) {
		e := startWith(t, sys)
		today := time.Now()
		sys.grant("key-def", sys.other)
		sys.generate(3, sys.other, 20, today, today, sys.lenders[:1])
		e.library("MAIN")
		e.partner(sys.lenders[0])
		profile := e.profile("def", sys.other, "key-def", "MAIN", today)

		run := e.run(profile)
		if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
			t.Fatalf("state = %v", run.GetState())
		}
		if a := run.GetAlerts(); len(a) != 1 || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING {
			t.Fatalf("alerts = %v", a)
		}
		if calls := sys.calls(); calls != 0 {
			t.Fatalf("the run called %s %d times without a library mapping", sys.name, calls)
		}
		if got := len(e.ledger(profile)); got != 0 {
			t.Fatalf("ledger holds %d requests of the failed profile", got)
		}

		// With the mapping in place the same profile imports.
		e.mapOurs(sys.other, "MAIN")
		if run := e.run(profile); run.GetCounters().GetCreated() != 20 {
			t.Fatalf("after mapping: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
		}
	})
}

func TestWrongKeyIsAuthFailed(t *testing.T) {
	forEachSystem(t, func(t *testing.T, sys *system) {
		e := startWith(t, sys)
		sys.grant("right", sys.ours)
		e.library("MAIN")
		e.mapOurs(sys.ours, "MAIN")
		run := e.run(e.profile("abc", sys.ours, "wrong", "MAIN", time.Now()))
		if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(a) != 1 || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED {
			t.Fatalf("run: %v %v", run.GetState(), a)
		}
	})
}

// The demo, as a newcomer runs it with --exit, imports everything it fetched (for
// Netpunkt: pulled, then pushed).
func TestDemoExit(t *testing.T) {
	for _, system := range []string{demo.SystemLibris, demo.SystemNetpunkt} {
		t.Run(system, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out bytes.Buffer
			err := demo.Run(ctx, demo.Options{Host: "127.0.0.1", Count: 120, Exit: true, LogLevel: "error", System: system}, &out)
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			t.Log(out.String())
		})
	}
}

// Faults of the external system: retried when transient, reported when not, and a later
// run recovers with every request imported exactly once.
func TestExternalFaults(t *testing.T) {
	forEachSystem(t, func(t *testing.T, sys *system) {
		e := startWith(t, sys)
		today := time.Now()
		const n = 60
		sys.grant("key", sys.ours)
		sys.generate(5, sys.ours, n, today, today, sys.lenders[:1])
		e.library("MAIN")
		e.mapOurs(sys.ours, "MAIN")
		e.partner(sys.lenders[0])
		profile := e.profile("abc", sys.ours, "key", "MAIN", today)

		// Two 503s, then an answer: the connector retries and the run succeeds.
		sys.inject(faultUnavailable, 2)
		run := e.run(profile)
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetCounters().GetCreated() != n {
			t.Fatalf("after 503s: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
		}
		if calls, want := sys.listCalls(), 2+sys.pages(n); calls != want {
			t.Fatalf("the listing was called %d times, want %d (two refused, then the answer's pages)", calls, want)
		}

		// An answer cut off mid-body (the connection breaks after part of the requests
		// were imported) and an HTML page fail the run with a clear alert; the cursor stays.
		for _, tc := range []struct {
			fault faultKind
			alert harvesterv1.AlertCode
		}{
			{faultTruncated, harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE},
			{faultGarbage, harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE},
		} {
			sys.inject(tc.fault, 1)
			run = e.run(profile)
			if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(a) != 1 || a[0].GetCode() != tc.alert {
				t.Fatalf("fault %v: %v %v", tc.fault, run.GetState(), a)
			}
		}
		// The system answers again: the next run covers the window; nothing is duplicated.
		run = e.run(profile)
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetCounters().GetFetched() != n || run.GetCounters().GetCreated() != 0 {
			t.Fatalf("recovery run: %v %s", run.GetState(), counters(run))
		}
		if got := len(e.ledger(profile)); got != n {
			t.Fatalf("ledger holds %d, want %d", got, n)
		}
	})
}

// The scheduler lists every active, runnable profile's job within a poll, and WatchRun
// streams a run over real gRPC until it ends.
func TestScheduledJobsAndWatchRun(t *testing.T) {
	e := start(t)
	today := time.Now()
	e.suite.Libris.AddKey("key", "Abc")
	e.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 2, Sigel: "Abc", Count: 30, From: today, To: today, Lenders: []string{"Xyz"}})...)
	e.library("MAIN")
	e.mapLibris("Abc", "MAIN")
	e.partner("Xyz")
	profile := e.profile("abc", "Abc", "key", "MAIN", today)

	deadline := time.Now().Add(20 * time.Second)
	var jobs []*harvesterv1.ScheduledJob
	for time.Now().Before(deadline) {
		resp, err := e.Harvester.ListScheduledJobs(e.ctx, &harvesterv1.ListScheduledJobsRequest{})
		e.must(err)
		if jobs = resp.GetScheduledJobs(); len(jobs) == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(jobs) != 1 || jobs[0].GetProfile() != profile || jobs[0].GetDisplayName() != "Import Resource Sharing Requests using profile Libris Abc" || jobs[0].GetSchedule() != "Not scheduled" {
		t.Fatalf("scheduled jobs = %v", jobs)
	}

	r, err := e.Harvester.StartRun(e.ctx, &harvesterv1.StartRunRequest{Profile: profile})
	e.must(err)
	stream, err := e.Harvester.WatchRun(e.ctx, &harvesterv1.WatchRunRequest{Name: r.GetName()})
	e.must(err)
	var last *harvesterv1.Run
	for {
		run, err := stream.Recv()
		if err == io.EOF {
			break
		}
		e.must(err)
		last = run
	}
	if last.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || last.GetCounters().GetCreated() != 30 || last.GetProgress().GetPercent() != 100 {
		t.Fatalf("watched run ended as %v %s %v", last.GetState(), counters(last), last.GetProgress())
	}
}
