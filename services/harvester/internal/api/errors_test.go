package api

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/rpc"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// TestRunErrors: each of the runner's refusals, and a run the store does not have, reach
// the caller with its gRPC code, reason and details; anything else passes through.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		code     codes.Code
		reason   string
		fields   []string          // field violations
		metadata map[string]string // ErrorInfo metadata wanted, among others
	}{
		{"run in progress", &run.InProgressError{Profile: "integrationProfiles/lib", Run: "runs/7"},
			codes.FailedPrecondition, reasonRunInProgress, nil, map[string]string{"run": "runs/7"}},
		{"run not active", &run.NotActiveError{Run: "runs/7", State: harvesterv1.RunState_RUN_STATE_ABORTED},
			codes.FailedPrecondition, reasonRunNotActive, nil, map[string]string{"state": "RUN_STATE_ABORTED"}},
		{"request ID reused", &run.RequestReusedError{Run: "runs/7", Profile: "integrationProfiles/lib"},
			codes.InvalidArgument, "INVALID_ARGUMENT", []string{"request_id"}, nil},
		{"profile not found", &run.ProfileError{Profile: "integrationProfiles/missing", Err: status.Error(codes.NotFound, "no such profile")},
			codes.NotFound, reasonProfileNotFound, nil, map[string]string{"name": "integrationProfiles/missing"}},
		{"profile name refused", &run.ProfileError{Profile: "integrationProfiles/x", Err: status.Error(codes.InvalidArgument, "bad name")},
			codes.InvalidArgument, "INVALID_ARGUMENT", []string{"profile"}, nil},
		{"profiles down", &run.ProfileError{Profile: "integrationProfiles/lib", Err: status.Error(codes.Unavailable, "connection refused")},
			codes.Unavailable, reasonUpstreamUnavailable, nil, nil},
		{"run not found", store.ErrNotFound, codes.NotFound, reasonRunNotFound, nil, map[string]string{"name": "runs/7"}},
		{"argument error", apierr.Invalid("name", "bad"), codes.InvalidArgument, "INVALID_ARGUMENT", []string{"name"}, nil},
		{"ended context", context.Canceled, codes.Canceled, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runError(tt.err, "runs/7")
			servertest.RequireError(t, rpc.ToStatus(context.Background(), logging.Discard(), err), tt.code, tt.reason, tt.fields...)
			if len(tt.metadata) > 0 {
				e, ok := apierr.As(err)
				if !ok {
					t.Fatalf("%v is not an API error", err)
				}
				for k, v := range tt.metadata {
					if e.Metadata[k] != v {
						t.Errorf("metadata %s = %q, want %q (%v)", k, e.Metadata[k], v, e.Metadata)
					}
				}
			}
		})
	}
	if err := runError(nil, "runs/7"); err != nil {
		t.Fatalf("no error became %v", err)
	}
	// A start is not a lookup of a run: the store's ErrNotFound there is not RUN_NOT_FOUND.
	if err := apiError(store.ErrNotFound); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("apiError(store.ErrNotFound) = %v", err)
	}
}
