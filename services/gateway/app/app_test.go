package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
)

// TestReadyzNamesDownUpstreams runs the gateway against one live upstream and three
// addresses where nothing listens: /healthz is fine, /readyz is 503 naming the others,
// the REST routes Run serves reach the live one, and /metrics is on its own port only.
func TestReadyzNamesDownUpstreams(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := make(chan net.Addr, 1)
	go func() {
		tokens, _ := auth.Parse([]byte(testTokenLine))
		_ = server.Run(ctx, server.Options{Name: "up", GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), Authenticator: tokens,
			Ready: func(g, _ net.Addr) { up <- g }})
	}()
	live := (<-up).String()
	dead := deadAddr(t)

	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	metricsLis := listen(t)
	go func() {
		done <- Run(ctx, Config{HTTPAddr: "127.0.0.1:0", ProfilesAddr: live, MappingAddr: dead, HarvesterAddr: dead, RequestsAddr: dead,
			Logger: logging.Discard(), ShutdownGrace: time.Second, Ready: func(a net.Addr) { ready <- a }, MetricsListener: metricsLis})
	}()
	base := "http://" + (<-ready).String()
	// Metrics are served on their own listener, never on the public REST port.
	if code, body := get(t, "http://"+metricsLis.Addr().String()+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on the metrics port = %d", code)
	}
	if code, body := get(t, base+"/metrics"); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on the REST port = %d", code)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "harvester mapping requests") || strings.Contains(body, "profiles") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	// The live upstream implements no ProfileService, so the route reaching it is a 501.
	do(t, "GET", base+"/v1/integrationProfiles/X", "").expectError(t, http.StatusNotImplemented, codes.Unimplemented, "UNIMPLEMENTED")
	if code, _ := get(t, base+"/openapi.json"); code != http.StatusOK {
		t.Fatalf("/openapi.json = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	l := listen(t)
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunStopsWhenMetricsFail: the metrics listener failing stops the REST server too, and
// Run reports the failure as the metrics port's.
func TestRunStopsWhenMetricsFail(t *testing.T) {
	dead := deadAddr(t)
	metricsLis := listen(t)
	metricsLis.Close()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{HTTPAddr: "127.0.0.1:0", ProfilesAddr: dead, MappingAddr: dead, HarvesterAddr: dead, RequestsAddr: dead,
			Logger: logging.Discard(), ShutdownGrace: time.Second, Ready: func(a net.Addr) { ready <- a }, MetricsListener: metricsLis})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gateway: metrics:") {
			t.Fatalf("Run = %v, want the metrics port's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept serving after the metrics port failed")
	}
	if _, err := http.Get("http://" + (<-ready).String() + "/healthz"); err == nil {
		t.Fatal("the REST port still serves")
	}
}
