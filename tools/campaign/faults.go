package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// Scenario is one fault of Libris or of the suite, with what the run must end as.
type Scenario struct {
	Name string
	// Fresh is how many requests appear in Libris for this scenario (default 20).
	Fresh int
	// Slow marks scenarios that take a minute or more (the harvester's own timeouts);
	// the quick selection leaves them out.
	Slow bool
	// Arm sets the fault up before the run starts (fresh: the lf_numbers that appeared
	// in Libris for this scenario, none of them in the ledger yet).
	Arm func(ctx context.Context, f *faultEnv, fresh []string) error
	// During acts once the run has started (e.g. kills a service); may be nil.
	During func(ctx context.Context, f *faultEnv, run string) error
	// Disarm undoes the fault before the recovery run (faults queued in the fake are
	// cleared anyway).
	Disarm func(ctx context.Context, f *faultEnv) error
	// Want: the run's final state and its alert codes, exactly (in any order).
	State  harvesterv1.RunState
	Alerts []harvesterv1.AlertCode
	// Counters checks the run's counters against the data set (see counts).
	Counters func(c *harvesterv1.RunCounters, n counts) error
}

// counts is the data set a scenario's run saw: total requests in Libris, of them fresh
// (not yet in the ledger) and churned (in the ledger, changed in Libris since).
type counts struct{ total, fresh, churned int }

// faultEnv is what scenarios act on.
type faultEnv struct {
	c        *Cluster
	world    *World
	outgoing int // calls to /outgoing before the run, for killDuringRun
}

// FaultResult is one row of the fault table.
type FaultResult struct {
	Scenario  string
	State     string
	Alerts    string
	Counters  string
	Recovered bool
	// RecoveryRuns is how many runs it took to recover (1: the next run).
	RecoveryRuns int
	Tally        Tally  // after the recovery run
	Problem      string // the unmet expectation, "" when all were met
	Took         time.Duration
}

// FaultsOptions configure Faults.
type FaultsOptions struct {
	Only  []string // scenario names; empty: all
	Quick bool     // leave out the slow scenarios
	Seed  int64
	Bin   string
	Dir   string
	Keep  bool
}

// scenario data sizes: the ledger starts with initialRequests, each scenario adds
// freshPerScenario and changes churnPerScenario.
const (
	initialRequests  = 150
	freshPerScenario = 20
	churnPerScenario = 10
)

// Faults runs the fault campaign and writes its table to out. It returns every row; the
// campaign passed when no row has a Problem.
func Faults(ctx context.Context, o FaultsOptions, out io.Writer) ([]FaultResult, error) {
	scenarios, err := selectScenarios(o.Only, o.Quick)
	if err != nil {
		return nil, err
	}
	dir, cleanup, err := dataDir(o.Dir, "interloan-faults-")
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	logf("faults: seed=%d scenarios=%d data=%s", o.Seed, len(scenarios), dir)
	c, err := StartCluster(ctx, o.Bin, dir, logf)
	if err != nil {
		return nil, err
	}
	var rows []FaultResult
	passed := false
	defer func() {
		c.Close()
		if passed && !o.Keep {
			cleanup()
		} else {
			logf("faults: data and service logs kept in %s", dir)
		}
	}()

	today := time.Now().UTC()
	size := initialRequests
	for _, s := range scenarios {
		size += cmp.Or(s.Fresh, freshPerScenario)
	}
	world := NewWorld(c.Libris.Server, size, o.Seed, today)
	if err := c.configure(ctx, today); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	world.Reveal(initialRequests)
	f := &faultEnv{c: c, world: world}
	if r, err := c.importOnce(ctx, "faults-initial"); err != nil || !completed(r) {
		return nil, fmt.Errorf("initial import: %v %v", r.GetState(), err)
	}
	for i, s := range scenarios {
		row := f.play(ctx, s, fmt.Sprintf("faults-%d-%d", o.Seed, i))
		rows = append(rows, row)
		mark := "ok"
		if row.Problem != "" {
			mark = "FAIL: " + row.Problem
		}
		logf("%-22s %s (%s)", s.Name, mark, row.Took.Round(100*time.Millisecond))
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
	}
	if rss := peakRSS(c.Pid(Harvester)); rss > 0 {
		// The huge answer and the 100 000-request figures of docs/performance.md bound
		// the harvester's memory; this is what the campaign's answers cost it at most.
		logf("harvester peak RSS over the campaign: %d MiB", rss>>20)
	}
	if p := c.LogProblems(); len(p) > 0 {
		rows = append(rows, FaultResult{Scenario: "service logs", Problem: strings.Join(p, "; ")})
	}
	printTable(out, rows)
	passed = !slices.ContainsFunc(rows, func(r FaultResult) bool { return r.Problem != "" })
	return rows, nil
}

func selectScenarios(only []string, quick bool) ([]Scenario, error) {
	all := Scenarios()
	if len(only) == 0 {
		return slices.DeleteFunc(all, func(s Scenario) bool { return quick && s.Slow }), nil
	}
	var out []Scenario
	for _, name := range only {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("no fault scenario %q", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// play runs one scenario: change Libris, arm the fault, run, check, disarm, run again and
// compare the ledger with Libris.
func (f *faultEnv) play(ctx context.Context, s Scenario, id string) (row FaultResult) {
	began := time.Now()
	row.Scenario = s.Name
	defer func() { row.Took = time.Since(began) }()
	problem := func(format string, args ...any) {
		if row.Problem == "" {
			row.Problem = fmt.Sprintf(format, args...)
		}
	}

	// Churn first, so the churned requests are ones the ledger holds.
	n := counts{churned: f.world.Churn(churnPerScenario)}
	before := f.world.Revealed()
	n.fresh = f.world.Reveal(cmp.Or(s.Fresh, freshPerScenario))
	n.total = f.world.Revealed()
	fresh := slices.Clone(f.world.revealed[before:])
	if err := s.Arm(ctx, f, fresh); err != nil {
		problem("arming the fault: %v", err)
		return row
	}
	name, err := f.c.StartRun(ctx, id)
	if err != nil {
		problem("starting the run: %v", err)
		return row
	}
	if s.During != nil {
		if err := s.During(ctx, f, name); err != nil {
			problem("during the run: %v", err)
		}
	}
	run, err := f.c.AwaitRun(ctx, name, 5*time.Minute)
	if err != nil {
		problem("%v", err)
		return row
	}
	row.State = strings.TrimPrefix(run.GetState().String(), "RUN_STATE_")
	row.Alerts = alerts(run)
	row.Counters = counters(run)
	if run.GetState() != s.State {
		problem("state %v, want %v", run.GetState(), s.State)
	}
	if got := alertCodes(run); !sameCodes(got, s.Alerts) {
		problem("alerts %v, want %v (%s)", got, s.Alerts, alertTexts(run))
	}
	if s.Counters != nil {
		if err := s.Counters(run.GetCounters(), n); err != nil {
			problem("counters %s: %v", counters(run), err)
		}
	}
	f.c.Libris.ClearFaults()
	if s.Disarm != nil {
		if err := s.Disarm(ctx, f); err != nil {
			problem("disarming: %v", err)
			return row
		}
	}
	// Whatever the faulty run did, it never put a request into the ledger twice or one
	// that Libris does not have (read once the fault is gone, so the ledger answers).
	if t, err := f.world.Compare(ctx, f.c); err != nil {
		problem("reading the ledger: %v", err)
	} else if t.Duplicated > 0 || t.Unknown > 0 {
		problem("after the faulty run: %s %v", t, t.Examples)
	}

	// The next run recovers. A service that was restarted may not be reachable by the
	// harvester at once (its gRPC channel waits out a reconnect backoff and fails calls
	// meanwhile): such runs fail with LEDGER_UNAVAILABLE or SERVICE_UNAVAILABLE, so run again for up to 30s and
	// report how many runs recovery took.
	var next *harvesterv1.Run
	deadline := time.Now().Add(30 * time.Second)
	for {
		row.RecoveryRuns++
		next, err = f.c.importOnce(ctx, fmt.Sprintf("%s-recovery-%d", id, row.RecoveryRuns))
		if err != nil {
			problem("recovery run: %v", err)
			return row
		}
		if completed(next) || !slices.ContainsFunc(alertCodes(next), func(c harvesterv1.AlertCode) bool { return c == ledgerDown || c == serviceDown }) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return row
		case <-time.After(time.Second):
		}
	}
	if row.Tally, err = f.world.Compare(ctx, f.c); err != nil {
		problem("reading the ledger: %v", err)
		return row
	}
	row.Recovered = completed(next) && row.Tally.OK()
	if !row.Recovered {
		problem("recovery run %v %s %s; ledger %s %v", next.GetState(), counters(next), alertTexts(next), row.Tally, row.Tally.Examples)
	}
	return row
}

func alertCodes(r *harvesterv1.Run) []harvesterv1.AlertCode {
	var out []harvesterv1.AlertCode
	for _, a := range r.GetAlerts() {
		out = append(out, a.GetCode())
	}
	return out
}

func alertTexts(r *harvesterv1.Run) string {
	var out []string
	for _, a := range r.GetAlerts() {
		out = append(out, strings.TrimPrefix(a.GetCode().String(), "ALERT_CODE_")+": "+a.GetMessage())
	}
	return strings.Join(out, " | ")
}

func sameCodes(got, want []harvesterv1.AlertCode) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func printTable(out io.Writer, rows []FaultResult) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfinal state\talerts\tcounters\trecovered\tresult")
	for _, r := range rows {
		rec, res := "no", "ok"
		if r.Recovered {
			rec = "yes"
			if r.RecoveryRuns > 1 {
				rec = fmt.Sprintf("yes, run %d", r.RecoveryRuns)
			}
		}
		if r.Problem != "" {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.State, dash(r.Alerts), r.Counters, rec, res)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Problem != "" {
			fmt.Fprintf(out, "FAIL %s: %s\n", r.Scenario, r.Problem)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Counter expectations.

// allImported: a clean run — every fresh request created, every churned one updated.
func allImported(c *harvesterv1.RunCounters, n counts) error {
	return want(c, n.total, n.fresh, n.churned, n.total-n.fresh-n.churned, 0, 0)
}

// nothingImported: the run failed before it handed the ledger anything.
func nothingImported(c *harvesterv1.RunCounters, _ counts) error {
	return want(c, 0, 0, 0, 0, 0, 0)
}

// allButOne: one fresh request could not be imported (skipped or failed), the rest were.
func allButOne(c *harvesterv1.RunCounters, n counts) error {
	if c.GetSkipped()+c.GetFailed() != 1 {
		return fmt.Errorf("skipped+failed %d, want 1", c.GetSkipped()+c.GetFailed())
	}
	return want(c, n.total, n.fresh-1, n.churned, n.total-n.fresh-n.churned, c.GetSkipped(), c.GetFailed())
}

// partial: the run broke off part-way; what it counted is no more than there was.
func partial(c *harvesterv1.RunCounters, n counts) error {
	if c.GetCreated() > int64(n.fresh) || c.GetUpdated() > int64(n.churned) || c.GetFetched() > int64(n.total) || c.GetFailed()+c.GetSkipped() != 0 {
		return errors.New("more than the data set holds, or requests refused")
	}
	return nil
}

func want(c *harvesterv1.RunCounters, fetched, created, updated, unchanged int, skipped, failed int64) error {
	if c.GetFetched() != int64(fetched) || c.GetCreated() != int64(created) || c.GetUpdated() != int64(updated) ||
		c.GetUnchanged() != int64(unchanged) || c.GetSkipped() != skipped || c.GetFailed() != failed {
		return fmt.Errorf("want fetched=%d created=%d updated=%d unchanged=%d skipped=%d failed=%d", fetched, created, updated, unchanged, skipped, failed)
	}
	return nil
}

// inject is an Arm that queues faults on the fake Libris's /outgoing.
func inject(faults ...fakelibris.Fault) func(context.Context, *faultEnv, []string) error {
	return func(_ context.Context, f *faultEnv, _ []string) error {
		for _, ft := range faults {
			ft.Match = "/outgoing"
			f.c.Libris.Inject(ft)
		}
		return nil
	}
}

// mangle is an Arm that breaks the first fresh request of the next answer.
func mangle(m fakelibris.Mangle) func(context.Context, *faultEnv, []string) error {
	return func(_ context.Context, f *faultEnv, fresh []string) error {
		m.LFNumber = fresh[0]
		f.c.Libris.Inject(fakelibris.Fault{Match: "/outgoing", Times: 1, Mangle: &m})
		return nil
	}
}

const (
	failed        = harvesterv1.RunState_RUN_STATE_FAILED
	success       = harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS
	withErrors    = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS
	withWarnings  = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
	authFailed    = harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED
	unreachable   = harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE
	garbage       = harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE
	ledgerDown    = harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE
	serviceDown   = harvesterv1.AlertCode_ALERT_CODE_SERVICE_UNAVAILABLE
	notImported   = harvesterv1.AlertCode_ALERT_CODE_REQUESTS_NOT_IMPORTED
	hugeValueSize = 40 << 20 // above the harvester's 32 MiB bound on one value
)

// Scenarios is the fault table of docs/robustness.md, in the order the campaign plays it.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "libris-401", Arm: inject(fakelibris.Fault{Status: http.StatusUnauthorized}),
			State: failed, Alerts: []harvesterv1.AlertCode{authFailed}, Counters: nothingImported},
		{Name: "libris-403", Arm: inject(fakelibris.Fault{Status: http.StatusForbidden}),
			State: failed, Alerts: []harvesterv1.AlertCode{authFailed}, Counters: nothingImported},
		{Name: "libris-404", Arm: inject(fakelibris.Fault{Status: http.StatusNotFound}),
			State: failed, Alerts: []harvesterv1.AlertCode{garbage}, Counters: nothingImported},
		// A rate limit that lifts: retried with backoff, the run succeeds.
		{Name: "libris-429-twice", Arm: inject(fakelibris.Fault{Times: 2, Status: http.StatusTooManyRequests}),
			State: success, Counters: allImported},
		// A Libris that keeps failing: four attempts, then the run fails.
		{Name: "libris-500", Arm: inject(fakelibris.Fault{Status: http.StatusInternalServerError}),
			State: failed, Alerts: []harvesterv1.AlertCode{unreachable}, Counters: nothingImported},
		// A short maintenance window: retried, the run succeeds.
		{Name: "libris-503-twice", Arm: inject(fakelibris.Fault{Times: 2, Status: http.StatusServiceUnavailable}),
			State: success, Counters: allImported},
		// No answer for longer than the harvester's 60s response-header timeout, once.
		{Name: "libris-timeout", Slow: true, Arm: inject(fakelibris.Fault{Times: 1, Delay: 65 * time.Second}),
			State: success, Counters: allImported},
		// An answer that flows, slowly: never idle long enough to be cut.
		{Name: "libris-slow-drip", Arm: inject(fakelibris.Fault{Times: 1, Drip: time.Millisecond}),
			State: success, Counters: allImported},
		{Name: "libris-truncated-json", Arm: inject(fakelibris.Fault{Times: 1, Truncate: true}),
			State: failed, Alerts: []harvesterv1.AlertCode{unreachable}, Counters: partial},
		{Name: "libris-non-json", Arm: inject(fakelibris.Fault{Times: 1, NonJSON: true}),
			State: failed, Alerts: []harvesterv1.AlertCode{garbage}, Counters: nothingImported},
		{Name: "libris-invalid-utf8", Arm: mangle(fakelibris.Mangle{InvalidUTF8: "title"}),
			State: success, Counters: allImported},
		{Name: "libris-huge-response", Arm: mangle(fakelibris.Mangle{Pad: hugeValueSize}),
			State: failed, Alerts: []harvesterv1.AlertCode{garbage}, Counters: partial},
		{Name: "libris-wrong-type", Arm: mangle(fakelibris.Mangle{WrongType: "last_modified"}),
			State: withErrors, Alerts: []harvesterv1.AlertCode{notImported}, Counters: allButOne},
		{Name: "libris-missing-lf", Arm: mangle(fakelibris.Mangle{Drop: "lf_number"}),
			State: withErrors, Alerts: []harvesterv1.AlertCode{notImported}, Counters: allButOne},
		{Name: "libris-duplicate-lf", Arm: mangle(fakelibris.Mangle{Duplicate: true}),
			State: success, Counters: allImported},
		{Name: "mapping-down", Arm: holdOutgoing, During: killDuringRun(Mapping), Disarm: restart(Mapping),
			State: failed, Alerts: []harvesterv1.AlertCode{serviceDown}, Counters: partial},
		{Name: "requests-down", Arm: holdOutgoing, During: killDuringRun(Requests), Disarm: restart(Requests),
			State: failed, Alerts: []harvesterv1.AlertCode{ledgerDown}, Counters: partial},
		{Name: "ledger-disk-full", Fresh: 400, Arm: diskFull, Disarm: diskRoomy,
			State: failed, Alerts: []harvesterv1.AlertCode{ledgerDown}, Counters: partial},
	}
}

// holdOutgoing delays Libris's next answer, so the run is surely past its prechecks
// and waiting for Libris when During acts.
func holdOutgoing(_ context.Context, f *faultEnv, _ []string) error {
	f.outgoing = f.c.Libris.Calls("/outgoing")
	f.c.Libris.Inject(fakelibris.Fault{Match: "/outgoing", Times: 1, Delay: time.Second})
	return nil
}

// killDuringRun SIGKILLs service s once the run has asked Libris for its answer; it stays
// down until Disarm.
func killDuringRun(s string) func(context.Context, *faultEnv, string) error {
	return func(ctx context.Context, f *faultEnv, name string) error {
		deadline := time.Now().Add(30 * time.Second)
		for f.c.Libris.Calls("/outgoing") == f.outgoing {
			r, err := f.c.Harvester.GetRun(ctx, &harvesterv1.GetRunRequest{Name: name})
			if err == nil && r.GetEndTime() != nil {
				return fmt.Errorf("the run ended (%v: %s) before it asked Libris", r.GetState(), alertTexts(r))
			}
			if time.Now().After(deadline) {
				return errors.New("the run never asked Libris")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		f.c.Kill(s)
		return nil
	}
}

func restart(s string) func(context.Context, *faultEnv) error {
	return func(ctx context.Context, f *faultEnv) error { return f.c.Start(ctx, s) }
}
