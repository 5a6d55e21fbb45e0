package server

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/interloan/interloan/platform/logging"
)

// TestRunServesHealthAndStops runs a real server on loopback: gRPC health and /readyz
// answer SERVING/200 while it runs, and Run returns nil once the context ends.
func TestRunServesHealthAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Name: "test", GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Services: []string{"test.v1.Svc"}, Logger: logging.Discard(), ShutdownGrace: time.Second,
			Ready: func(g, h net.Addr) { ready <- [2]net.Addr{g, h} },
		})
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	conn, err := grpc.NewClient(addrs[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "test.v1.Svc"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}
	r, err := http.Get("http://" + addrs[1].String() + "/readyz")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", r, err)
	}
	r.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
