package httpcall

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/interloan/interloan/external/connector"
)

// The outcomes of one attempt of a call, the values of the outcome label. Bounded by
// construction: an attempt's result is classified, never quoted.
const (
	OutcomeOK          = "ok"          // the answer was read and accepted
	OutcomeTransient   = "transient"   // a network error, timeout or 5xx/429/408: retried while attempts last
	OutcomeAuth        = "auth"        // the credentials were refused
	OutcomeGarbage     = "garbage"     // an answer that could not be used (error status, undecodable body)
	OutcomeUnreachable = "unreachable" // refused before or while connecting: outbound policy, redirect, certificate
	OutcomeLimit       = "limit"       // a bound of the run (connector.Limits) was reached
	OutcomeCanceled    = "canceled"    // the run's context ended
	OutcomeOther       = "other"       // the caller's own error while taking the answer in
)

// callMetrics are the instruments of every call to an external system, made through the
// global meter provider (which delegates to the one platform/telemetry installs).
var callMetrics = newCallMetrics()

type callInstruments struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

func newCallMetrics() callInstruments {
	m := otel.Meter("github.com/interloan/interloan/external/httpcall")
	// Errors are only for invalid names or units, fixed here; the no-op instruments
	// returned with them record harmlessly.
	requests, _ := m.Int64Counter("interloan.external.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Attempts of calls to external systems, by system, operation and outcome."))
	duration, _ := m.Float64Histogram("interloan.external.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one attempt of a call to an external system, from sending it to the end of reading its answer (a streamed window includes the time taken to take its requests in), by system, operation and outcome."),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
	return callInstruments{requests: requests, duration: duration}
}

// recordAttempt counts one attempt of op on system and records its duration.
func recordAttempt(ctx context.Context, system, op string, took time.Duration, outcome string) {
	attrs := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("system", system), attribute.String("operation", op), attribute.String("outcome", outcome)))
	// The run's context may have ended; the measurement stands regardless.
	ctx = context.WithoutCancel(ctx)
	callMetrics.requests.Add(ctx, 1, attrs)
	callMetrics.duration.Record(ctx, took.Seconds(), attrs)
}

// outcomeOf classifies what an attempt returned.
func outcomeOf(ctx context.Context, retry *Retry, err error) string {
	var le *connector.LimitError
	switch {
	case retry != nil:
		return OutcomeTransient
	case err == nil:
		return OutcomeOK
	case errors.As(err, &le):
		return OutcomeLimit
	case ctx.Err() != nil:
		return OutcomeCanceled
	}
	switch connector.KindOf(err) {
	case connector.KindAuth:
		return OutcomeAuth
	case connector.KindGarbage:
		return OutcomeGarbage
	case connector.KindUnreachable:
		return OutcomeUnreachable
	}
	return OutcomeOther
}
