// Package api implements harvesterv1.HarvesterServiceServer: request validation, names
// and paging over the runner, the scheduler and the store. Handlers return apierr errors;
// the platform's rpc interceptor maps them to gRPC status at the edge.
package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// Jobs lists the scheduler's jobs as the API shows them.
type Jobs func() []*harvesterv1.ScheduledJob

// Service is the HarvesterService.
type Service struct {
	harvesterv1.UnimplementedHarvesterServiceServer

	runner *run.Runner
	store  *store.Store
	jobs   Jobs
}

// New returns the service.
func New(r *run.Runner, st *store.Store, jobs Jobs) *Service {
	return &Service{runner: r, store: st, jobs: jobs}
}

// caller names the caller in the job history: the principal the auth interceptor
// authenticated. Every StartRun/CancelRun call has one; "unknown" only guards against a
// server built without the interceptor.
func caller(ctx context.Context) string { return auth.Caller(ctx) }

// StartRun starts a manual run of a profile.
func (s *Service) StartRun(ctx context.Context, req *harvesterv1.StartRunRequest) (*harvesterv1.Run, error) {
	return Starter{s.runner}.Start(ctx, req.GetProfile(), harvesterv1.Trigger_TRIGGER_MANUAL, caller(ctx), req.GetRequestId())
}

// Starter starts runs with StartRun's errors. The scheduler and the pushed receipts start
// runs through it, so staff read the same reasons (RUN_IN_PROGRESS ...) wherever a start
// failed.
type Starter struct{ Runner *run.Runner }

// Start starts a run of the profile (run.Runner.Start).
func (s Starter) Start(ctx context.Context, profile string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error) {
	r, err := s.Runner.Start(ctx, profile, trigger, submittedBy, requestID)
	return r, apiError(err)
}

// GetRun returns one run.
func (s *Service) GetRun(_ context.Context, req *harvesterv1.GetRunRequest) (*harvesterv1.Run, error) {
	id, err := run.ParseRunName(req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetRun(id)
	return r, runError(err, req.GetName())
}

// WatchRun streams the run now and after every change until it ends.
func (s *Service) WatchRun(req *harvesterv1.WatchRunRequest, stream grpc.ServerStreamingServer[harvesterv1.Run]) error {
	return runError(s.runner.Watch(stream.Context(), req.GetName(), stream.Send), req.GetName())
}

// CancelRun aborts an active run and returns it in its final state.
func (s *Service) CancelRun(ctx context.Context, req *harvesterv1.CancelRunRequest) (*harvesterv1.Run, error) {
	r, err := s.runner.Cancel(ctx, req.GetName(), caller(ctx))
	return r, runError(err, req.GetName())
}

// ListRuns is the job history, newest first.
func (s *Service) ListRuns(_ context.Context, req *harvesterv1.ListRunsRequest) (*harvesterv1.ListRunsResponse, error) {
	var f store.RunFilter
	var v apierr.Violations
	if req.GetProfile() != "" {
		code, err := resource.ParseName("profile", req.GetProfile(), run.ProfilesCollection)
		if err != nil {
			return nil, err
		}
		f.ProfileCode = code
	}
	validate.Enum(&v, "state", req.GetState(), false)
	f.SubmittedAfter, f.SubmittedBefore = validate.TimeRange(&v, "submitted", req.GetSubmittedAfter(), req.GetSubmittedBefore())
	if err := v.Err(); err != nil {
		return nil, err
	}
	f.State = req.GetState()
	filter := []string{"runs", f.ProfileCode, f.State.String(), f.SubmittedAfter.String(), f.SubmittedBefore.String()}
	runs, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), filter,
		func(after []byte, limit int) ([]*harvesterv1.Run, []byte, error) {
			return s.store.ListRuns(f, after, limit)
		})
	if err != nil {
		return nil, err
	}
	return &harvesterv1.ListRunsResponse{Runs: runs, NextPageToken: next}, nil
}

// ListRunEvents is a run's event report, in the order the requests were handled.
func (s *Service) ListRunEvents(_ context.Context, req *harvesterv1.ListRunEventsRequest) (*harvesterv1.ListRunEventsResponse, error) {
	id, err := run.ParseRunName(req.GetParent())
	if err != nil {
		return nil, apierr.Invalid("parent", "must have the form runs/{id}")
	}
	var v apierr.Violations
	validate.Enum(&v, "outcome", req.GetOutcome(), false)
	if len(req.GetReasonCode()) > 64 {
		v.Add("reason_code", "must be at most 64 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f := store.EventFilter{Outcome: req.GetOutcome(), ReasonCode: req.GetReasonCode()}
	events, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{req.GetParent(), f.Outcome.String(), f.ReasonCode},
		func(after []byte, limit int) ([]*harvesterv1.RunEvent, []byte, error) {
			return s.store.ListRunEvents(id, f, after, limit)
		})
	if err != nil {
		return nil, runError(err, req.GetParent())
	}
	return &harvesterv1.ListRunEventsResponse{RunEvents: events, NextPageToken: next}, nil
}

// ListParkedItems lists a profile's parked requests, longest parked first.
func (s *Service) ListParkedItems(_ context.Context, req *harvesterv1.ListParkedItemsRequest) (*harvesterv1.ListParkedItemsResponse, error) {
	code, err := resource.ParseName("parent", req.GetParent(), run.ProfilesCollection)
	if err != nil {
		return nil, err
	}
	items, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{store.ParkedCollection, code},
		func(after []byte, limit int) ([]*harvesterv1.ParkedItem, []byte, error) {
			return s.store.ListParked(code, after, limit)
		})
	if err != nil {
		return nil, err
	}
	return &harvesterv1.ListParkedItemsResponse{ParkedItems: items, NextPageToken: next}, nil
}

// RetryParkedItem puts a parked request back in its profile's retry set with its
// attempts reset; the next run of the profile fetches it first.
func (s *Service) RetryParkedItem(_ context.Context, req *harvesterv1.RetryParkedItemRequest) (*harvesterv1.ParkedItem, error) {
	code, id, err := parseParkedName(req.GetName())
	if err != nil {
		return nil, err
	}
	p, err := s.store.RetryParked(code, id)
	return p, parkedError(err, req.GetName())
}

// parseParkedName returns the profile code and external id in
// `integrationProfiles/{code}/parkedItems/{external_id}`.
func parseParkedName(name string) (code, externalID string, err error) {
	parent, id, ok := strings.Cut(name, "/"+store.ParkedCollection+"/")
	if name == "" {
		return "", "", apierr.Invalid("name", "is required")
	}
	if code, err = resource.ParseName("name", parent, run.ProfilesCollection); !ok || err != nil || id == "" || len(id) > maxExternalID {
		return "", "", apierr.Invalid("name", "must have the form %s/{code}/%s/{external_id}", run.ProfilesCollection, store.ParkedCollection)
	}
	return code, id, nil
}

// maxExternalID bounds the external id in a parked item's name: far above any real one.
const maxExternalID = 256

// ListScheduledJobs lists every active, runnable profile's import job with its schedule
// in words and next run time, ordered by profile name.
func (s *Service) ListScheduledJobs(_ context.Context, req *harvesterv1.ListScheduledJobsRequest) (*harvesterv1.ListScheduledJobsResponse, error) {
	var jobs []*harvesterv1.ScheduledJob
	if s.jobs != nil {
		jobs = s.jobs()
	}
	slices.SortFunc(jobs, func(a, b *harvesterv1.ScheduledJob) int { return strings.Compare(a.GetProfile(), b.GetProfile()) })
	page, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{"scheduledJobs"},
		func(after []byte, limit int) ([]*harvesterv1.ScheduledJob, []byte, error) {
			i := 0
			if after != nil {
				i, _ = slices.BinarySearchFunc(jobs, string(after), func(j *harvesterv1.ScheduledJob, p string) int { return strings.Compare(j.GetProfile(), p) })
				if i < len(jobs) && jobs[i].GetProfile() == string(after) {
					i++
				}
			}
			end := min(i+limit, len(jobs))
			if end < len(jobs) {
				return jobs[i:end], []byte(jobs[end-1].GetProfile()), nil
			}
			return jobs[i:end], nil, nil
		})
	if err != nil {
		return nil, err
	}
	return &harvesterv1.ListScheduledJobsResponse{ScheduledJobs: page, NextPageToken: next}, nil
}

// TestConnection tests a saved or an unsaved profile's connection step by step
// (run.Runner.TestConnection); the credential of an unsaved one is used for this call
// only.
func (s *Service) TestConnection(ctx context.Context, req *harvesterv1.TestConnectionRequest) (*harvesterv1.TestConnectionResponse, error) {
	var draft *profilesv1.IntegrationProfile
	if req.IntegrationProfile != nil {
		draft = req.GetIntegrationProfile()
	}
	checks, err := s.runner.TestConnection(ctx, req.GetName(), draft)
	if err != nil {
		return nil, apiError(err)
	}
	resp := &harvesterv1.TestConnectionResponse{Passed: true}
	for _, c := range checks {
		resp.Checks = append(resp.Checks, &harvesterv1.ConnectionCheck{
			Step: harvesterv1.ConnectionStep(c.Step), Passed: c.Passed(), Code: c.Code, Message: c.Message, Duration: durationpb.New(c.Duration)})
		resp.Passed = resp.Passed && c.Passed()
	}
	return resp, nil
}

// PreviewImport predicts the next run's outcomes for a window's requests, writing
// nothing (run.Runner.Preview).
func (s *Service) PreviewImport(ctx context.Context, req *harvesterv1.PreviewImportRequest) (*harvesterv1.PreviewImportResponse, error) {
	var v apierr.Violations
	var w *connector.Window
	switch start, end := req.GetStartDate(), req.GetEndDate(); {
	case start == nil && end == nil:
	case start == nil || end == nil:
		v.Add("start_date", "must be given with end_date, or neither for the next run's window")
	default:
		from, okFrom := day(start)
		to, okTo := day(end)
		if !okFrom {
			v.Add("start_date", "must be a valid date")
		}
		if !okTo {
			v.Add("end_date", "must be a valid date")
		}
		w = &connector.Window{From: from, To: to}
	}
	if n := req.GetMaxRequests(); n < 0 || n > run.MaxPreviewItems {
		v.Add("max_requests", "must be between 0 (the default, %d) and %d", run.DefaultPreviewItems, run.MaxPreviewItems)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	resp, err := s.runner.Preview(ctx, req.GetProfile(), w, int(req.GetMaxRequests()))
	return resp, apiError(err)
}

// day is a Date as a connector day; ok is false for an invalid date.
func day(d *typev1.Date) (connector.Day, bool) {
	out := connector.Day{Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay())}
	return out, connector.Window{From: out, To: out}.Valid()
}
