package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/interloan/interloan/platform/httpserve"
)

// MetricsServer serves /metrics on a listener of its own, for a process whose public
// port must not show the process's internals (the gateway, the console). A nil
// MetricsServer is metrics turned off.
type MetricsServer struct {
	srv *http.Server
	lis net.Listener
}

// ListenMetrics makes the metrics server: on lis when it is set, else on a new listener
// at addr; with both empty it returns nil (metrics off). tlsConfig, when set, makes it
// HTTPS; log receives the server's errors.
func ListenMetrics(addr string, lis net.Listener, tlsConfig *tls.Config, log *slog.Logger) (*MetricsServer, error) {
	if lis == nil {
		if addr == "" {
			return nil, nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen metrics %s: %w", addr, err)
		}
		lis = l
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, TLSConfig: tlsConfig,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return &MetricsServer{srv: srv, lis: lis}, nil
}

// Addr is the listener's address; nil when metrics are off.
func (m *MetricsServer) Addr() net.Addr {
	if m == nil {
		return nil
	}
	return m.lis.Addr()
}

// Run serves until ctx ends (httpserve.Run), then shuts down within grace. A scrape that
// outlasts grace has its connection closed, which is no failure; a failure to serve is
// returned as "metrics: …". With metrics off it serves nothing and returns when ctx
// ends, so it can run beside the public server either way (httpserve.RunAll).
func (m *MetricsServer) Run(ctx context.Context, grace time.Duration) error {
	if m == nil {
		<-ctx.Done()
		return nil
	}
	err := httpserve.Run(ctx, m.srv, m.lis, grace)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return fmt.Errorf("metrics: %w", err)
}
