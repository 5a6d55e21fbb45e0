package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"
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
