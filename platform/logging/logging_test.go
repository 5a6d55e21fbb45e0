package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/grpclog"
)

func TestJSONWithServiceAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "profiles", "warn")
	log.Info("dropped below warn")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	log.With("k", "v").WarnContext(trace.ContextWithSpanContext(context.Background(), sc), "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("want exactly one JSON record, got %q: %v", buf.String(), err)
	}
	if rec["service"] != "profiles" || rec["k"] != "v" || rec["trace_id"] != sc.TraceID().String() || rec["span_id"] != sc.SpanID().String() {
		t.Fatalf("record %v", rec)
	}
}

// TestCaptureLibraries: gRPC's errors and OpenTelemetry's errors come out as JSON records
// of the process's logger.
func TestCaptureLibraries(t *testing.T) {
	var buf bytes.Buffer
	CaptureLibraries(New(&buf, "svc", "info"))
	t.Cleanup(func() { slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil))) })
	grpclog.Error("transport: something broke")
	grpclog.Info("chatter that stays out")
	otel.Handle(errors.New("exporter unreachable"))
	out := buf.String()
	for _, want := range []string{`"library":"grpc"`, "something broke", `"library":"opentelemetry"`, "exporter unreachable", `"service":"svc"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
	if strings.Contains(out, "chatter") {
		t.Error("gRPC info lines are logged")
	}
}
