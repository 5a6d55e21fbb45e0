package server

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// TestUnknownMethods: with the production stack, a method the server does not serve is
// UNAUTHENTICATED to a caller without a valid token, so method names cannot be probed
// anonymously, and UNIMPLEMENTED to any valid token. Health stays public.
func TestUnknownMethods(t *testing.T) {
	viewer, viewerLine, _ := auth.NewToken("vera", auth.RoleViewer)
	admin, adminLine, _ := auth.NewToken("alice", auth.RoleAdmin)
	stranger, _, _ := auth.NewToken("stranger", auth.RoleAdmin) // not in the file
	tokens, err := auth.Parse([]byte(viewerLine + "\n" + adminLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := New(logging.Discard(), tokens, auth.DefaultPolicy(), nil)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	methods := []string{
		"/interloan.profiles.v1.ProfileService/NoSuchMethod",           // a known service
		"/no.such.v1.Service/Method",                                   // an unknown service
		"/interloan.requests.v1.IngestService/IngestBorrowingRequests", // in the policy, not served here
		"/grpc.health.v1.Health/NoSuchMethod",                          // beside a public method
	}
	callers := []struct {
		name, header string
		want         codes.Code
	}{
		{"anonymous", "", codes.Unauthenticated},
		{"invalid token", "Bearer " + stranger, codes.Unauthenticated},
		{"wrong scheme", "Basic " + admin, codes.Unauthenticated},
		{"viewer", "Bearer " + viewer, codes.Unimplemented},
		{"admin", "Bearer " + admin, codes.Unimplemented},
	}
	for _, m := range methods {
		for _, c := range callers {
			ctx := context.Background()
			if c.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", c.header)
			}
			err := conn.Invoke(ctx, m, &emptypb.Empty{}, &emptypb.Empty{})
			if status.Code(err) != c.want {
				t.Errorf("%s as %s: %v, want %v", m, c.name, err, c.want)
			}
			if c.want == codes.Unauthenticated && status.Convert(err).Message() != auth.MsgUnauthenticated {
				t.Errorf("%s as %s: message %q", m, c.name, status.Convert(err).Message())
			}
		}
	}
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a token: %v", err)
	}
}
