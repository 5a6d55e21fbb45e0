package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// seedLibris configures the suite to import from the fake Libris: o's generated
// requests, plus extra ones (put on the world's days, from its sigel).
func seedLibris(t *testing.T, s *suiteEnv, o testenv.WorldOptions, extra ...fakelibris.Request) testenv.World {
	t.Helper()
	w := s.Libris.World(o)
	s.Libris.Put(extra...)
	if err := s.Clients.Seed(s.ctx, w); err != nil {
		t.Fatal(err)
	}
	return w
}

// importNow runs w's profile to its end through the API.
func importNow(t *testing.T, s *suiteEnv, w testenv.World) *harvesterv1.Run {
	t.Helper()
	run, err := testenv.Import(s.ctx, s.Clients.Harvester, w.ProfileName())
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// ledger lists the ledger's requests as the administrator sees them.
func ledger(t *testing.T, s *suiteEnv) []*requestsv1.BorrowingRequest {
	t.Helper()
	resp, err := s.Clients.Requests.ListBorrowingRequests(s.ctx, &requestsv1.ListBorrowingRequestsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetBorrowingRequests()
}

// openUntil reopens path until the element sel is on it: for what a service shows a
// moment later (the scheduler lists a new profile's job within its poll).
func (b *browser) openUntil(path, sel string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		b.open(path)
		if b.count(sel) > 0 {
			return
		}
		if time.Now().After(deadline) {
			b.saveFailure("wait for " + sel)
			b.t.Fatalf("%s did not show %s within %v", path, sel, within)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// eval evaluates expr in the page, tolerating a page being replaced meanwhile.
func (b *browser) eval(expr string, v any) error {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), v)
}

// TestImportJobLive: an operator starts a job with "Run now" on /jobs, and the run's
// report follows it to the end by itself: the live element changes while the run goes
// on, and the page reloads into the final report without the test reloading it. The
// report leads to the event report, and an event to its ledger request.
func TestImportJobLive(t *testing.T) {
	s := startSuite(t)
	// Eight 7-day chunks, each answered a second late: a run of several seconds whose
	// percent moves chunk by chunk.
	w := seedLibris(t, s, testenv.WorldOptions{Count: 40, Days: 56, Seed: 7})
	s.Libris.Inject(fakelibris.Fault{Match: "outgoing", Delay: time.Second})
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("ada", auth.RoleOperator))

	job := "#job-" + w.Profile.GetCode()
	b.openUntil("/jobs", job, 30*time.Second)
	if got := b.text(job + " h2"); !strings.Contains(got, "Import Resource Sharing Requests using profile "+w.Profile.GetDisplayName()) {
		t.Errorf("job title %q", got)
	}
	if got := b.text(job + " dl"); !strings.Contains(got, "Not scheduled") || !strings.Contains(got, "Never run") {
		t.Errorf("job facts %q: want the schedule in words and no run yet", got)
	}
	b.shot("jobs")
	started := time.Now()
	b.click(job + ` form[action$="/run"] button`)
	if got := b.mainText(); !strings.Contains(got, "The import has started") {
		t.Fatalf("after Run now: %q", got)
	}
	runPath := get(b, "location", chromedp.Evaluate[string]("location.pathname"))
	if !strings.HasPrefix(runPath, "/runs/") {
		t.Fatalf("Run now led to %s, want the run's report", runPath)
	}
	// Mark this document: the mark is gone only once the page has reloaded itself.
	b.do("mark page", chromedp.Evaluate[chromedp.Void]("window.__unreloaded = true"))

	type snapshot struct {
		Unreloaded bool   `json:"unreloaded"`
		Live       bool   `json:"live"`
		Percent    string `json:"percent"`
		Fetched    string `json:"fetched"`
		Phase      string `json:"phase"`
	}
	const probe = `JSON.stringify({unreloaded: !!window.__unreloaded, live: !!document.querySelector("[data-progress-src]"),
		percent: (document.querySelector("[data-progress-src] span[data-field=percent]") || {}).textContent || "",
		fetched: (document.querySelector("[data-progress-src] [data-field=fetched]") || {}).textContent || "",
		phase: (document.querySelector("[data-progress-src] [data-field=phase]") || {}).textContent || ""})`
	var first *snapshot
	seen := map[string]bool{}
	shot := false
	deadline := time.Now().Add(90 * time.Second)
	for {
		var sn snapshot
		if err := b.eval(probe, &sn); err == nil {
			if first == nil {
				first = &sn
				if !sn.Live {
					t.Fatal("the report of a run just started shows no live progress")
				}
			}
			if sn.Unreloaded && sn.Live {
				seen[sn.Percent+"/"+sn.Fetched+"/"+sn.Phase] = true
				if !shot && sn.Percent != "0" && sn.Percent != "" {
					b.shot("run-progress")
					shot = true
				}
			}
			if !sn.Live {
				if sn.Unreloaded {
					t.Fatal("the live progress went away without the page reloading")
				}
				break
			}
		}
		if time.Now().After(deadline) {
			b.saveFailure("run end")
			t.Fatalf("the run's report still shows progress after 90 s; seen %v", seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(started)
	t.Logf("run took %v; the live element showed %d distinct states before the end: %v", took.Round(time.Millisecond), len(seen), seen)
	if len(seen) < 2 {
		t.Errorf("the live element never changed while the run went on (%d states seen)", len(seen))
	}
	if !shot {
		b.shot("run-progress")
	}

	run, err := s.Clients.Harvester.GetRun(s.ctx, &harvesterv1.GetRunRequest{Name: strings.TrimPrefix(runPath, "/")})
	if err != nil {
		t.Fatal(err)
	}
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("run ended %v, want success: %v", run.GetState(), run.GetAlerts())
	}
	facts := b.text("#run-facts")
	if !strings.Contains(facts, "Completed successfully") || !strings.Contains(facts, "Started by hand · ada") {
		t.Errorf("final report facts: %q", facts)
	}
	created := fmt.Sprint(run.GetCounters().GetCreated())
	if got := b.text("#run-counters"); !strings.Contains(got, "Created\n"+created) && !strings.Contains(got, "Created "+created) {
		t.Errorf("counters %q, want Created %s", got, created)
	}
	if b.count(`form[action$="/cancel"]`) != 0 {
		t.Error("a finished run still offers Cancel")
	}
	b.shot("run-report")

	// The history lists it, newest first.
	b.open("/runs?profile=" + w.Profile.GetCode())
	if got := b.text("tbody tr"); !strings.Contains(got, "Completed successfully") {
		t.Errorf("history's first row: %q", got)
	}

	// The event report, then one event's ledger request.
	b.open(runPath)
	b.click(`main a[href$="/events"]`)
	if n := b.count("tbody tr"); n != int(run.GetCounters().GetCreated()) {
		t.Errorf("event report has %d rows, want one per created request (%d)", n, run.GetCounters().GetCreated())
	}
	b.open(runPath + "/events?outcome=failed")
	if !strings.Contains(b.mainText(), "No events match") {
		t.Error("the outcome filter did not narrow the report")
	}
	b.open(runPath + "/events")
	title := b.text("tbody tr td:first-child")
	if strings.TrimSpace(title) == "" {
		t.Fatal("the event report's first row names no external id")
	}
	b.click(`tbody tr a[href^="/requests/"]`)
	if got := b.text("#trail"); !strings.Contains(got, "Imported") || !strings.Contains(got, "harvester") {
		t.Errorf("the request's trail %q: want its import by the harvester", got)
	}
	if got := b.mainText(); !strings.Contains(got, title) {
		t.Errorf("the request page does not show the event's external id %q", title)
	}
}

// TestRunProgressStream reads the progress stream of an ended run directly: one
// progress event with the final state, then done, then the stream ends.
func TestRunProgressStream(t *testing.T) {
	s := startSuite(t)
	w := seedLibris(t, s, testenv.WorldOptions{Count: 3, Days: 2, Seed: 1})
	run := importNow(t, s, w)
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("vera", auth.RoleViewer))
	b.open("/" + run.GetName())
	body := get(b, "read the stream", chromedp.Evaluate[string](
		`fetch("/`+run.GetName()+`/progress", {headers: {Accept: "text/event-stream"}}).then(async r => r.status + " " + r.headers.get("content-type") + "\n" + await r.text())`,
		chromedp.EvalAwaitPromise))
	t.Logf("stream of an ended run: %q", body)
	if !strings.HasPrefix(body, "200 text/event-stream") {
		t.Fatalf("stream answer %q", body)
	}
	body = get(b, "read the stream", chromedp.Evaluate[string](
		`fetch("/`+run.GetName()+`/progress").then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	i, j := strings.Index(body, "event: progress\ndata: {"), strings.Index(body, "event: done\n")
	if i < 0 || j < i || !strings.Contains(body, `"state":"Completed successfully"`) {
		t.Errorf("stream %q: want progress with the final state, then done", body)
	}
	body = get(b, "read the stream", chromedp.Evaluate[string](
		`fetch("/runs/999999/progress").then(r => String(r.status))`,
		chromedp.EvalAwaitPromise))
	if body != "404" {
		t.Errorf("stream of an unknown run answered %s, want 404", body)
	}
}

// TestParkedRetry: a request whose lender is no partner fails in every run until it is
// parked; the run report says so in words, the event report filters by its reason, and
// an operator retries it from the parked list.
func TestParkedRetry(t *testing.T) {
	s := startSuite(t)
	orphan := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 2, Sigel: testenv.LibrisSigel, Count: 1,
		From: time.Now().AddDate(0, 0, -1), To: time.Now(), Lenders: []string{"Zzz"}, Statuses: []string{fakelibris.StatusUteliggande}})
	w := seedLibris(t, s, testenv.WorldOptions{Count: 3, Days: 3, Seed: 2}, orphan...)
	var run *harvesterv1.Run
	for i := 0; i < 5; i++ { // the harvester's default --park-after
		run = importNow(t, s, w)
	}
	if run.GetCounters().GetParked() != 1 {
		t.Fatalf("after 5 runs: %v, want the orphan parked", run.GetCounters())
	}
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("ada", auth.RoleOperator))
	b.open("/" + run.GetName())
	alerts := b.text("ul.alerts")
	for _, want := range []string{"Some fetched requests were not imported", "The profile has parked requests"} {
		if !strings.Contains(alerts, want) {
			t.Errorf("alerts %q lack %q", alerts, want)
		}
	}
	b.open("/" + run.GetName() + "/events?reason=partner_unknown")
	if got := b.text("tbody"); b.count("tbody tr") != 1 || !strings.Contains(got, "The lender is not a known partner.") || !strings.Contains(got, "parked") {
		t.Errorf("events for PARTNER_UNKNOWN: %q", got)
	}
	b.open("/" + run.GetName())
	b.click(`#run-counters a[href^="/parked"]`)
	if got := b.text("tbody"); !strings.Contains(got, orphan[0].LFNumber) || !strings.Contains(got, "The lender is not a known partner.") {
		t.Fatalf("parked list %q", got)
	}
	b.click(`form[action="/parked/retry"] button`)
	if got := b.mainText(); !strings.Contains(got, "back in the retry set") || !strings.Contains(got, "No parked requests") {
		t.Errorf("after Retry: %q", got)
	}
	resp, err := s.Clients.Harvester.ListParkedItems(s.ctx, &harvesterv1.ListParkedItemsRequest{Parent: w.ProfileName()})
	if err != nil || len(resp.GetParkedItems()) != 0 {
		t.Errorf("parked after Retry: %v, %v", resp.GetParkedItems(), err)
	}
}
