// Package run executes import runs: the pre-checks, the streamed fetch of the harvest
// window from the profile's connector in day chunks, validation and batch resolution
// through mapping, ingest into the ledger, the retry set, the refresh of open requests
// outside the window, one event per external request, and the final state. It talks to
// the other services only through their gRPC clients, so it behaves the same in one
// process and in a cluster.
package run

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// ProfilesCollection is the collection of integration profile names.
var ProfilesCollection = resource.Collection((*profilesv1.IntegrationProfile)(nil))

const resolveMax = 1000 // mapping's limit per resolve call

// SubmittedBySystem is who the job history names for scheduled runs (as Alma does).
const SubmittedBySystem = "System"

// Connect builds the connector for a profile with its decrypted credential. The runner
// builds one per run, so a connector's bound on the bytes it reads is a bound per run.
type Connect func(p *profilesv1.IntegrationProfile, apiKey string) (connector.Connector, error)

// Deps are the runner's collaborators and knobs; every client is a real gRPC client in
// production. Zero knobs take the defaults below.
type Deps struct {
	Store       *store.Store
	Profiles    profilesv1.ProfileServiceClient
	Credentials profilesv1.ProfileCredentialsServiceClient
	Mapping     mappingv1.MappingServiceClient
	Ingest      requestsv1.IngestServiceClient
	Requests    requestsv1.RequestServiceClient // open requests to refresh
	Connect     Connect
	Probe       Probe // TestConnection
	Log         *slog.Logger
	Now         func() time.Time
	// Sleep waits between refresh fetches; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Ended, when set, is told of each run this runner executed once its final state is
	// stored (the import health metrics).
	Ended func(profileCode string, run *harvesterv1.Run)

	BatchSize       int           // items per ingest batch (and per resolve call); default 1000, the most either takes
	ChunkDays       int           // days per fetch of the window, the unit of progress; default 7
	OverlapDays     int           // days re-read before the cursor (Libris windows are by order date); default 2
	MaxRetryFetches int           // retry-set entries fetched one by one per run; default 1000
	RefreshLimit    int           // open ledger requests outside the window re-read per run; default 200, <0 disables
	RefreshDelay    time.Duration // pause between single fetches (retry set and refresh); default 200ms, <0 none
	ParkAfter       int           // runs in a row a request may fail before it is parked; default 5, <0 never
	CallTimeout     time.Duration // per unary call to profiles, mapping, requests; default 30s
	BatchTimeout    time.Duration // per ingest batch round trip; default 2m

	// The run's own bounds (docs/robustness.md#bounds-of-a-run); Connect holds each
	// connector to the rest (connector.Limits). Reaching one ends the run FAILED with
	// RUN_LIMIT_EXCEEDED and leaves the cursor; zero or negative takes the default.
	MaxChunkItems int           // requests a connector may hand over for one window chunk, repeats included; default 100 000
	MaxRunItems   int           // distinct requests one run may handle (each an event); default 200 000
	RunTimeout    time.Duration // how long one run may take from its start; default 1h
}

// Defaults of the run's bounds: far above a real library's runs (the busiest order
// hundreds of requests a week), far below what a hostile server makes of a run that has
// none (docs/robustness.md#bounds-of-a-run).
const (
	DefaultMaxChunkItems = 100_000
	DefaultMaxRunItems   = 200_000
	DefaultRunTimeout    = time.Hour
)

func (d *Deps) defaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Sleep == nil {
		d.Sleep = connector.Sleep
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.BatchSize <= 0 || d.BatchSize > resolveMax {
		// The largest batch the ledger and mapping take: a ledger commit writes every
		// index page its batch touched, and on a large ledger the batch's entries rarely
		// share pages, so twice the items per commit costs far less than twice the
		// writes (100 000 imports into a ledger of 1 000 000: 48 s in batches of 1000,
		// 68 s in batches of 500; docs/performance.md).
		d.BatchSize = resolveMax
	}
	if d.ChunkDays <= 0 {
		d.ChunkDays = 7
	}
	if d.OverlapDays <= 0 {
		d.OverlapDays = 2
	}
	if d.MaxRetryFetches <= 0 {
		d.MaxRetryFetches = 1000
	}
	if d.RefreshLimit == 0 {
		d.RefreshLimit = 200
	}
	if d.RefreshDelay == 0 {
		d.RefreshDelay = 200 * time.Millisecond
	}
	if d.ParkAfter == 0 {
		d.ParkAfter = 5
	}
	if d.CallTimeout <= 0 {
		d.CallTimeout = 30 * time.Second
	}
	if d.BatchTimeout <= 0 {
		d.BatchTimeout = 2 * time.Minute
	}
	if d.MaxChunkItems <= 0 {
		d.MaxChunkItems = DefaultMaxChunkItems
	}
	if d.MaxRunItems <= 0 {
		d.MaxRunItems = DefaultMaxRunItems
	}
	if d.RunTimeout <= 0 {
		d.RunTimeout = DefaultRunTimeout
	}
}

// activeRun is a run executing in this process.
type activeRun struct {
	id     uint64
	name   string
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// cancelledBy is the cause a CancelRun gives the run's context.
type cancelledBy struct{ who string }

func (c *cancelledBy) Error() string { return "cancelled by " + c.who }

// Runner starts runs and executes them in the background until its context ends.
type Runner struct {
	d      Deps
	ctx    context.Context // the runner's lifetime: runs stop (ABORTED) when it ends
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[string]*activeRun    // profile code → its active run: one run per profile
	change map[uint64]chan struct{} // run id → closed at its next change (WatchRun)
}

// New returns a runner whose runs live until ctx ends. Call Wait after ctx ends so
// every run has recorded its final state before the store closes.
func New(ctx context.Context, d Deps) *Runner {
	d.defaults()
	return &Runner{d: d, ctx: ctx, active: map[string]*activeRun{}, change: map[uint64]chan struct{}{}}
}

// Wait blocks until every started run has finished.
func (r *Runner) Wait() { r.wg.Wait() }

const interruptedText = "the harvester stopped before this run ended; the next run imports the same window again"

// Recover marks runs a crash left PENDING or RUNNING as ABORTED with an alert, so the job
// history never shows a run as running forever; their window was not acknowledged, so
// the next run covers it again. Call it before starting any run.
func (r *Runner) Recover() error {
	runs, err := r.d.Store.Active()
	if err != nil {
		return err
	}
	for _, run := range runs {
		id, err := ParseRunName(run.GetName())
		if err != nil {
			return err
		}
		now := r.d.Now()
		_, err = r.d.Store.UpdateRun(id, func(x *harvesterv1.Run) error {
			x.State = harvesterv1.RunState_RUN_STATE_ABORTED
			x.EndTime = timestamppb.New(now)
			x.Alerts = append(x.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED, interruptedText))
			return nil
		})
		if err != nil {
			return err
		}
		r.d.Log.Warn("run left by a crash marked ABORTED", "run", run.GetName(), "profile", run.GetProfile())
	}
	return nil
}

// Start creates a run of the profile and executes it in the background. It answers at
// once with the PENDING run; GetRun and WatchRun follow it. A repeated requestID
// returns the run that request started.
func (r *Runner) Start(ctx context.Context, profileName string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error) {
	code, err := resource.ParseName("profile", profileName, ProfilesCollection)
	if err != nil {
		return nil, err
	}
	var v apierr.Violations
	validate.RequestID(&v, "request_id", requestID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if requestID != "" {
		// A retried StartRun gets its run back, even while that run is still active.
		run, ok, err := r.d.Store.RunByRequest(requestID)
		if err != nil {
			return nil, err
		}
		if ok && run.GetProfile() != profileName {
			return nil, &RequestReusedError{Run: run.GetName(), Profile: run.GetProfile()}
		}
		if ok {
			return run, nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, r.d.CallTimeout)
	p, err := r.d.Profiles.GetIntegrationProfile(cctx, &profilesv1.GetIntegrationProfileRequest{Name: profileName})
	cancel()
	if err != nil {
		return nil, &ProfileError{Profile: profileName, Err: err}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if running, ok := r.active[code]; ok && !r.recorded(running) {
		return nil, &InProgressError{Profile: profileName, Run: running.name}
	}
	run, created, err := r.d.Store.CreateRun(code, requestID, func(id uint64) *harvesterv1.Run {
		return newRun(id, p, trigger, submittedBy, r.d.Now())
	})
	if err != nil || !created {
		return run, err
	}
	id, _ := ParseRunName(run.GetName())
	runCtx, cancelRun := context.WithCancelCause(r.ctx)
	runCtx, span := startRunSpan(runCtx, ctx, run.GetName(), code)
	a := &activeRun{id: id, name: run.GetName(), cancel: cancelRun, done: make(chan struct{})}
	r.active[code] = a
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(a.done)
		defer span.End()
		defer cancelRun(nil)
		defer func() {
			r.mu.Lock()
			if r.active[code] == a { // a next run may have taken its place (recorded)
				delete(r.active, code)
			}
			r.mu.Unlock()
		}()
		r.execute(runCtx, id, code)
	}()
	return run, nil
}

// ActiveProfiles returns the codes of the profiles with a run executing in this process.
func (r *Runner) ActiveProfiles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.active))
	for code := range r.active {
		out = append(out, code)
	}
	return out
}

// recorded reports whether an active run has already recorded its final state: its
// goroutine is only wrapping up, and a caller who watched it end may start the next run.
func (r *Runner) recorded(a *activeRun) bool {
	run, err := r.d.Store.GetRun(a.id)
	return err == nil && Ended(run)
}

// Cancel aborts an active run and waits (while ctx allows) until it has recorded its
// final state: ABORTED, cursor unchanged, what the ledger acknowledged stays. An unknown
// run is store.ErrNotFound.
func (r *Runner) Cancel(ctx context.Context, name, by string) (*harvesterv1.Run, error) {
	id, err := ParseRunName(name)
	if err != nil {
		return nil, err
	}
	run, err := r.d.Store.GetRun(id)
	if err != nil {
		return nil, err
	}
	code, _ := resource.ParseName("profile", run.GetProfile(), ProfilesCollection)
	r.mu.Lock()
	a, ok := r.active[code]
	r.mu.Unlock()
	if !ok || a.name != name {
		return nil, &NotActiveError{Run: name, State: run.GetState()}
	}
	a.cancel(&cancelledBy{who: by})
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.d.Store.GetRun(id)
}

// Watch sends the run now and after every change until it ends or ctx ends. An unknown
// run is store.ErrNotFound.
func (r *Runner) Watch(ctx context.Context, name string, send func(*harvesterv1.Run) error) error {
	id, err := ParseRunName(name)
	if err != nil {
		return err
	}
	for {
		changed := r.changed(id) // before reading, so no change between read and wait is missed
		run, err := r.d.Store.GetRun(id)
		if err != nil || Ended(run) {
			// No change will come to close the channel just made: drop it, or each watch
			// of an ended or unknown run would leave an entry behind. Other watchers of
			// the run wake, read it again, and end too.
			r.notify(id)
		}
		if err != nil {
			return err
		}
		if err := send(run); err != nil {
			return err
		}
		if Ended(run) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ctx.Done():
			// The harvester is stopping: its run ends (ABORTED) in a moment; report that.
			r.wg.Wait()
		}
	}
}

// Ended reports whether a run has reached a final state.
func Ended(run *harvesterv1.Run) bool {
	s := run.GetState()
	return s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING
}

func (r *Runner) changed(id uint64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, ok := r.change[id]
	if !ok {
		ch = make(chan struct{})
		r.change[id] = ch
	}
	return ch
}

// notify wakes the watchers of run id.
func (r *Runner) notify(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.change[id]; ok {
		close(ch)
		delete(r.change, id)
	}
}

func newRun(id uint64, p *profilesv1.IntegrationProfile, trigger harvesterv1.Trigger, by string, now time.Time) *harvesterv1.Run {
	return &harvesterv1.Run{
		Name:        store.RunName(id),
		Profile:     p.GetName(),
		DisplayName: JobName(p),
		Trigger:     trigger,
		SubmittedBy: by,
		State:       harvesterv1.RunState_RUN_STATE_PENDING,
		Progress:    &harvesterv1.Progress{Phase: "pending"},
		Counters:    &harvesterv1.RunCounters{},
		SubmitTime:  timestamppb.New(now),
	}
}

// JobName is a profile's import job name in Alma's wording (the code when the profile
// has no display name).
func JobName(p *profilesv1.IntegrationProfile) string {
	n := p.GetDisplayName()
	if n == "" {
		n = p.GetCode()
	}
	return "Import Resource Sharing Requests using profile " + n
}

// ParseRunName returns the id in `runs/{id}`.
func ParseRunName(name string) (uint64, error) {
	s, err := resource.ParseName("name", name, "runs")
	if err != nil {
		return 0, err
	}
	var id uint64
	if _, err := fmt.Sscan(s, &id); err != nil || fmt.Sprint(id) != s || id == 0 {
		return 0, apierr.Invalid("name", "must have the form runs/{id} with a positive number")
	}
	return id, nil
}

func alert(now time.Time, code harvesterv1.AlertCode, format string, args ...any) *harvesterv1.Alert {
	return &harvesterv1.Alert{Code: code, Message: fmt.Sprintf(format, args...), Time: timestamppb.New(now)}
}

// failure ends a run as FAILED with one alert.
type failure struct {
	code harvesterv1.AlertCode
	msg  string
}

func (f *failure) Error() string { return f.msg }

func fail(code harvesterv1.AlertCode, format string, args ...any) *failure {
	return &failure{code: code, msg: fmt.Sprintf(format, args...)}
}

// fingerprint identifies the source a cursor was harvested from; when it changes (another
// system, URL, library code or harvest start) the cursor no longer applies. The store
// compares fingerprints without their empty fields, so cursors recorded when each
// system had a base-URL field of its own still match.
func fingerprint(p *profilesv1.IntegrationProfile) string {
	d := p.GetHarvestStart().GetDate()
	set := external.Settings(p)
	return strings.Join([]string{p.GetSystem().String(), set.BaseURL, set.LibraryCode,
		fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())}, "|")
}
