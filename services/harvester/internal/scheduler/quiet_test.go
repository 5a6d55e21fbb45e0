package scheduler

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/tap"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging/logtest"
	"github.com/interloan/interloan/platform/rpc"
)

// listServer is a profiles service that lists one unscheduled profile.
type listServer struct {
	profilesv1.UnimplementedProfileServiceServer
	calls atomic.Int64
}

func (s *listServer) ListIntegrationProfiles(context.Context, *profilesv1.ListIntegrationProfilesRequest) (*profilesv1.ListIntegrationProfilesResponse, error) {
	s.calls.Add(1)
	return &profilesv1.ListIntegrationProfilesResponse{IntegrationProfiles: []*profilesv1.IntegrationProfile{profile("IDLE", "e1", none(sthlm))}}, nil
}

// TestIdlePollsAreQuiet: polls that change nothing write no info line and no span, on
// either side of the real gRPC call (traced client and server, the server's call log):
// only the first poll, which adds the job, says so at info.
func TestIdlePollsAreQuiet(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := &listServer{}
	// The caller is the harvester, as the tap handle of a real server would have put it in
	// the call's context: only the harvester's routine calls are quiet.
	asHarvester := func(ctx context.Context, _ *tap.Info) (context.Context, error) {
		return auth.NewContext(ctx, auth.Principal{Name: "harvester", Roles: []auth.Role{auth.RoleHarvester}}), nil
	}
	gs := grpc.NewServer(grpc.InTapHandle(asHarvester), grpc.StatsHandler(otelgrpc.NewServerHandler()), grpc.UnaryInterceptor(rpc.UnaryInterceptor(log)))
	profilesv1.RegisterProfileServiceServer(gs, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const polls = 20
	s := New(Config{Profiles: profilesv1.NewProfileServiceClient(conn), Starter: newStarter(RealClock()), Poll: time.Millisecond, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); srv.calls.Load() < polls; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d polls", srv.calls.Load())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "scheduler: job scheduled") {
		t.Errorf("after %d polls, want only the job scheduled line at info, got:\n%s", srv.calls.Load(), logs)
	}
	if n := len(spans.Ended()); n != 0 {
		t.Errorf("after %d polls, %d spans; want none (first: %s)", srv.calls.Load(), n, spans.Ended()[0].Name())
	}
	// The recorder works: a traced call through the same client records both spans.
	tctx, span := tp.Tracer("test").Start(context.Background(), "traced")
	if _, err := profilesv1.NewProfileServiceClient(conn).ListIntegrationProfiles(tctx, &profilesv1.ListIntegrationProfilesRequest{}); err != nil {
		t.Fatal(err)
	}
	span.End()
	// The server span ends just after the client has its answer: wait for it.
	for deadline := time.Now().Add(10 * time.Second); len(spans.Ended()) < 3 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	if n := len(spans.Ended()); n != 3 {
		t.Errorf("a traced call: %d spans, want 3 (test, client, server)", n)
	}
}
