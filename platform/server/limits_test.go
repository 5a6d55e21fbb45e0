package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// TestRunLimitsConnections runs a real server that serves one connection at a time: a
// second client waits while the first holds a call open, and gets in once the first,
// its call over, is closed for idleness.
func TestRunLimitsConnections(t *testing.T) {
	noTokens, err := auth.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Name: "test", GRPCAddr: "127.0.0.1:0", Authenticator: noTokens, Logger: logging.Discard(),
			Services: []string{"test.v1.Svc"}, ShutdownGrace: time.Second,
			Limits: Limits{MaxConnections: 1, IdleTimeout: 300 * time.Millisecond},
			Ready:  func(g, _ net.Addr) { ready <- g },
		})
	}()
	var addr string
	select {
	case a := <-ready:
		addr = a.String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	dial := func() healthpb.HealthClient {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	first, second := dial(), dial()

	// The first client holds the only slot with a stream open.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watch grpc.ServerStreamingClient[healthpb.HealthCheckResponse]
	watch, err = first.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "test.v1.Svc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatalf("first client: %v", err)
	}
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = second.Check(short, &healthpb.HealthCheckRequest{})
	stop()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("second client while the first holds the slot: %v, want DEADLINE_EXCEEDED", err)
	}

	// Its stream ended, the first connection is idle, closed, and its slot freed.
	stopWatch()
	long, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if _, err := second.Check(long, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("second client after the first went idle: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLimitsDefaults(t *testing.T) {
	d := DefaultLimits()
	if got := (Limits{}).withDefaults(); got != d {
		t.Errorf("zero Limits = %+v, want the defaults %+v", got, d)
	}
	if d.MaxRecvMsgSize != 16<<20 {
		t.Errorf("MaxRecvMsgSize %d, want 16 MiB", d.MaxRecvMsgSize)
	}
	custom := Limits{MaxConnections: 3, MaxConcurrentStreams: 7, IdleTimeout: time.Second, MaxRecvMsgSize: 1 << 10}
	if got := custom.withDefaults(); got != custom {
		t.Errorf("set Limits changed: %+v", got)
	}
}
