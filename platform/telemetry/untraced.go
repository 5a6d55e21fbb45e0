package telemetry

import (
	"context"
	"crypto/rand"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// routineKey marks a gRPC call as routine background work (a poll), so the server logs it
// at debug when it succeeds. A failed call is logged as any other.
const routineKey = "interloan-routine"

// Untraced returns ctx for routine background work (a poll) that would otherwise write a
// trace and an info log line every few seconds on an idle suite. The calls made with it
// record no span, and neither do the spans they cause in other services: the parent is
// valid but not sampled, the W3C traceparent says so and the SDK's default sampler follows
// the parent. Their gRPC calls carry a marker that lets the server log them at debug
// (Routine).
func Untraced(ctx context.Context) context.Context {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(sid[:])
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	return metadata.AppendToOutgoingContext(ctx, routineKey, "1")
}

// Routine reports whether the incoming gRPC call was made under Untraced. It only lowers
// the level of the call's log line; the audit trail records changes whatever it says.
func Routine(ctx context.Context) bool {
	return len(metadata.ValueFromIncomingContext(ctx, routineKey)) > 0
}
