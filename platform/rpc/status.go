// Package rpc holds the gRPC plumbing every Interloan service shares: the one mapping from
// domain errors to gRPC status, and the interceptors (panic recovery, error mapping,
// access logging).
package rpc

import (
	"context"
	"errors"
	"log/slog"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/interloan/interloan/platform/apierr"
)

var errInternal = &apierr.Error{Kind: apierr.KindInternal, Reason: "INTERNAL", Message: "internal error"}

var kindCodes = map[apierr.Kind]codes.Code{
	apierr.KindInternal:           codes.Internal,
	apierr.KindInvalidArgument:    codes.InvalidArgument,
	apierr.KindNotFound:           codes.NotFound,
	apierr.KindAlreadyExists:      codes.AlreadyExists,
	apierr.KindFailedPrecondition: codes.FailedPrecondition,
	apierr.KindAborted:            codes.Aborted,
	apierr.KindUnavailable:        codes.Unavailable,
	apierr.KindUnauthenticated:    codes.Unauthenticated,
	apierr.KindPermissionDenied:   codes.PermissionDenied,
}

// ToStatus converts any error a handler returns into a gRPC status error. Typed domain
// errors keep their message and get ErrorInfo (and BadRequest for field violations);
// storage timeouts become UNAVAILABLE; anything else becomes a bare INTERNAL whose cause is
// logged, never sent, so internals and secrets cannot leak to callers.
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := apierr.As(err); ok {
		return fromDomain(e)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if errors.Is(err, bolt.ErrTimeout) || errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return fromDomain(apierr.Unavailable("STORAGE_UNAVAILABLE", "storage is unavailable; retry later"))
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status, e.g. from a downstream call or grpc itself
	}
	log.ErrorContext(ctx, "internal error", "error", err)
	return fromDomain(errInternal)
}

func fromDomain(e *apierr.Error) error {
	code, ok := kindCodes[e.Kind]
	if !ok {
		code = codes.Internal
	}
	st := status.New(code, e.Error())
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.Reason, Domain: apierr.Domain, Metadata: e.Metadata}}
	if len(e.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}
