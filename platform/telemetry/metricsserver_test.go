package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/logging"
)

// TestMetricsServer serves /metrics on its own listener (given, or opened at an
// address), stops when ctx ends, reports a listener that fails as the metrics port's,
// and is off, serving nothing, without a listener or an address.
func TestMetricsServer(t *testing.T) {
	listen := func(t *testing.T) net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name     string
		addr     string
		lis      func(t *testing.T) net.Listener
		off      bool   // ListenMetrics returns nil
		listen   string // ListenMetrics fails with this
		serveErr string // Run fails with this
	}{
		{name: "listener", lis: listen},
		{name: "address", addr: "127.0.0.1:0"},
		{name: "off", off: true},
		{name: "bad address", addr: "127.0.0.1:notaport", listen: "listen metrics 127.0.0.1:notaport"},
		{name: "listener fails", lis: func(t *testing.T) net.Listener { l := listen(t); l.Close(); return l }, serveErr: "metrics: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lis net.Listener
			if tt.lis != nil {
				lis = tt.lis(t)
			}
			m, err := ListenMetrics(tt.addr, lis, nil, logging.Discard())
			if tt.listen != "" {
				if err == nil || !strings.Contains(err.Error(), tt.listen) {
					t.Fatalf("ListenMetrics = %v, want %q", err, tt.listen)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (m == nil) != tt.off || (m.Addr() == nil) != tt.off {
				t.Fatalf("ListenMetrics = %v at %v, want off %v", m, m.Addr(), tt.off)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx, time.Second) }()
			if tt.serveErr == "" && !tt.off {
				resp, err := http.Get("http://" + m.Addr().String() + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines ") {
					t.Fatalf("/metrics = %d:\n%s", resp.StatusCode, body)
				}
			}
			if tt.serveErr == "" {
				cancel()
			}
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if tt.serveErr == "" && err != nil || tt.serveErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.serveErr)) {
				t.Fatalf("Run = %v, want %q", err, tt.serveErr)
			}
		})
	}
}
