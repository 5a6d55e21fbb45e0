package telemetry

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// TestMetricsHandler: an instrument created through the global API before or after
// SetupMetrics shows up in the Prometheus text with its labels, beside the Go runtime
// metrics.
func TestMetricsHandler(t *testing.T) {
	early, err := otel.Meter("test").Int64Counter("test.early", metric.WithUnit("{thing}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := SetupMetrics(); err != nil {
		t.Fatal(err)
	}
	if err := SetupMetrics(); err != nil {
		t.Fatal("a second setup must be a no-op:", err)
	}
	early.Add(context.Background(), 3, metric.WithAttributes(attribute.String("kind", "a")))
	late, err := otel.Meter("test").Float64Histogram("test.late", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	late.Record(context.Background(), 0.25)
	rec := httptest.NewRecorder()
	MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`test_early_total{kind="a"} 3`, "test_late_seconds_count 1", "go_goroutines "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q in:\n%s", want, body)
		}
	}
}
