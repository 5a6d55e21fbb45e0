// Package run executes import runs: the pre-checks, the streamed fetch of the harvest
// window from the profile's connector, validation and batch resolution through mapping,
// ingest into the ledger, one event per external request, and the final state. It talks
// to the other services only through their gRPC clients (DESIGN §1).
package run

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/harvester/internal/connector"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// ErrorInfo reasons the runner returns to StartRun callers.
const (
	ReasonProfileNotFound = "PROFILE_NOT_FOUND"
	ReasonRunInProgress   = "RUN_IN_PROGRESS"
)

// Event reason codes: what staff read in the event report and what scripts match on.
const (
	reasonInvalid          = "INVALID_EXTERNAL_DATA"
	reasonNotApproved      = "AWAITING_AUTHENTICATION"
	reasonPartnerUnknown   = "PARTNER_UNKNOWN"
	reasonLibraryUnmapped  = "LIBRARY_UNMAPPED"
	reasonLedgerRejected   = "LEDGER_REJECTED"
	reasonExternalGone     = "EXTERNAL_REQUEST_GONE"
	reasonExternalWarning  = "EXTERNAL_DATA_WARNING"
	defaultBatchSize       = 500
	defaultOverlapDays     = 2
	defaultMaxRetryFetches = 1000
	profilesCollection     = "integrationProfiles"
	resolveMax             = 1000
)

// Connect builds the connector for a profile with its decrypted credential.
type Connect func(p *profilesv1.IntegrationProfile, apiKey string) (connector.Connector, error)

// Deps are the runner's collaborators; every client is a real gRPC client in production.
type Deps struct {
	Store       *store.Store
	Profiles    profilesv1.ProfileServiceClient
	Credentials profilesv1.ProfileCredentialsServiceClient
	Mapping     mappingv1.MappingServiceClient
	Ingest      requestsv1.IngestServiceClient
	Connect     Connect
	Log         *slog.Logger
	Now         func() time.Time

	BatchSize       int // items per ingest batch (and per resolve call); default 500
	OverlapDays     int // days re-read before the cursor, as Libris windows are by order date; default 2
	MaxRetryFetches int // retry-set entries fetched one by one per run; default 1000
}

// Runner starts runs and executes them in the background until its context ends.
type Runner struct {
	d      Deps
	ctx    context.Context // the runner's lifetime: runs stop (ABORTED) when it ends
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[string]string // profile code → active run name: one run per profile
}

// New returns a runner whose runs live until ctx ends. Call Wait after ctx ends so
// every run has recorded its final state before the store closes.
func New(ctx context.Context, d Deps) *Runner {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BatchSize <= 0 || d.BatchSize > resolveMax {
		d.BatchSize = defaultBatchSize
	}
	if d.OverlapDays <= 0 {
		d.OverlapDays = defaultOverlapDays
	}
	if d.MaxRetryFetches <= 0 {
		d.MaxRetryFetches = defaultMaxRetryFetches
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{d: d, ctx: ctx, active: map[string]string{}}
}

// Wait blocks until every started run has finished.
func (r *Runner) Wait() { r.wg.Wait() }

// Recover marks runs a crash left PENDING or RUNNING as ABORTED with an alert, so the job
// history never shows a run as running forever; their window was not acknowledged, so
// the next run covers it again.
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
			x.Alerts = append(x.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED,
				"the harvester stopped before this run ended; the next run imports the same window again"))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Start creates a run of the profile and executes it in the background. It answers at
// once with the PENDING run; GetRun shows its progress. A repeated requestID returns the
// run that request started.
func (r *Runner) Start(ctx context.Context, profileName string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error) {
	code, err := resource.ParseName("profile", profileName, profilesCollection)
	if err != nil {
		return nil, err
	}
	if len([]rune(requestID)) > 128 {
		return nil, apierr.Invalid("request_id", "must be at most 128 characters")
	}
	p, err := r.d.Profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: profileName})
	if err != nil {
		return nil, upstreamError("profiles", profileName, err)
	}

	if requestID != "" {
		// A retried StartRun gets its run back, even while that run is still active.
		if run, ok, err := r.d.Store.RunByRequest(requestID); err != nil || ok {
			return run, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if running, ok := r.active[code]; ok {
		return nil, apierr.FailedPrecondition(ReasonRunInProgress, map[string]string{"run": running},
			"profile %s already has an active run %s; wait for it to end", profileName, running)
	}
	run, created, err := r.d.Store.CreateRun(code, requestID, func(id uint64) *harvesterv1.Run {
		return newRun(id, p, trigger, submittedBy, r.d.Now())
	})
	if err != nil || !created {
		return run, err
	}
	id, _ := ParseRunName(run.GetName())
	r.active[code] = run.GetName()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.active, code)
			r.mu.Unlock()
		}()
		r.execute(id, code)
	}()
	return run, nil
}

func newRun(id uint64, p *profilesv1.IntegrationProfile, trigger harvesterv1.Trigger, by string, now time.Time) *harvesterv1.Run {
	return &harvesterv1.Run{
		Name:        store.RunName(id),
		Profile:     p.GetName(),
		DisplayName: "Import Resource Sharing Requests using profile " + p.GetDisplayName(),
		Trigger:     trigger,
		SubmittedBy: by,
		State:       harvesterv1.RunState_RUN_STATE_PENDING,
		Progress:    &harvesterv1.Progress{Phase: "pending"},
		Counters:    &harvesterv1.RunCounters{},
		SubmitTime:  timestamppb.New(now),
	}
}

// ParseRunName returns the id in `runs/{id}`.
func ParseRunName(name string) (uint64, error) {
	return parseID("name", name, "runs")
}

func parseID(field, name, collection string) (uint64, error) {
	s, err := resource.ParseName(field, name, collection)
	if err != nil {
		return 0, err
	}
	var id uint64
	if _, err := fmt.Sscan(s, &id); err != nil || fmt.Sprint(id) != s || id == 0 {
		return 0, apierr.Invalid(field, "must have the form %s/{id} with a positive number", collection)
	}
	return id, nil
}

// upstreamError turns a failed call to another Interloan service into an API error for
// StartRun's caller: a missing profile is the caller's mistake, anything else is not.
func upstreamError(service, name string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return apierr.NotFound(ReasonProfileNotFound, name)
	case codes.InvalidArgument:
		return apierr.Invalid("profile", "%s", status.Convert(err).Message())
	}
	return apierr.Unavailable("UPSTREAM_UNAVAILABLE", "the %s service did not answer: %s", service, status.Convert(err).Message())
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

// libraryCode returns the profile's own external library code.
func libraryCode(p *profilesv1.IntegrationProfile) string {
	switch p.GetSystem() {
	case typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS:
		return p.GetLibris().GetLibraryCode()
	default:
		return p.GetNetpunkt().GetAgencyId()
	}
}

func trimJoin(s []string) string { return strings.Join(s, ", ") }
