// Package telemetry sets up OpenTelemetry tracing from the environment. The exporter is
// chosen by OTEL_TRACES_EXPORTER: `none` (default, so nothing tries to reach a collector
// that is not there), `console` (spans as JSON on stdout) or `otlp` (OTLP/gRPC, endpoint
// from OTEL_EXPORTER_OTLP_ENDPOINT). The W3C propagator is always installed so trace
// context flows gateway → services even when nothing is exported.
package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup installs the global tracer provider and propagator. The returned shutdown flushes
// spans; call it before exit.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	var exp sdktrace.SpanExporter
	switch v := os.Getenv("OTEL_TRACES_EXPORTER"); v {
	case "", "none":
		return func(context.Context) error { return nil }, nil
	case "console":
		exp, err = stdouttrace.New()
	case "otlp":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: want none, console or otlp", v)
	}
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
