package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/logging"
)

func TestToStatus(t *testing.T) {
	var v apierr.Violations
	v.Add("profile.code", "is required")
	for _, tc := range []struct {
		name       string
		err        error
		code       codes.Code
		reason     string
		violations int
	}{
		{"nil", nil, codes.OK, "", 0},
		{"not found", apierr.NotFound("PROFILE_NOT_FOUND", "integrationProfiles/x"), codes.NotFound, "PROFILE_NOT_FOUND", 0},
		{"wrapped invalid", fmt.Errorf("ctx: %w", v.Err()), codes.InvalidArgument, "INVALID_ARGUMENT", 1},
		{"etag", apierr.EtagMismatch("x"), codes.Aborted, "ETAG_MISMATCH", 0},
		{"precondition", apierr.FailedPrecondition("IN_USE", nil, "in use"), codes.FailedPrecondition, "IN_USE", 0},
		{"canceled", context.Canceled, codes.Canceled, "", 0},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "", 0},
		{"bolt timeout", bolt.ErrTimeout, codes.Unavailable, "STORAGE_UNAVAILABLE", 0},
		{"passthrough status", status.Error(codes.ResourceExhausted, "slow down"), codes.ResourceExhausted, "", 0},
		{"unknown error hides its text", errors.New("secret=hunter2"), codes.Internal, "INTERNAL", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := status.Convert(ToStatus(context.Background(), logging.Discard(), tc.err))
			if st.Code() != tc.code {
				t.Fatalf("code = %v, want %v", st.Code(), tc.code)
			}
			if strings.Contains(st.Message(), "hunter2") {
				t.Fatal("internal error text leaked")
			}
			var reason string
			var violations int
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					reason = d.Reason
					if d.Domain != apierr.Domain {
						t.Errorf("domain = %q", d.Domain)
					}
				case *errdetails.BadRequest:
					violations = len(d.FieldViolations)
				}
			}
			if reason != tc.reason || violations != tc.violations {
				t.Fatalf("reason %q violations %d, want %q %d", reason, violations, tc.reason, tc.violations)
			}
		})
	}
}

func TestPanicBecomesInternalWithoutItsValue(t *testing.T) {
	handler := func(context.Context, any) (any, error) { panic("api_key=hunter2") }
	_, err := UnaryInterceptor(logging.Discard())(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.v1.S/M"}, handler)
	st := status.Convert(err)
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "hunter2") {
		t.Fatalf("got %v", st)
	}
	if len(st.Details()) != 1 || st.Details()[0].(*errdetails.ErrorInfo).Reason != "INTERNAL" {
		t.Fatalf("details %v", st.Details())
	}
}
