package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/logging/logtest"
)

const sthlm = "Europe/Stockholm"

func tod(h, m int32) *typev1.TimeOfDay { return &typev1.TimeOfDay{Hours: h, Minutes: m} }

func daily(h, m int32, tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: tod(h, m)}}}
}

func weekly(d typev1.DayOfWeek, h, m int32, tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: d, Time: tod(h, m)}}}
}

func every(n int32) *profilesv1.Schedule {
	return &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: n}}}
}

func none(tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_None{None: &profilesv1.NoSchedule{}}}
}

// profile is an active, runnable Libris profile.
func profile(code, etag string, s *profilesv1.Schedule) *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{
		Name:        "integrationProfiles/" + code,
		Code:        code,
		DisplayName: "Libris " + code,
		System:      typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		Active:      true,
		Readiness:   &profilesv1.Readiness{Runnable: true},
		Schedule:    s,
		Etag:        etag,
	}
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fakeProfiles serves ListIntegrationProfiles from a settable list, in pages of two
// whatever the page size asked, so every test exercises paging.
type fakeProfiles struct {
	profilesv1.ProfileServiceClient // other methods are not called: nil, would fail loudly

	mu        sync.Mutex
	profiles  []*profilesv1.IntegrationProfile
	err       error
	calls     int
	pageSizes []int32
}

func (f *fakeProfiles) set(ps ...*profilesv1.IntegrationProfile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles = ps
}

func (f *fakeProfiles) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeProfiles) ListIntegrationProfiles(_ context.Context, req *profilesv1.ListIntegrationProfilesRequest, _ ...grpc.CallOption) (*profilesv1.ListIntegrationProfilesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.pageSizes = append(f.pageSizes, req.GetPageSize())
	if f.err != nil {
		return nil, f.err
	}
	var match []*profilesv1.IntegrationProfile
	for _, p := range f.profiles {
		if !req.GetActiveOnly() || p.GetActive() {
			match = append(match, p)
		}
	}
	slices.SortFunc(match, func(a, b *profilesv1.IntegrationProfile) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	start := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil {
			return nil, fmt.Errorf("bad token %q", tok)
		}
		start = n
	}
	start = min(start, len(match))
	end := min(start+2, len(match))
	resp := &profilesv1.ListIntegrationProfilesResponse{IntegrationProfiles: match[start:end]}
	if end < len(match) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

// call is one Start as the starter saw it.
type call struct {
	at          time.Time // the clock when Start was called
	profile     string
	trigger     harvesterv1.Trigger
	submittedBy string
	requestID   string
}

// recStarter records starts and, like the runner, gives the same run back for a request id
// it has seen. refuse, when set, may fail a start.
type recStarter struct {
	clock Clock

	mu     sync.Mutex
	calls  []call
	runs   map[string]string // request id → run name
	refuse func(call) error
}

func newStarter(c Clock) *recStarter { return &recStarter{clock: c, runs: map[string]string{}} }

func (r *recStarter) Start(_ context.Context, profile string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := call{at: r.clock.Now(), profile: profile, trigger: trigger, submittedBy: submittedBy, requestID: requestID}
	r.calls = append(r.calls, c)
	if r.refuse != nil {
		if err := r.refuse(c); err != nil {
			return nil, err
		}
	}
	name, ok := r.runs[requestID]
	if !ok {
		name = fmt.Sprintf("runs/%d", len(r.runs)+1)
		r.runs[requestID] = name
	}
	return &harvesterv1.Run{Name: name, Profile: profile}, nil
}

func (r *recStarter) setRefuse(f func(call) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse = f
}

func (r *recStarter) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recStarter) distinctRuns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

// harness runs one scheduler on a fake clock until the test ends.
type harness struct {
	t     *testing.T
	clk   *FakeClock
	prof  *fakeProfiles
	st    *recStarter
	s     *Scheduler
	logs  *logtest.Buffer
	stop  context.CancelFunc
	done  chan error
	parks int // timers pending when every scheduler on clk is parked
}

func newHarness(t *testing.T, at time.Time, poll time.Duration, ps ...*profilesv1.IntegrationProfile) *harness {
	t.Helper()
	clk := NewFakeClock(at)
	prof := &fakeProfiles{}
	prof.set(ps...)
	h := &harness{t: t, clk: clk, prof: prof, st: newStarter(clk), logs: &logtest.Buffer{}, parks: 1}
	h.s = New(Config{
		Profiles: prof, Starter: h.st, Clock: clk, Poll: poll,
		Log: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	h.run()
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.s.Run(ctx) }()
	h.t.Cleanup(func() { h.shutdown() })
	h.park()
}

// shutdown cancels Run and waits for it (a real bound only so a bug fails, not hangs).
func (h *harness) shutdown() {
	h.t.Helper()
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v, want nil", err)
		}
		h.done <- nil // later shutdowns (Cleanup) return at once
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after its context was cancelled")
	}
}

// park waits until the scheduler is blocked on its timer: all work due so far is done.
func (h *harness) park() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.clk.BlockUntilContext(ctx, h.parks); err != nil {
		h.t.Fatalf("scheduler never parked on a timer: %v", err)
	}
}

// advanceTo moves the clock to target stopping at every timer deadline on the way, so each
// wake-up happens at its exact instant, as with a real clock.
func (h *harness) advanceTo(target time.Time) {
	h.t.Helper()
	for {
		h.park()
		d, ok := h.clk.NextDeadline()
		if !ok || d.After(target) {
			h.clk.Set(target)
			h.park()
			return
		}
		h.clk.Set(d)
	}
}

func (h *harness) advance(d time.Duration) { h.t.Helper(); h.advanceTo(h.clk.Now().Add(d)) }

// jump moves the clock by d in one step, as a stalled process sees it.
func (h *harness) jump(d time.Duration) {
	h.t.Helper()
	h.park()
	h.clk.Advance(d)
	h.park()
}

func (h *harness) job(name string) (Job, bool) {
	for _, j := range h.s.Jobs() {
		if j.Profile.GetName() == name {
			return j, true
		}
	}
	return Job{}, false
}

func (h *harness) mustJob(name string) Job {
	h.t.Helper()
	j, ok := h.job(name)
	if !ok {
		h.t.Fatalf("no job for %s; jobs: %v", name, jobNames(h.s.Jobs()))
	}
	return j
}

func jobNames(js []Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Profile.GetName()
	}
	return out
}

func startTimes(cs []call) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.at.UTC().Format(time.RFC3339)
	}
	return out
}

var errDown = errors.New("profiles: connection refused")
