package app_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/mapping/app"
)

// TestRun starts the service twice on the same data directory: the first run reports
// SERVING and stores a library, the second (after a clean shutdown) still has it.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	token, line, err := auth.NewToken("test", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		lis := bufconn.Listen(1 << 20)
		ready := make(chan struct{})
		cfg := app.Config{Common: server.Common{
			DataDir: dir, Logger: logging.Discard(), GRPCListener: lis, TokensFile: tokens,
			Ready: func(net.Addr, net.Addr) { close(ready) },
		}}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx, cfg) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		}

		conn, err := grpc.NewClient("passthrough:///bufnet",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(auth.BearerToken(token, false)))
		if err != nil {
			t.Fatal(err)
		}
		health, err := healthpb.NewHealthClient(conn).Check(t.Context(),
			&healthpb.HealthCheckRequest{Service: mappingv1.MappingService_ServiceDesc.ServiceName})
		if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("round %d: health = %v, %v", round, health, err)
		}
		c := mappingv1.NewMappingServiceClient(conn)
		if round == 0 {
			_, err = c.CreateLibrary(t.Context(), &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "GUB", DisplayName: "GUB"}})
		} else {
			_, err = c.GetLibrary(t.Context(), &mappingv1.GetLibraryRequest{Name: "libraries/GUB"})
		}
		if err != nil {
			t.Errorf("round %d: %v", round, err)
		}

		conn.Close()
		stop()
		if err := <-done; err != nil {
			t.Fatalf("round %d: Run = %v", round, err)
		}
	}
}
