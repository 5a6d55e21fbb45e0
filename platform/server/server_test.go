package server

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// TestRunServesHealthAndStops runs a real server on loopback: gRPC health and /readyz
// answer SERVING/200 while it runs, and Run returns nil once the context ends.
func TestRunServesHealthAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- Run(ctx, Options{
			Name: "test", GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", TokensFile: tokens,
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

// TestRunNeedsTokens: a service never starts without a valid tokens file.
func TestRunNeedsTokens(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not a token line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"none": "", "missing": filepath.Join(t.TempDir(), "nope"), "invalid": bad} {
		err := Run(context.Background(), Options{Name: "test", GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), TokensFile: file})
		if err == nil || !strings.Contains(err.Error(), "test:") {
			t.Errorf("%s: Run = %v, want a startup error", name, err)
		}
	}
	var c Common
	if o := c.Options("x", nil); o.Authenticator != nil || o.Policy == nil {
		t.Errorf("Common.Options must leave authentication to the tokens file and set the policy")
	}
}

// TestRunReloadsTokens: without a token a call is UNAUTHENTICATED; a token appended to
// the file while the server runs is accepted within seconds.
func TestRunReloadsTokens(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Name: "test", GRPCAddr: "127.0.0.1:0", TokensFile: path, Logger: logging.Discard(),
			ShutdownGrace: time.Second, Ready: func(g, _ net.Addr) { ready <- g }})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	token, line, err := auth.NewToken("ops", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	call := func(tok string) error {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if tok != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(auth.BearerToken(tok, false)))
		}
		conn, err := grpc.NewClient(addr.String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Reflection needs any valid token; health needs none.
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health must stay public: %v", err)
		}
		s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// A refused stream reports its status on Recv; Send then only sees EOF.
		_ = s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = s.Recv()
		return err
	}
	if err := call(""); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	if err := call(token); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unknown token: %v", err)
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for call(token) != nil {
		if time.Now().After(deadline) {
			t.Fatal("a token added to the file was not accepted within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
