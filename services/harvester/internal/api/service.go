// Package api implements harvesterv1.HarvesterServiceServer: request validation, names
// and paging over the runner and the store. Handlers return apierr errors; the platform's
// rpc interceptor maps them to gRPC status at the edge. WatchRun, CancelRun and
// ListScheduledJobs belong to the scheduler issue and answer UNIMPLEMENTED until then.
package api

import (
	"context"
	"errors"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// Service is the HarvesterService.
type Service struct {
	harvesterv1.UnimplementedHarvesterServiceServer

	runner *run.Runner
	store  *store.Store
}

// New returns the service.
func New(r *run.Runner, st *store.Store) *Service { return &Service{runner: r, store: st} }

// submitter names the caller in the job history. Until authentication exists (the
// security issue) callers are anonymous.
func submitter(context.Context) string { return "anonymous" }

// StartRun starts a manual run of a profile.
func (s *Service) StartRun(ctx context.Context, req *harvesterv1.StartRunRequest) (*harvesterv1.Run, error) {
	return s.runner.Start(ctx, req.GetProfile(), harvesterv1.Trigger_TRIGGER_MANUAL, submitter(ctx), req.GetRequestId())
}

// GetRun returns one run.
func (s *Service) GetRun(_ context.Context, req *harvesterv1.GetRunRequest) (*harvesterv1.Run, error) {
	id, err := run.ParseRunName(req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetRun(id)
	return r, notFound(err, req.GetName())
}

// ListRuns is the job history, newest first.
func (s *Service) ListRuns(_ context.Context, req *harvesterv1.ListRunsRequest) (*harvesterv1.ListRunsResponse, error) {
	var f store.RunFilter
	if req.GetProfile() != "" {
		code, err := resource.ParseName("profile", req.GetProfile(), "integrationProfiles")
		if err != nil {
			return nil, err
		}
		f.ProfileCode = code
	}
	if _, ok := harvesterv1.RunState_name[int32(req.GetState())]; !ok {
		return nil, apierr.Invalid("state", "is not a known run state")
	}
	f.State = req.GetState()
	runs, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{"runs", f.ProfileCode, f.State.String()},
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
	if _, ok := harvesterv1.Outcome_name[int32(req.GetOutcome())]; !ok {
		return nil, apierr.Invalid("outcome", "is not a known outcome")
	}
	events, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{req.GetParent(), req.GetOutcome().String()},
		func(after []byte, limit int) ([]*harvesterv1.RunEvent, []byte, error) {
			return s.store.ListRunEvents(id, req.GetOutcome(), after, limit)
		})
	if err != nil {
		return nil, notFound(err, req.GetParent())
	}
	return &harvesterv1.ListRunEventsResponse{RunEvents: events, NextPageToken: next}, nil
}

func notFound(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound(reasonRunNotFound, name)
	}
	return err
}
