// Package scheduler starts each active, runnable integration profile's import job when its
// schedule makes it due — Alma's "Import Resource Sharing Requests using profile <name>"
// job. The due instants (daily and weekly in the profile's zone with explicit DST rules,
// every N minutes on an epoch grid) come from package schedule; this package keeps the set
// of jobs current and fires them.
//
// # Keeping jobs current
//
// Every Poll (default 5s) the scheduler lists the active profiles (every page, 1000 a
// page). A job is every profile that is active and runnable (readiness.runnable),
// including profiles not scheduled, which are listed with no next time and never started
// (ListScheduledJobs shows every runnable active profile). A profile saved,
// activated, deactivated or deleted therefore takes effect within one poll, without a
// restart. Schedules are parsed once per profile etag. A new profile, or one whose schedule
// changed, gets its next time counted from now; an edit that leaves the schedule alone
// (say the display name) keeps the next time, so it cannot make a due occurrence slip.
// When listing fails (profiles is down) the last known jobs are kept and keep firing;
// listing is retried at the next poll.
//
// # Firing
//
// A due job is started with Starter.Start(profile, TRIGGER_SCHEDULED, "System", requestID)
// where requestID is RequestID(code, due): "schedule/<code>/<due instant, RFC 3339 UTC>".
// The same occurrence always gives the same id, so a second scheduler, or a restart
// firing it again, gets the same run back instead of a second run. A start that fails (a
// run already in progress, the profile gone, the harvester store failing) is logged and
// kept as Job.LastErr; the occurrence is skipped, never retried in a loop, and the next
// occurrence fires as usual.
//
// Occurrences are never replayed. The next time is always the first occurrence strictly
// after now, so an occurrence fires at most once. At startup, occurrences that fell during
// downtime are not run: the next time is counted from now. If the scheduler itself falls
// behind (a stalled process, slow starts) and several occurrences have passed, it starts
// one run, for the latest of them, and moves on. Nothing is lost by this: each run
// harvests from the profile's stored cursor (minus the overlap) to today, so the next run
// covers the gap.
//
// The scheduler waits on a single timer, until the earliest next time or the next poll,
// whichever is first; a wall clock stepped by NTP is corrected at the latest by the poll.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/telemetry"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/schedule"
)

const (
	defaultPoll        = 5 * time.Second
	defaultCallTimeout = 30 * time.Second
	listPageSize       = 1000
	maxListPages       = 10000 // guards against a server whose page token never ends
	// Catching up more occurrences than this after a stall stops at a real, if not the
	// latest, passed occurrence; it only bounds the work (a week of 1-minute runs).
	maxCatchUp = 10080
)

// Starter starts a run; *run.Runner satisfies it. Tests give a recording fake.
type Starter interface {
	Start(ctx context.Context, profile string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error)
}

// Config holds the scheduler's collaborators and settings.
type Config struct {
	Profiles profilesv1.ProfileServiceClient
	Starter  Starter
	Clock    Clock         // default RealClock
	Log      *slog.Logger  // default discards
	Poll     time.Duration // how often profiles are re-listed; default 5s
	// CallTimeout bounds each profiles listing page and each start, so a hung service
	// cannot stall every other job; default 30s (real time, also under a FakeClock).
	CallTimeout time.Duration
}

// Job is one profile's import job as last seen.
type Job struct {
	Profile *profilesv1.IntegrationProfile
	Spec    schedule.Spec
	Next    time.Time // zero when not scheduled
	LastErr string    // why the last due start did not start, if it did not
}

// DisplayName is the job name, "Import Resource Sharing Requests using profile <display_name>"
// (the code when the profile has no display name).
func (j Job) DisplayName() string {
	return run.JobName(j.Profile)
}

// Code is the job's profile code (from its name when the profile carries none).
func (j Job) Code() string { return profileCode(j.Profile) }

// localLayout is RFC 3339 with a numeric offset always, so UTC reads "+00:00" like any
// other zone rather than "Z".
const localLayout = "2006-01-02T15:04:05-07:00"

// ToScheduledJob is the API form of j; lastRun is the profile's most recent run name, if any.
func ToScheduledJob(j Job, lastRun string) *harvesterv1.ScheduledJob {
	loc := j.Spec.Location()
	sj := &harvesterv1.ScheduledJob{
		Profile:     j.Profile.GetName(),
		DisplayName: j.DisplayName(),
		Schedule:    j.Spec.Describe(),
		LastRun:     lastRun,
		System:      j.Profile.GetSystem(),
		TimeZone:    loc.String(),
	}
	if !j.Next.IsZero() {
		sj.NextRunTime = timestamppb.New(j.Next.UTC())
		sj.NextRunLocalTime = j.Next.In(loc).Format(localLayout)
	}
	return sj
}

// RequestID is the StartRun request id of a profile's occurrence due at `due`. It depends
// only on the two, so whoever fires the occurrence gets the same run.
func RequestID(code string, due time.Time) string {
	return "schedule/" + code + "/" + due.UTC().Format(time.RFC3339)
}

// job is the scheduler's state for one profile. The Run goroutine is its only writer and
// writes under Scheduler.mu; Jobs reads under it.
type job struct {
	profile *profilesv1.IntegrationProfile
	spec    schedule.Spec
	next    time.Time
	lastErr string
}

// Scheduler starts profiles' import jobs when due. Create it with New and call Run.
type Scheduler struct {
	profiles    profilesv1.ProfileServiceClient
	starter     Starter
	clock       Clock
	log         *slog.Logger
	poll        time.Duration
	callTimeout time.Duration

	mu      sync.Mutex
	jobs    map[string]*job // by profile name
	running bool

	// Only the Run goroutine touches these.
	badEtag     map[string]string // profile name → etag whose schedule did not parse (warned once)
	listFailing bool              // the last listing failed: log recovery, and failures once
}

// New returns a scheduler; zero Config fields take their defaults.
func New(cfg Config) *Scheduler {
	s := &Scheduler{
		profiles:    cfg.Profiles,
		starter:     cfg.Starter,
		clock:       cfg.Clock,
		log:         cfg.Log,
		poll:        cfg.Poll,
		callTimeout: cfg.CallTimeout,
		jobs:        map[string]*job{},
		badEtag:     map[string]string{},
	}
	if s.clock == nil {
		s.clock = RealClock()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = defaultPoll
	}
	if s.callTimeout <= 0 {
		s.callTimeout = defaultCallTimeout
	}
	return s
}

// Jobs is a snapshot of the current jobs, sorted by profile name. Safe to call while Run works.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j.snapshot())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.Profile.GetName(), b.Profile.GetName()) })
	return out
}

// snapshot copies j; the profile is cloned so callers cannot race with the scheduler.
func (j *job) snapshot() Job {
	return Job{
		Profile: proto.CloneOf(j.profile),
		Spec:    j.spec,
		Next:    j.next,
		LastErr: j.lastErr,
	}
}

// Run keeps the jobs current and starts them when due until ctx ends, then returns nil.
// It returns an error at once when Profiles or Starter is missing or Run is already running.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.profiles == nil || s.starter == nil {
		return errors.New("scheduler: Config.Profiles and Config.Starter are required")
	}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("scheduler: already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	var nextPoll time.Time // zero: list at once
	for {
		if ctx.Err() != nil {
			return nil
		}
		if now := s.clock.Now(); !now.Before(nextPoll) {
			s.refresh(ctx, now)
			nextPoll = now.Add(s.poll)
		}
		s.fireDue(ctx, s.clock.Now())
		if ctx.Err() != nil {
			return nil
		}

		wake := nextPoll
		if e := s.earliest(); !e.IsZero() && e.Before(wake) {
			wake = e
		}
		t := s.clock.NewTimer(wake.Sub(s.clock.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// earliest is the soonest next time of any job, zero when none is scheduled.
func (s *Scheduler) earliest() time.Time {
	var e time.Time
	for _, j := range s.jobs { // the Run goroutine is the only writer: no lock to read
		if !j.next.IsZero() && (e.IsZero() || j.next.Before(e)) {
			e = j.next
		}
	}
	return e
}

// refresh re-lists the profiles and replaces the jobs; on failure the jobs stay as they are.
func (s *Scheduler) refresh(ctx context.Context, now time.Time) {
	profiles, err := s.list(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// Once per outage at Warn: profiles being down for an hour should not be 720 warnings.
		level := slog.LevelWarn
		if s.listFailing {
			level = slog.LevelDebug
		}
		s.listFailing = true
		s.log.Log(ctx, level, "scheduler: listing profiles failed; keeping the last known jobs and retrying at the next poll",
			"error", err, "jobs", len(s.jobs), "poll", s.poll)
		return
	}
	if s.listFailing {
		s.listFailing = false
		s.log.Info("scheduler: listing profiles works again", "profiles", len(profiles))
	}

	jobs := make(map[string]*job, len(profiles))
	for _, p := range profiles {
		name := p.GetName()
		if name == "" && p.GetCode() != "" {
			name = resource.Name(run.ProfilesCollection, p.GetCode())
		}
		if name == "" || !p.GetActive() || !p.GetReadiness().GetRunnable() {
			continue
		}
		if _, dup := jobs[name]; dup {
			continue // a page boundary that moved under concurrent creates; first wins
		}
		old := s.jobs[name]
		if old != nil && p.GetEtag() != "" && p.GetEtag() == old.profile.GetEtag() {
			jobs[name] = old
			continue
		}
		if bad, ok := s.badEtag[name]; ok && bad == p.GetEtag() && p.GetEtag() != "" {
			continue // already warned about this version
		}
		spec, err := schedule.Parse(p.GetSchedule())
		if err != nil {
			// The profiles service validates schedules, so this is defensive: skip the
			// profile (it is not a job) rather than guess.
			s.badEtag[name] = p.GetEtag()
			s.log.Warn("scheduler: profile skipped, its schedule does not parse", "profile", name, "etag", p.GetEtag(), "error", err)
			continue
		}
		delete(s.badEtag, name)
		j := &job{profile: p, spec: spec}
		switch {
		case old != nil && proto.Equal(old.profile.GetSchedule(), p.GetSchedule()):
			// Same schedule: keep the next time, so an edit at a due instant skips nothing.
			j.next, j.lastErr = old.next, old.lastErr
		default:
			if n, ok := spec.Next(now); ok {
				j.next = n
			}
			if old != nil {
				j.lastErr = old.lastErr
			}
			s.log.Info("scheduler: job scheduled", "profile", name, "schedule", spec.Describe(), "next", fmtNext(j.next))
		}
		jobs[name] = j
	}
	for name := range s.jobs {
		if _, ok := jobs[name]; !ok {
			s.log.Info("scheduler: job removed (profile deleted, inactive or not runnable)", "profile", name)
		}
	}
	for name := range s.badEtag {
		if _, ok := jobs[name]; ok || !listed(profiles, name) {
			delete(s.badEtag, name)
		}
	}

	s.mu.Lock()
	s.jobs = jobs
	s.mu.Unlock()
}

func listed(profiles []*profilesv1.IntegrationProfile, name string) bool {
	return slices.ContainsFunc(profiles, func(p *profilesv1.IntegrationProfile) bool { return p.GetName() == name })
}

// list reads every page of active profiles; any failing page fails the whole listing, so a
// partial list never removes jobs. The listing is routine (telemetry.Untraced): no spans,
// and profiles logs it at debug, so an idle suite is quiet at info. Runs are traced as usual.
func (s *Scheduler) list(ctx context.Context) ([]*profilesv1.IntegrationProfile, error) {
	ctx = telemetry.Untraced(ctx)
	var all []*profilesv1.IntegrationProfile
	token := ""
	for range maxListPages {
		cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
		resp, err := s.profiles.ListIntegrationProfiles(cctx, &profilesv1.ListIntegrationProfilesRequest{
			PageSize:   listPageSize,
			PageToken:  token,
			ActiveOnly: true, // inactive profiles are never jobs; Active is still checked
		})
		cancel()
		if err != nil {
			return nil, err
		}
		all = append(all, resp.GetIntegrationProfiles()...)
		next := resp.GetNextPageToken()
		if next == "" {
			return all, nil
		}
		if next == token {
			return nil, fmt.Errorf("profiles listing repeated page token %q", next)
		}
		token = next
	}
	return nil, fmt.Errorf("profiles listing did not end after %d pages", maxListPages)
}

// fireDue starts every job due at now, in profile-name order, and schedules each one's
// next occurrence strictly after now.
func (s *Scheduler) fireDue(ctx context.Context, now time.Time) {
	names := make([]string, 0, len(s.jobs))
	for name, j := range s.jobs {
		if !j.next.IsZero() && !j.next.After(now) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if ctx.Err() != nil {
			return // shutting down: leave the occurrence for whoever runs next
		}
		j := s.jobs[name]
		due := latestDue(j.spec, j.next, now)
		code := profileCode(j.profile)
		reqID := RequestID(code, due)

		cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
		started, err := s.starter.Start(cctx, name, harvesterv1.Trigger_TRIGGER_SCHEDULED, run.SubmittedBySystem, reqID)
		cancel()
		if err != nil && ctx.Err() != nil {
			return // the start failed because we are stopping, not a skipped occurrence
		}
		lastErr := ""
		if err != nil {
			lastErr = errText(err)
			s.log.Warn("scheduler: scheduled run not started; occurrence skipped",
				"profile", name, "due", due.UTC(), "request_id", reqID, "error", lastErr)
		} else {
			s.log.Info("scheduler: scheduled run started", "profile", name, "due", due.UTC(), "run", started.GetName(), "request_id", reqID)
		}
		// Strictly after now (>= due): this occurrence and any passed ones never fire again.
		next, ok := j.spec.Next(now)
		if !ok {
			next = time.Time{}
		}
		s.mu.Lock()
		j.next, j.lastErr = next, lastErr
		s.mu.Unlock()
	}
}

// latestDue is the last occurrence at or before now, starting from the due occurrence
// `next`: after a stall the run fired is the one for the latest passed occurrence.
func latestDue(spec schedule.Spec, next, now time.Time) time.Time {
	due := next
	for range maxCatchUp {
		n, ok := spec.Next(due)
		if !ok || n.After(now) {
			break
		}
		due = n
	}
	return due
}

// errText is a start error for staff: the reason (RUN_IN_PROGRESS ...) or gRPC code, then
// the message, without the "rpc error:" noise.
func errText(err error) string {
	if e, ok := apierr.As(err); ok && e.Reason != "" {
		return e.Reason + ": " + e.Error()
	}
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + st.Message()
	}
	return err.Error()
}

func profileCode(p *profilesv1.IntegrationProfile) string {
	if c := p.GetCode(); c != "" {
		return c
	}
	return strings.TrimPrefix(p.GetName(), run.ProfilesCollection+"/")
}

func fmtNext(t time.Time) string {
	if t.IsZero() {
		return "not scheduled"
	}
	return t.UTC().Format(time.RFC3339)
}
