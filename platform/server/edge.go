package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/interloan/interloan/platform/httpserve"
	"github.com/interloan/interloan/platform/telemetry"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Edge is an HTTP service people and other systems call (the REST gateway, the staff
// console): its public listener, and /metrics on a listener of its own so the public
// port never shows the process's internals.
type Edge struct {
	Name    string
	Handler http.Handler
	// Addr or Listener is the public listener; MetricsAddr or MetricsListener the
	// metrics one (both empty: no metrics).
	Addr, MetricsAddr         string
	Listener, MetricsListener net.Listener
	TLS                       *tlsconfig.Set
	// ReadTimeout bounds reading a whole request; 0 leaves it unbounded, for servers
	// whose watch streams must not be cut (they bound bodies their own way).
	ReadTimeout   time.Duration
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	Ready         func(net.Addr)
}

// RunEdge serves e until ctx ends, then shuts both listeners down gracefully: in-flight
// requests get ShutdownGrace, after which the remaining connections (streams that never
// end by themselves) are closed. Either listener failing stops the other.
func RunEdge(ctx context.Context, e Edge) error {
	log := e.Logger
	lis := e.Listener
	if lis == nil {
		l, err := net.Listen("tcp", e.Addr)
		if err != nil {
			return fmt.Errorf("%s: listen %s: %w", e.Name, e.Addr, err)
		}
		lis = l
	}
	srv := &http.Server{
		Handler:           e.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       e.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         e.TLS.ServerHTTP(),
	}
	metrics, err := telemetry.ListenMetrics(e.MetricsAddr, e.MetricsListener, e.TLS.ServerHTTP(), log)
	if err != nil {
		lis.Close()
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	if metrics != nil {
		log.Info("serving metrics", "metrics_addr", metrics.Addr().String())
	}
	log.Info("serving", "http_addr", lis.Addr().String(), "tls", e.TLS.Enabled(), "upstream_tls", e.TLS.Secure())
	if e.Ready != nil {
		e.Ready(lis.Addr())
	}
	err = httpserve.RunAll(ctx, func(ctx context.Context) error {
		err := httpserve.Run(ctx, srv, lis, e.ShutdownGrace)
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("graceful shutdown timed out; closed the remaining connections")
			return nil
		}
		return err
	}, func(ctx context.Context) error { return metrics.Run(ctx, e.ShutdownGrace) })
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	log.Info("stopped")
	return nil
}
