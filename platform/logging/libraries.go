package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc/grpclog"
)

// CaptureLibraries sends what the libraries under a process log to log, as JSON records
// like the process's own: gRPC's internal logger (errors only, as gRPC's default), the
// OpenTelemetry error handler, and the standard log package. Call it once at the start
// of main, before any gRPC call: grpclog's logger must not change while gRPC runs.
func CaptureLibraries(log *slog.Logger) {
	grpcErrors := lineWriter{log: log.With("library", "grpc"), level: slog.LevelError}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, grpcErrors))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry", "library", "opentelemetry", "error", err.Error())
	}))
	slog.SetDefault(log)
}

// lineWriter logs each write (a library's log line) as one record at level.
type lineWriter struct {
	log   *slog.Logger
	level slog.Level
}

func (w lineWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		w.log.Log(context.Background(), w.level, msg)
	}
	return len(p), nil
}
