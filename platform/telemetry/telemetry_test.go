package telemetry

import (
	"context"
	"testing"
)

func TestSetupByEnv(t *testing.T) {
	for _, tc := range []struct {
		exporter string
		ok       bool
	}{{"", true}, {"none", true}, {"console", true}, {"jaeger", false}} {
		t.Run(tc.exporter, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", tc.exporter)
			shutdown, err := Setup(context.Background(), "test")
			if (err == nil) != tc.ok {
				t.Fatalf("Setup with %q: %v", tc.exporter, err)
			}
			if err == nil {
				if err := shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
