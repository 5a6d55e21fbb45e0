package run

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// instrumentationName names the tracer and meter of import runs.
const instrumentationName = "github.com/interloan/interloan/services/harvester/internal/run"

// The run metrics, created once through the global meter provider (which delegates to
// the one platform/telemetry installs, whenever it does).
var runMetrics = newRunMetrics()

type metricsSet struct {
	runs     metric.Int64Counter
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

func newRunMetrics() metricsSet {
	m := otel.Meter(instrumentationName)
	// Errors here are only for invalid names or units, fixed below; the no-op instruments
	// returned with them keep recording harmless.
	runs, _ := m.Int64Counter("interloan.harvester.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Import runs ended, by profile and final state."))
	requests, _ := m.Int64Counter("interloan.harvester.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests handled by import runs, by profile and outcome (created, updated, unchanged, skipped, failed)."))
	duration, _ := m.Float64Histogram("interloan.harvester.run.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of import runs from start to end, by profile and final state."),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600))
	return metricsSet{runs: runs, requests: requests, duration: duration}
}

// record counts an ended run: its state, its requests by outcome and its duration.
func (m metricsSet) record(ctx context.Context, profile string, run *harvesterv1.Run) {
	state := strings.TrimPrefix(run.GetState().String(), "RUN_STATE_")
	byState := metric.WithAttributes(attribute.String("profile", profile), attribute.String("state", state))
	m.runs.Add(ctx, 1, byState)
	if run.GetStartTime() != nil && run.GetEndTime() != nil {
		m.duration.Record(ctx, run.GetEndTime().AsTime().Sub(run.GetStartTime().AsTime()).Seconds(), byState)
	}
	c := run.GetCounters()
	for outcome, n := range map[string]int64{
		"created": c.GetCreated(), "updated": c.GetUpdated(), "unchanged": c.GetUnchanged(),
		"skipped": c.GetSkipped(), "failed": c.GetFailed(),
	} {
		if n > 0 {
			m.requests.Add(ctx, n, metric.WithAttributes(attribute.String("profile", profile), attribute.String("outcome", outcome)))
		}
	}
}

// startRunSpan starts the root span of one import run: a run outlives the call that
// started it (and a scheduled run has none), so it is a trace of its own, linked to the
// starting call's span when there is one. Every call the run makes to mapping, the
// ledger and the external system is a child of it.
func startRunSpan(ctx, caller context.Context, name, profile string) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("interloan.run", name), attribute.String("interloan.profile", profile)),
	}
	if sc := trace.SpanContextFromContext(caller); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	return otel.Tracer(instrumentationName).Start(ctx, "import run", opts...)
}
