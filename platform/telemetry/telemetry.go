// Package telemetry sets up OpenTelemetry from the standard OTEL_* environment variables.
//
// Traces: the exporter comes from the contrib autoexport package, so OTEL_TRACES_EXPORTER
// (`none`, `console`, `otlp`), OTEL_EXPORTER_OTLP_PROTOCOL / OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// (`http/protobuf`, the default, or `grpc`) and the exporters' own OTEL_EXPORTER_OTLP_*
// settings (endpoint, headers, timeout …) behave as the specification says. One
// deliberate difference: with OTEL_TRACES_EXPORTER unset the default is `none`, not
// `otlp`, so nothing tries to reach a collector that is not there and no span is built.
// OTEL_TRACES_SAMPLER is read by the SDK. The W3C propagator is always installed so trace
// context flows gateway → services even when nothing is exported.
//
// Resource: service.name is OTEL_SERVICE_NAME when set, else the name the process gives
// Setup; OTEL_RESOURCE_ATTRIBUTES adds to it; service.version is the main module's version.
// Traces and metrics (target_info) carry the same resource.
package telemetry

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/interloan/interloan/platform/version"
)

// process is the resource Setup built, for the meter provider SetupMetrics builds after.
var process struct {
	mu  sync.Mutex
	res *resource.Resource
}

// Setup names the process (see Resource), installs the propagator and, when
// OTEL_TRACES_EXPORTER asks for an exporter, the global tracer provider. The returned
// shutdown flushes spans; call it before exit.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res, err := newResource(ctx, service)
	if err != nil {
		return nil, err
	}
	process.mu.Lock()
	process.res = res
	process.mu.Unlock()

	exp, err := autoexport.NewSpanExporter(ctx, autoexport.WithFallbackSpanExporter(noExporter))
	if err != nil {
		return nil, fmt.Errorf("trace exporter (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*): %w", err)
	}
	if exp == nil || autoexport.IsNoneSpanExporter(exp) {
		// The global no-op provider stays: spans cost nothing.
		return func(context.Context) error { return nil }, nil
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// noExporter is the exporter when OTEL_TRACES_EXPORTER is unset: none (autoexport's own
// default would be otlp).
func noExporter(context.Context) (sdktrace.SpanExporter, error) { return nil, nil }

// Resource is the process's resource: the one Setup built, else (a process or test that
// never called Setup) one named from the environment or after the executable.
func Resource() *resource.Resource {
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.res == nil {
		if res, err := newResource(context.Background(), ""); err == nil {
			return res
		}
		return resource.Default()
	}
	return process.res
}

// newResource: the service's own name first, so OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES (merged after it) win. An empty name leaves the SDK's default
// ("unknown_service:<executable>") unless the environment names one.
func newResource(ctx context.Context, service string) (*resource.Resource, error) {
	opts := []resource.Option{resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK()}
	if service == "" {
		opts = append(opts, resource.WithDetectors(defaultServiceName{}))
	} else {
		opts = append(opts, resource.WithAttributes(semconv.ServiceName(service)))
	}
	build := version.Get()
	opts = append(opts, resource.WithAttributes(semconv.ServiceVersion(build.Version)))
	if rev := build.Revision; rev != "" {
		opts = append(opts, resource.WithAttributes(semconv.VCSRefHeadRevision(rev)))
	}
	opts = append(opts, resource.WithFromEnv())
	res, err := resource.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	return res, nil
}

// defaultServiceName is the SDK's default service.name.
type defaultServiceName struct{}

func (defaultServiceName) Detect(context.Context) (*resource.Resource, error) {
	name, _ := resource.Default().Set().Value(semconv.ServiceNameKey)
	return resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name.AsString())), nil
}
