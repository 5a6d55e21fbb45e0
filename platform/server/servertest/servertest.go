// Package servertest serves a service over bufconn with the production server stack
// (server.New: interceptors, authentication, error mapping, health, reflection), for
// service tests.
package servertest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
)

// Principal is who every call made through Dial's connection is, holding every role.
const Principal = "servertest"

// allRoles authenticates any token as Principal with every role. It lives here, in a
// test helper, so no production path can build a server that lets everyone in.
type allRoles struct{}

func (allRoles) Authenticate(token string) (auth.Principal, bool) {
	return auth.Principal{Name: Principal, Roles: auth.Roles()}, token != ""
}

// Dial starts a server with register's services on an in-memory listener and returns a
// client connection to it; both are closed when the test ends. Authorisation is out of
// the way: every call is Principal with every role, so service tests test the service
// logic. Use DialAuth to test authentication and roles.
func Dial(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	return dial(t, allRoles{}, register, grpc.WithPerRPCCredentials(auth.BearerToken(Principal, false)))
}

// DialAuth is Dial with real authentication by authn (e.g. auth.Parse of a token file)
// and auth.DefaultPolicy. opts are added to the client connection, e.g.
// grpc.WithPerRPCCredentials(auth.BearerToken(token, false)).
func DialAuth(t testing.TB, authn auth.Authenticator, register func(*grpc.Server), opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	return dial(t, authn, register, opts...)
}

func dial(t testing.TB, authn auth.Authenticator, register func(*grpc.Server), opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv, _ := server.New(logging.Discard(), authn, auth.DefaultPolicy(), register)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
