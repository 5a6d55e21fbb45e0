package httpcall

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/interloan/interloan/external/connector"
)

// TestLoopMetrics: every attempt of a call is counted once under its system (the loop's
// Package), operation and outcome, and timed under the same labels; ids stay out of
// the labels.
func TestLoopMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	loop := Loop{Peer: "Sys", Package: "sys", Retrying: Retrying{MaxAttempts: 3,
		Sleep: func(context.Context, time.Duration) error { return nil }}.WithDefaults()}
	ctx := context.Background()

	calls := 0
	_ = loop.Run(ctx, "get", "request 123", func() (*Retry, time.Duration, error) {
		if calls++; calls == 1 {
			return &Retry{Last: "HTTP 503"}, 0, nil
		}
		return nil, 0, nil
	})
	for _, err := range []error{
		&connector.Error{Kind: connector.KindAuth, Message: "refused"},
		&connector.Error{Kind: connector.KindGarbage, Message: "HTTP 400"},
		&connector.LimitError{Bound: connector.BoundMaxBytes},
		errors.New("the caller's own"),
	} {
		_ = loop.Run(ctx, "list", "page 7", func() (*Retry, time.Duration, error) { return nil, 0, err })
	}
	cancelled, cancel := context.WithCancel(ctx)
	_ = loop.Run(cancelled, "list", "page 8", func() (*Retry, time.Duration, error) {
		cancel()
		return nil, 0, errors.New("stopped")
	})

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[[2]string]int64{}
	timed := map[[2]string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "interloan.external.requests" {
					for _, p := range d.DataPoints {
						counts[key(t, p.Attributes)] += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				if m.Name == "interloan.external.request.duration" {
					for _, p := range d.DataPoints {
						timed[key(t, p.Attributes)] += p.Count
					}
				}
			}
		}
	}
	want := map[[2]string]int64{
		{"get", OutcomeTransient}: 1, {"get", OutcomeOK}: 1, {"list", OutcomeAuth}: 1, {"list", OutcomeGarbage}: 1,
		{"list", OutcomeLimit}: 1, {"list", OutcomeOther}: 1, {"list", OutcomeCanceled}: 1,
	}
	if len(counts) != len(want) {
		t.Errorf("counted %v, want %v", counts, want)
	}
	for k, n := range want {
		if counts[k] != n || timed[k] != uint64(n) {
			t.Errorf("%v: counted %d, timed %d, want %d", k, counts[k], timed[k], n)
		}
	}
}

// key is the operation and outcome of a data point, after checking its system and that
// it carries no other label.
func key(t *testing.T, set attribute.Set) [2]string {
	t.Helper()
	if set.Len() != 3 {
		t.Errorf("labels %v, want system, operation and outcome", set.ToSlice())
	}
	if v, _ := set.Value("system"); v.AsString() != "sys" {
		t.Errorf("system %q", v.AsString())
	}
	op, _ := set.Value("operation")
	outcome, _ := set.Value("outcome")
	return [2]string{op.AsString(), outcome.AsString()}
}
