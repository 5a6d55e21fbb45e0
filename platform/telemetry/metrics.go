package telemetry

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics are recorded with the OpenTelemetry API (otel.Meter) by the services, by
// otelgrpc (gRPC server and client metrics) and by otelhttp (external HTTP calls), and
// read by Prometheus from /metrics on each process's HTTP port. The registry is the
// process's: in the all-in-one every port shows every service's metrics.
var metrics struct {
	once     sync.Once
	registry *prometheus.Registry
	err      error
}

// SetupMetrics installs the global meter provider, exporting to the process's
// Prometheus registry, with the Go runtime and process collectors beside it, and the
// process's Resource (so target_info names the service: call Setup first). It runs once
// per process; instruments created before it (the global provider delegates) record
// from then on.
func SetupMetrics() error {
	metrics.once.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			metrics.err = fmt.Errorf("telemetry: prometheus exporter: %w", err)
			return
		}
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(Resource())))
		metrics.registry = reg
	})
	return metrics.err
}

// MetricsHandler serves the process's metrics in the Prometheus text format, setting
// them up first if nothing has; if that failed it answers 503 with the reason.
func MetricsHandler() http.Handler {
	if err := SetupMetrics(); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		})
	}
	return promhttp.HandlerFor(metrics.registry, promhttp.HandlerOpts{})
}
