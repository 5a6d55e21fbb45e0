package app_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/requests/app"
)

// TestRun starts the ledger twice on the same data directory: the first run reports both
// services SERVING and ingests a request, the second (after a clean shutdown) still has it.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	// One token that may ingest (as the harvester) and read.
	token, line, err := auth.NewToken("test", auth.RoleHarvester, auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var firstPosition string
	for round := range 2 {
		lis := bufconn.Listen(1 << 20)
		ready := make(chan struct{})
		cfg := app.Config{Common: server.Common{
			DataDir: dir, Logger: logging.Discard(), GRPCListener: lis, TokensFile: tokens,
			Ready:         func(net.Addr, net.Addr) { close(ready) },
			ShutdownGrace: time.Minute, // an open watch must not hold the stop this long
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
		for _, svc := range app.Services {
			health, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("round %d: health of %s = %v, %v", round, svc, health, err)
			}
		}
		if round == 0 {
			ingest(t, conn)
		}
		got, err := requestsv1.NewRequestServiceClient(conn).GetBorrowingRequest(t.Context(),
			&requestsv1.GetBorrowingRequestRequest{Name: "borrowingRequests/1"})
		if err != nil || got.GetExternalReference().GetExternalId() != "42" {
			t.Errorf("round %d: Get = %v, %v", round, got, err)
		}

		// A watch stream stays open across the stop: Run ends it instead of waiting it out.
		watch, err := requestsv1.NewRequestServiceClient(conn).WatchBorrowingRequests(t.Context(),
			&requestsv1.WatchBorrowingRequestsRequest{StartAfter: "0"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := watch.Recv()
		if err != nil || first.GetEvent().GetName() != "borrowingRequests/1/events/1" {
			t.Fatalf("round %d: watch = %v, %v", round, first, err)
		}
		// The database keeps its id across restarts: a position stays valid.
		if round == 0 {
			firstPosition = first.GetPosition()
		} else if first.GetPosition() != firstPosition {
			t.Errorf("position of change 1 after a restart %s, was %s", first.GetPosition(), firstPosition)
		}
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Run = %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Run waited for the open watch stream", round)
		}
		if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("round %d: watch after stop: %v", round, err)
		}
		conn.Close()
	}
}

func ingest(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	stream, err := requestsv1.NewIngestServiceClient(conn).IngestBorrowingRequests(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&requestsv1.IngestBorrowingRequestsRequest{BatchId: "b1", Items: []*requestsv1.IngestItem{{
		ExternalReference: &requestsv1.ExternalReference{
			Profile: "integrationProfiles/LIB", ExternalId: "42", LastModifiedTime: timestamppb.New(time.Now().Add(-time.Hour)),
		},
		ExternalStatus: requestsv1.Status_STATUS_CREATED,
		Owner:          "GUB",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || resp.GetResults()[0].GetOutcome() != requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED {
		t.Fatalf("ingest: %v, %v", resp, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
}
