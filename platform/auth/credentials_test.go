package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// TestBearerTokenCredentials: a client using BearerToken is authenticated by the
// interceptors; without a token the same call is refused.
func TestBearerTokenCredentials(t *testing.T) {
	token, line, _ := NewToken("hana-harvester", RoleHarvester)
	tokens, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	// Health's List stands in for a protected method: the policy here requires a token.
	policy := Policy{"/grpc.health.v1.Health/List": {RoleHarvester}}
	var seen string
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(
		UnaryServerInterceptor(tokens, policy, slog.New(slog.DiscardHandler)),
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			p, _ := FromContext(ctx)
			seen = p.Name
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 16)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	dial := func(opts ...grpc.DialOption) healthpb.HealthClient {
		opts = append(opts,
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	ctx := context.Background()

	if _, err := dial(grpc.WithPerRPCCredentials(BearerToken(token, false))).List(ctx, &healthpb.HealthListRequest{}); err != nil || seen != "hana-harvester" {
		t.Fatalf("with token: %v (principal %q)", err, seen)
	}
	if _, err := dial().List(ctx, &healthpb.HealthListRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without token: %v", err)
	}
	// Per call, too (the CLI may pick the token per command).
	if _, err := dial().List(ctx, &healthpb.HealthListRequest{}, grpc.PerRPCCredentials(BearerToken(token, false))); err != nil {
		t.Fatalf("per-call token: %v", err)
	}
	// requireTLS refuses to send the token in clear text: gRPC refuses the dial option,
	// and per call the credentials withhold the token.
	if conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(BearerToken(token, true))); err == nil {
		conn.Close()
		t.Fatal("a TLS-only token was accepted for an insecure connection")
	}
	_, err = dial().List(ctx, &healthpb.HealthListRequest{}, grpc.PerRPCCredentials(BearerToken(token, true)))
	if err == nil {
		t.Fatal("a TLS-only token was sent over an insecure connection")
	}
	if strings.Contains(err.Error(), token) {
		t.Fatal("the error contains the token")
	}
	_, err = dial().List(ctx, &healthpb.HealthListRequest{}, grpc.PerRPCCredentials(BearerToken("", false)))
	if status.Code(err) == codes.OK {
		t.Fatal("an empty token was sent")
	}
}

func TestBearerTokenDoesNotPrintTheToken(t *testing.T) {
	const token = "il_secretsecretsecret"
	c := BearerToken(token, true)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "secret") {
			t.Fatalf("formatted credentials show the token: %s", s)
		}
	}
	if !c.RequireTransportSecurity() || BearerToken(token, false).RequireTransportSecurity() {
		t.Fatal("RequireTransportSecurity does not follow requireTLS")
	}
	// Outside a gRPC call there is no transport to check: a TLS-only token is withheld.
	if md, err := c.GetRequestMetadata(context.Background()); err == nil || md != nil {
		t.Fatalf("GetRequestMetadata without a connection: %v %v", md, err)
	}
	md, err := BearerToken(token, false).GetRequestMetadata(context.Background())
	if err != nil || md["authorization"] != "Bearer "+token {
		t.Fatalf("GetRequestMetadata: %v %v", md, err)
	}
}
