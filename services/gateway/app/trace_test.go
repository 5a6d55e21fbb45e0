package app

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
)

// TestTracing: each REST call is a server span named after its route template, and its
// trace context travels to the upstream as traceparent metadata (via otelgrpc). Probes
// make no spans. The global tracer provider is swapped for the test, as
// platform/telemetry sets it in production.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		_ = tp.Shutdown(t.Context())
	})

	base, fakes := fakeSuite(t, Options{})
	do(t, "GET", base+"/v1/runs/r1", "").expectError(t, http.StatusNotImplemented, codes.Unimplemented, "UNIMPLEMENTED")
	get(t, base+"/readyz")

	var server sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), "GET /readyz") || strings.Contains(s.Name(), "Health") {
			t.Errorf("probe traced: %q", s.Name())
		}
		if s.Name() == "GET /v1/{name=runs/*}" {
			server = s
		}
	}
	if server == nil {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("no span named after the route; spans: %q", names)
	}
	calls := fakes["harvester"].takeCalls()
	if len(calls) != 1 {
		t.Fatalf("calls = %v", calls)
	}
	tp0 := calls[0].md.Get("traceparent")
	if len(tp0) != 1 || !strings.Contains(tp0[0], server.SpanContext().TraceID().String()) {
		t.Errorf("upstream traceparent = %q, want trace %s", tp0, server.SpanContext().TraceID())
	}
}
