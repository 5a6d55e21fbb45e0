package app

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

// TestMetricsOnTheirOwnPort: the console serves /metrics on its metrics listener and
// never on the port people sign in on; its health check answers; Run stops cleanly.
func TestMetricsOnTheirOwnPort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead := deadAddr(t)
	metricsLis := listen(t)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{HTTPListener: listen(t), MetricsListener: metricsLis,
			ProfilesAddr: dead, MappingAddr: dead, HarvesterAddr: dead, RequestsAddr: dead,
			Logger: logging.Discard(), ShutdownGrace: time.Second, Ready: func(a net.Addr) { ready <- a }})
	}()
	base := "http://" + (<-ready).String()
	if code, body := get(t, "http://"+metricsLis.Addr().String()+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on the metrics port = %d", code)
	}
	if code, body := get(t, base+"/metrics"); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on the console's port = %d", code)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunStopsWhenMetricsFail: the metrics listener failing stops the console's own
// server too, and Run reports the failure as the metrics port's.
func TestRunStopsWhenMetricsFail(t *testing.T) {
	dead := deadAddr(t)
	metricsLis := listen(t)
	metricsLis.Close()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{HTTPListener: listen(t), MetricsListener: metricsLis,
			ProfilesAddr: dead, MappingAddr: dead, HarvesterAddr: dead, RequestsAddr: dead,
			Logger: logging.Discard(), ShutdownGrace: time.Second, Ready: func(a net.Addr) { ready <- a }})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "console: metrics:") {
			t.Fatalf("Run = %v, want the metrics port's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept serving after the metrics port failed")
	}
	if _, err := http.Get("http://" + (<-ready).String() + "/healthz"); err == nil {
		t.Fatal("the console's port still serves")
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	l := listen(t)
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
