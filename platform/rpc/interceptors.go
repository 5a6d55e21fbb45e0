package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/telemetry"
)

// harvester reports whether the call was authenticated as the harvester (the tap handle
// puts the principal in the call's context before any interceptor runs).
func harvester(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && p.Has(auth.RoleHarvester)
}

// UnaryInterceptor recovers panics, maps errors to status (ToStatus) and logs each call.
func UnaryInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ctx, log, info.FullMethod, r)
			}
			logCall(ctx, log, info.FullMethod, start, err)
		}()
		resp, err = handler(ctx, req)
		return resp, ToStatus(ctx, log, err)
	}
}

// StreamInterceptor is UnaryInterceptor for streaming calls.
func StreamInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		ctx := ss.Context()
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ctx, log, info.FullMethod, r)
			}
			logCall(ctx, log, info.FullMethod, start, err)
		}()
		return ToStatus(ctx, log, handler(srv, ss))
	}
}

// recovered turns a panic into INTERNAL (with ErrorInfo, like every error). Only the
// panic value's type and the stack are logged: the value itself may hold request data
// or secrets.
func recovered(ctx context.Context, log *slog.Logger, method string, r any) error {
	log.ErrorContext(ctx, "panic in handler", "method", method, "panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
	return fromDomain(errInternal)
}

func logCall(ctx context.Context, log *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	if code == codes.OK && telemetry.Routine(ctx) && harvester(ctx) {
		// The harvester's poll: an idle suite writes nothing at info. Only the harvester's
		// identity may quiet its calls, so nobody else can hide theirs in the access log.
		level = slog.LevelDebug
	}
	if code == codes.Internal || code == codes.Unknown || code == codes.DataLoss {
		level = slog.LevelError
	}
	log.Log(ctx, level, "rpc", "method", method, "code", code.String(), "duration_ms", time.Since(start).Milliseconds())
}
