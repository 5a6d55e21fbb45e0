package scheduler

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
)

// checkStarts compares the instants runs were started, the request ids (which name the
// occurrence) and the fixed start arguments.
func checkStarts(t *testing.T, got []call, profile string, want ...string) {
	t.Helper()
	if !slices.Equal(startTimes(got), want) {
		t.Fatalf("runs started at\n  %v\nwant\n  %v", startTimes(got), want)
	}
	code := strings.TrimPrefix(profile, "integrationProfiles/")
	for i, c := range got {
		if c.profile != profile || c.trigger != harvesterv1.Trigger_TRIGGER_SCHEDULED || c.submittedBy != "System" {
			t.Errorf("start %d = %+v, want %s, TRIGGER_SCHEDULED, System", i, c, profile)
		}
		if wantID := "schedule/" + code + "/" + want[i]; c.requestID != wantID {
			t.Errorf("start %d request id %q, want %q", i, c.requestID, wantID)
		}
	}
}

// The DST rules are the schedule package's: 02:30 on the spring-forward day runs once, at
// 03:30 CEST (01:30 UTC); on the fall-back day once, at the first 02:30 (CEST, 00:30 UTC).
func TestDailyAcrossDST(t *testing.T) {
	cases := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"spring forward 2026-03-29", "2026-03-26T12:00:00Z", "2026-03-31T12:00:00Z", []string{
			"2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z",
			"2026-03-29T01:30:00Z", // 02:30 does not exist: 03:30 CEST
			"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z",
		}},
		{"fall back 2026-10-25", "2026-10-22T12:00:00Z", "2026-10-27T12:00:00Z", []string{
			"2026-10-23T00:30:00Z", "2026-10-24T00:30:00Z",
			"2026-10-25T00:30:00Z", // the first 02:30 (CEST); not again at 01:30Z
			"2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, utc(t, tc.from), time.Hour, profile("kb", "1", daily(2, 30, sthlm)))
			for day := 1; day <= len(tc.want); day++ {
				h.advance(24 * time.Hour)
				if got := len(h.st.snapshot()); got != day {
					t.Fatalf("after %d days %d runs, want %d", day, got, day)
				}
			}
			checkStarts(t, h.st.snapshot(), "integrationProfiles/kb", tc.want...)
			if h.clk.Now() != utc(t, tc.to) {
				t.Fatalf("clock %v", h.clk.Now())
			}
		})
	}
}

// Stepping a whole day at once (the timer fires late, as for a stalled process) still
// starts exactly one run a day, named by the occurrence, not by when it was noticed.
func TestDailyCoarseSteps(t *testing.T) {
	h := newHarness(t, utc(t, "2026-03-27T12:00:00Z"), 0, profile("kb", "1", daily(2, 30, sthlm)))
	var ids []string
	for range 3 {
		h.jump(24 * time.Hour)
		for _, c := range h.st.snapshot()[len(ids):] {
			ids = append(ids, c.requestID)
		}
	}
	want := []string{"schedule/kb/2026-03-28T01:30:00Z", "schedule/kb/2026-03-29T01:30:00Z", "schedule/kb/2026-03-30T00:30:00Z"}
	if !slices.Equal(ids, want) {
		t.Fatalf("request ids %v, want %v", ids, want)
	}
}

func TestWeekly(t *testing.T) {
	t.Run("Monday 06:00 Stockholm", func(t *testing.T) {
		h := newHarness(t, utc(t, "2026-10-20T12:00:00Z"), time.Hour,
			profile("kb", "1", weekly(typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 6, 0, sthlm)))
		h.advanceTo(utc(t, "2026-11-24T00:00:00Z"))
		checkStarts(t, h.st.snapshot(), "integrationProfiles/kb",
			"2026-10-26T05:00:00Z", "2026-11-02T05:00:00Z", "2026-11-09T05:00:00Z", "2026-11-16T05:00:00Z", "2026-11-23T05:00:00Z")
	})
	t.Run("Sunday 02:30 across the spring-forward Sunday", func(t *testing.T) {
		h := newHarness(t, utc(t, "2026-03-16T00:00:00Z"), time.Hour,
			profile("kb", "1", weekly(typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, 2, 30, sthlm)))
		h.advanceTo(utc(t, "2026-04-06T00:00:00Z"))
		checkStarts(t, h.st.snapshot(), "integrationProfiles/kb",
			"2026-03-22T01:30:00Z", "2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z")
	})
}

func TestIntervalTwelvePerHour(t *testing.T) {
	h := newHarness(t, utc(t, "2026-01-01T00:02:00Z"), time.Minute, profile("kb", "1", every(5)))

	// API handlers read Jobs while Run works; -race checks it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				for _, j := range h.s.Jobs() {
					_ = ToScheduledJob(j, "")
				}
			}
		}
	})
	h.advance(time.Hour)
	close(stop)
	wg.Wait()

	var want []string
	for m := 5; m <= 60; m += 5 {
		want = append(want, utc(t, "2026-01-01T00:00:00Z").Add(time.Duration(m)*time.Minute).Format(time.RFC3339))
	}
	checkStarts(t, h.st.snapshot(), "integrationProfiles/kb", want...)
	if n := h.mustJob("integrationProfiles/kb").Next; n != utc(t, "2026-01-01T01:05:00Z") {
		t.Fatalf("next %v", n)
	}
}

// A stalled scheduler that wakes an hour late fires once, for the latest passed
// occurrence, and does not replay the others.
func TestMissedOccurrencesFireOnce(t *testing.T) {
	h := newHarness(t, utc(t, "2026-01-01T00:02:00Z"), 2*time.Hour, profile("kb", "1", every(5)))
	h.jump(time.Hour) // the 00:05 timer fires at 01:02
	calls := h.st.snapshot()
	if len(calls) != 1 || calls[0].requestID != "schedule/kb/2026-01-01T01:00:00Z" {
		t.Fatalf("starts %+v, want one, for the 01:00 occurrence", calls)
	}
	if n := h.mustJob("integrationProfiles/kb").Next; n != utc(t, "2026-01-01T01:05:00Z") {
		t.Fatalf("next %v, want the first occurrence after now", n)
	}
	h.advance(3 * time.Minute)
	if n := len(h.st.snapshot()); n != 2 {
		t.Fatalf("%d runs, want 2 (01:00 late, 01:05 on time)", n)
	}
}

func TestNoReplayAtStartup(t *testing.T) {
	h := newHarness(t, utc(t, "2026-05-01T03:00:00Z"), 0, profile("kb", "1", daily(2, 30, "")))
	if n := len(h.st.snapshot()); n != 0 {
		t.Fatalf("%d runs at startup, want none: the 02:30 occurrence passed before start", n)
	}
	if n := h.mustJob("integrationProfiles/kb").Next; n != utc(t, "2026-05-02T02:30:00Z") {
		t.Fatalf("next %v, want the next day's 02:30", n)
	}
}

func TestProfileChangesTakeEffectWithinOnePoll(t *testing.T) {
	const name = "integrationProfiles/kb"
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), 5*time.Second, profile("kb", "1", daily(2, 30, "")))
	if n := h.mustJob(name).Next; n != utc(t, "2026-01-01T02:30:00Z") {
		t.Fatalf("next %v", n)
	}

	// Edit: every 5 minutes. No restart; one poll later the new schedule is in force.
	h.prof.set(profile("kb", "2", every(5)))
	h.advance(5 * time.Second)
	j := h.mustJob(name)
	if j.Next != utc(t, "2026-01-01T00:05:00Z") || j.Spec.Describe() != "Every 5 minutes" || j.Profile.GetEtag() != "2" {
		t.Fatalf("after edit: next %v, schedule %q, etag %q", j.Next, j.Spec.Describe(), j.Profile.GetEtag())
	}
	h.advanceTo(utc(t, "2026-01-01T00:10:00Z"))
	checkStarts(t, h.st.snapshot(), name, "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z")

	// An edit that leaves the schedule alone keeps the next time and shows the new name.
	renamed := profile("kb", "3", every(5))
	renamed.DisplayName = "KB Libris"
	h.prof.set(renamed)
	h.advance(5 * time.Second)
	j = h.mustJob(name)
	if j.Next != utc(t, "2026-01-01T00:15:00Z") || j.DisplayName() != "Import Resource Sharing Requests using profile KB Libris" {
		t.Fatalf("after rename: next %v, name %q", j.Next, j.DisplayName())
	}

	// Deactivated: gone from the jobs within one poll and never started again.
	off := profile("kb", "4", every(5))
	off.Active = false
	h.prof.set(off)
	h.advance(5 * time.Second)
	if js := h.s.Jobs(); len(js) != 0 {
		t.Fatalf("jobs after deactivation: %v", jobNames(js))
	}
	h.advance(2 * time.Hour)
	if n := len(h.st.snapshot()); n != 2 {
		t.Fatalf("%d runs, want still 2 after deactivation", n)
	}

	// Reactivated: scheduled again from now.
	h.prof.set(profile("kb", "5", every(5)))
	h.advance(5 * time.Second)
	if n := h.mustJob(name).Next; n != utc(t, "2026-01-01T02:15:00Z") {
		t.Fatalf("next after reactivation %v", n)
	}
}

// An edit that leaves the schedule alone, seen by the poll at the very instant a run is
// due, must not push that run to the next occurrence.
func TestEditAtDueInstantKeepsOccurrence(t *testing.T) {
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute, profile("kb", "1", every(5)))
	h.advanceTo(utc(t, "2026-01-01T00:04:30Z"))
	renamed := profile("kb", "2", every(5))
	renamed.Description = "edited"
	h.prof.set(renamed)
	h.advanceTo(utc(t, "2026-01-01T00:05:00Z")) // poll and due coincide
	checkStarts(t, h.st.snapshot(), "integrationProfiles/kb", "2026-01-01T00:05:00Z")
	if e := h.mustJob("integrationProfiles/kb").Profile.GetEtag(); e != "2" {
		t.Fatalf("etag %q: the edit was not picked up", e)
	}
}

func TestWhichProfilesAreJobs(t *testing.T) {
	notRunnable := profile("b-incomplete", "1", every(1))
	notRunnable.Readiness = &profilesv1.Readiness{Runnable: false, MissingFields: []string{"api_key"}}
	noReadiness := profile("c-noreadiness", "1", every(1))
	noReadiness.Readiness = nil
	inactive := profile("d-inactive", "1", every(1))
	inactive.Active = false
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute,
		profile("a-manual", "1", none(sthlm)), notRunnable, noReadiness, inactive,
		profile("e-daily", "1", daily(6, 0, "")), profile("f-nil", "1", nil))

	got := jobNames(h.s.Jobs())
	want := []string{"integrationProfiles/a-manual", "integrationProfiles/e-daily", "integrationProfiles/f-nil"}
	if !slices.Equal(got, want) {
		t.Fatalf("jobs %v, want %v (sorted, active and runnable only)", got, want)
	}
	for _, name := range []string{"integrationProfiles/a-manual", "integrationProfiles/f-nil"} {
		j := h.mustJob(name)
		if !j.Next.IsZero() || j.Spec.Describe() != "Not scheduled" {
			t.Fatalf("%s: next %v, schedule %q", name, j.Next, j.Spec.Describe())
		}
	}

	h.advance(48 * time.Hour)
	for _, c := range h.st.snapshot() {
		if c.profile != "integrationProfiles/e-daily" {
			t.Fatalf("started %s, which is not scheduled or not a job", c.profile)
		}
	}
	if n := len(h.st.snapshot()); n != 2 {
		t.Fatalf("%d runs of e-daily in two days, want 2", n)
	}

	// Completing the profile makes it a job within one poll.
	notRunnable = profile("b-incomplete", "2", every(1))
	h.prof.set(notRunnable)
	h.advance(time.Minute)
	if _, ok := h.job("integrationProfiles/b-incomplete"); !ok {
		t.Fatal("a profile that became runnable is not a job")
	}
}

func TestStartRefusedSkipsOccurrence(t *testing.T) {
	const name = "integrationProfiles/kb"
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute, profile("kb", "1", every(5)))
	h.st.setRefuse(func(c call) error {
		if c.requestID == "schedule/kb/2026-01-01T00:05:00Z" {
			return apierr.FailedPrecondition("RUN_IN_PROGRESS", map[string]string{"run": "runs/7"},
				"profile %s already has an active run runs/7; wait for it to end", name)
		}
		return nil
	})

	h.advanceTo(utc(t, "2026-01-01T00:09:59Z"))
	j := h.mustJob(name)
	if len(h.st.snapshot()) != 1 {
		t.Fatalf("refused start tried %d times, want once (no retry loop)", len(h.st.snapshot()))
	}
	if !strings.Contains(j.LastErr, "RUN_IN_PROGRESS") || !strings.Contains(j.LastErr, "runs/7") {
		t.Fatalf("LastErr %q, want the refusal naming the running run", j.LastErr)
	}
	if j.Next != utc(t, "2026-01-01T00:10:00Z") {
		t.Fatalf("next %v, want the next occurrence", j.Next)
	}
	if !strings.Contains(h.logs.String(), "occurrence skipped") {
		t.Fatal("the skipped occurrence was not logged")
	}

	h.advanceTo(utc(t, "2026-01-01T00:10:00Z"))
	checkStarts(t, h.st.snapshot(), name, "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z")
	if h.st.distinctRuns() != 1 {
		t.Fatalf("%d runs, want 1", h.st.distinctRuns())
	}
	if j := h.mustJob(name); j.LastErr != "" {
		t.Fatalf("LastErr %q after a successful start, want empty", j.LastErr)
	}

	// A gRPC error (a remote starter) reads as code and message.
	h.st.setRefuse(func(call) error { return status.Error(codes.NotFound, "profile integrationProfiles/kb not found") })
	h.advance(5 * time.Minute)
	if j := h.mustJob(name); j.LastErr != "NotFound: profile integrationProfiles/kb not found" {
		t.Fatalf("LastErr %q", j.LastErr)
	}
}

func TestListingFailureKeepsJobs(t *testing.T) {
	const name = "integrationProfiles/kb"
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute, profile("kb", "1", every(5)), profile("nl", "1", daily(1, 0, "")))
	h.prof.fail(errDown)
	h.advanceTo(utc(t, "2026-01-01T00:15:00Z"))
	checkStarts(t, h.st.snapshot(), name, "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z")
	if got := jobNames(h.s.Jobs()); len(got) != 2 {
		t.Fatalf("jobs while profiles is down: %v", got)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"scheduler: listing profiles failed"); n != 1 {
		t.Fatalf("listing failure warned %d times in 15 polls, want once per outage", n)
	}

	// Back, with kb deleted: the job goes at the next poll.
	h.prof.fail(nil)
	h.prof.set(profile("nl", "1", daily(1, 0, "")))
	h.advance(time.Minute)
	if got := jobNames(h.s.Jobs()); !slices.Equal(got, []string{"integrationProfiles/nl"}) {
		t.Fatalf("jobs %v", got)
	}
	if !strings.Contains(h.logs.String(), "works again") {
		t.Fatal("recovery not logged")
	}
}

// A failing later page fails the listing: a partial list must not remove jobs.
func TestPartialListingKeepsJobs(t *testing.T) {
	ps := []*profilesv1.IntegrationProfile{
		profile("a", "1", every(5)), profile("b", "1", every(5)), profile("c", "1", every(5)),
		profile("d", "1", every(5)), profile("e", "1", every(5)),
	}
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute, ps...)
	if got := len(h.s.Jobs()); got != 5 {
		t.Fatalf("%d jobs from three pages, want 5", got)
	}
	h.prof.mu.Lock()
	sizes := slices.Clone(h.prof.pageSizes)
	h.prof.mu.Unlock()
	if len(sizes) != 3 || slices.ContainsFunc(sizes, func(n int32) bool { return n != 1000 }) {
		t.Fatalf("page sizes asked %v, want three pages of 1000", sizes)
	}

	flaky := &flakyPages{fakeProfiles: h.prof}
	s := New(Config{Profiles: flaky, Starter: h.st, Clock: h.clk})
	s.jobs = map[string]*job{"integrationProfiles/a": {profile: ps[0]}}
	s.refresh(context.Background(), h.clk.Now())
	if got := jobNames(s.Jobs()); !slices.Equal(got, []string{"integrationProfiles/a"}) {
		t.Fatalf("jobs after a failed second page: %v", got)
	}
}

// flakyPages fails every page but the first.
type flakyPages struct{ *fakeProfiles }

func (f *flakyPages) ListIntegrationProfiles(ctx context.Context, req *profilesv1.ListIntegrationProfilesRequest, _ ...grpc.CallOption) (*profilesv1.ListIntegrationProfilesResponse, error) {
	if req.GetPageToken() != "" {
		return nil, errDown
	}
	return f.fakeProfiles.ListIntegrationProfiles(ctx, req)
}

func TestBadScheduleSkipped(t *testing.T) {
	bad := profile("bad", "1", daily(2, 30, "Mars/Olympus"))
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), time.Minute, bad, profile("good", "1", every(5)))
	h.advance(10 * time.Minute)
	if got := jobNames(h.s.Jobs()); !slices.Equal(got, []string{"integrationProfiles/good"}) {
		t.Fatalf("jobs %v", got)
	}
	if n := strings.Count(h.logs.String(), "does not parse"); n != 1 {
		t.Fatalf("warned %d times over 10 polls, want once per etag", n)
	}
	// Fixed: a job at the next poll.
	h.prof.set(profile("bad", "2", daily(2, 30, sthlm)), profile("good", "1", every(5)))
	h.advance(time.Minute)
	if _, ok := h.job("integrationProfiles/bad"); !ok {
		t.Fatal("fixed profile is not a job")
	}
}

func TestRequestIDDeterministic(t *testing.T) {
	due := time.Date(2026, 3, 29, 3, 30, 0, 0, mustLoc(t, sthlm))
	if got := RequestID("kb", due); got != "schedule/kb/2026-03-29T01:30:00Z" {
		t.Fatalf("RequestID %q", got)
	}
	if RequestID("kb", due) != RequestID("kb", due.UTC()) {
		t.Fatal("the same instant in two zones gives two ids")
	}
	if n := len(RequestID(strings.Repeat("x", 63), due)); n > 128 {
		t.Fatalf("id of the longest code is %d characters; StartRun allows 128", n)
	}

	// Two schedulers (or one restarted) firing the same occurrence ask for the same run.
	clk := NewFakeClock(utc(t, "2026-03-28T12:00:00Z"))
	prof := &fakeProfiles{}
	prof.set(profile("kb", "1", daily(2, 30, sthlm)))
	st := newStarter(clk)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		s := New(Config{Profiles: prof, Starter: st, Clock: clk, Poll: time.Hour})
		wg.Go(func() { _ = s.Run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	for clk.Now().Before(utc(t, "2026-03-29T12:00:00Z")) {
		if err := clk.BlockUntilContext(wctx, 2); err != nil {
			t.Fatal(err)
		}
		d, _ := clk.NextDeadline()
		clk.Set(d)
	}
	if err := clk.BlockUntilContext(wctx, 2); err != nil {
		t.Fatal(err)
	}
	calls := st.snapshot()
	if len(calls) != 2 || calls[0].requestID != "schedule/kb/2026-03-29T01:30:00Z" || calls[1].requestID != calls[0].requestID {
		t.Fatalf("starts %+v, want two with the same id", calls)
	}
	if st.distinctRuns() != 1 {
		t.Fatalf("%d runs, want 1", st.distinctRuns())
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestToScheduledJob(t *testing.T) {
	h := newHarness(t, utc(t, "2026-11-25T12:00:00Z"), 0,
		profile("kb", "1", weekly(typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 6, 0, sthlm)),
		profile("summer", "1", daily(2, 30, sthlm)),
		profile("utc", "1", daily(6, 0, "")),
		profile("manual", "1", none("")),
		profile("poll", "1", every(5)))

	got := ToScheduledJob(h.mustJob("integrationProfiles/kb"), "runs/42")
	want := &harvesterv1.ScheduledJob{
		Profile:          "integrationProfiles/kb",
		DisplayName:      "Import Resource Sharing Requests using profile Libris kb",
		Schedule:         "Weekly on Monday at 06:00 (Europe/Stockholm)",
		LastRun:          "runs/42",
		System:           typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		TimeZone:         sthlm,
		NextRunLocalTime: "2026-11-30T06:00:00+01:00",
	}
	if got.GetNextRunTime().AsTime() != utc(t, "2026-11-30T05:00:00Z") {
		t.Fatalf("next_run_time %v", got.GetNextRunTime().AsTime())
	}
	got.NextRunTime = nil
	if got.String() != want.String() {
		t.Fatalf("got  %v\nwant %v", got, want)
	}

	for _, tc := range []struct{ profile, local, zone, sched string }{
		{"summer", "2026-11-26T02:30:00+01:00", sthlm, "Daily at 02:30 (Europe/Stockholm)"},
		{"utc", "2026-11-26T06:00:00+00:00", "UTC", "Daily at 06:00 (UTC)"},
		{"manual", "", "UTC", "Not scheduled"},
		{"poll", "2026-11-25T12:05:00+00:00", "UTC", "Every 5 minutes"},
	} {
		sj := ToScheduledJob(h.mustJob("integrationProfiles/"+tc.profile), "")
		if sj.GetNextRunLocalTime() != tc.local || sj.GetTimeZone() != tc.zone || sj.GetSchedule() != tc.sched {
			t.Errorf("%s: local %q zone %q schedule %q, want %q %q %q", tc.profile,
				sj.GetNextRunLocalTime(), sj.GetTimeZone(), sj.GetSchedule(), tc.local, tc.zone, tc.sched)
		}
		if (sj.GetNextRunTime() == nil) != (tc.local == "") {
			t.Errorf("%s: next_run_time %v with local %q", tc.profile, sj.GetNextRunTime(), tc.local)
		}
	}

	// Summer time shows +02:00.
	j := h.mustJob("integrationProfiles/summer")
	j.Next = utc(t, "2026-06-02T00:30:00Z")
	if got := ToScheduledJob(j, "").GetNextRunLocalTime(); got != "2026-06-02T02:30:00+02:00" {
		t.Fatalf("summer local time %q", got)
	}
}

func TestRunReturnsWhenCancelled(t *testing.T) {
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), 0, profile("kb", "1", every(5)))
	h.shutdown() // fails the test if Run does not return nil promptly
	if n := h.clk.Pending(); n != 0 {
		t.Fatalf("%d timers left pending after Run returned", n)
	}
}

func TestRunMisconfigured(t *testing.T) {
	if err := New(Config{Profiles: &fakeProfiles{}}).Run(context.Background()); err == nil {
		t.Fatal("Run without a Starter returned nil")
	}
	if err := New(Config{Starter: newStarter(RealClock())}).Run(context.Background()); err == nil {
		t.Fatal("Run without Profiles returned nil")
	}
}

func TestRunTwiceRefused(t *testing.T) {
	h := newHarness(t, utc(t, "2026-01-01T00:00:00Z"), 0)
	if err := h.s.Run(context.Background()); err == nil {
		t.Fatal("a second concurrent Run returned nil")
	}
}

// A start in flight when Run is cancelled is not recorded as a skipped occurrence.
func TestCancelDuringStart(t *testing.T) {
	clk := NewFakeClock(utc(t, "2026-01-01T00:00:00Z"))
	prof := &fakeProfiles{}
	prof.set(profile("kb", "1", every(5)))
	entered := make(chan struct{})
	st := starterFunc(func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	s := New(Config{Profiles: prof, Starter: st, Clock: clk, Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	clk.BlockUntil(1)
	clk.Advance(5 * time.Minute)
	<-entered
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if j := s.Jobs()[0]; j.LastErr != "" {
		t.Fatalf("LastErr %q after shutdown", j.LastErr)
	}
}

type starterFunc func(ctx context.Context) error

func (f starterFunc) Start(ctx context.Context, _ string, _ harvesterv1.Trigger, _, _ string) (*harvesterv1.Run, error) {
	return nil, f(ctx)
}

func TestJobCode(t *testing.T) {
	for _, p := range []*profilesv1.IntegrationProfile{
		{Name: "integrationProfiles/NP", Code: "NP"},
		{Name: "integrationProfiles/NP"}, // a profile listed without its code
	} {
		if got := (Job{Profile: p}).Code(); got != "NP" {
			t.Fatalf("Code of %v = %q, want NP", p, got)
		}
	}
}
