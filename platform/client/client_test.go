package client

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// TestDial: a transport configuration that cannot load fails the dial before anything
// is sent; plain text and TLS both build a connection (grpc.NewClient connects lazily).
func TestDial(t *testing.T) {
	if _, err := Dial("127.0.0.1:1", tlsconfig.Config{CAFile: filepath.Join(t.TempDir(), "missing.crt")}, "il_token"); err == nil {
		t.Fatal("dialled with a CA file that does not exist")
	}
	for _, token := range []string{"", "il_token"} {
		c, err := Dial("127.0.0.1:1", tlsconfig.Config{}, token)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// TestPeer: a peer connection sends its credentials on every call, and a transport that
// is plain text keeps a token that requires TLS from being sent.
func TestPeer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 4)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- strings.Join(md.Get("authorization"), ",")
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	plain, err := tlsconfig.Load(tlsconfig.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		creds   credentials.PerRPCCredentials
		want    string // the authorization the server saw
		wantErr bool
	}{
		{"no credentials", nil, "", false},
		{"token", auth.BearerToken("il_token", false), "Bearer il_token", false},
		{"token that needs TLS", auth.BearerToken("il_token", true), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := Peer(lis.Addr().String(), plain, tt.creds)
			if tt.wantErr && err != nil {
				return // refused before anything is sent
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if tt.wantErr {
				if err == nil {
					t.Fatal("the call went out")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := <-seen; got != tt.want {
				t.Fatalf("authorization %q, want %q", got, tt.want)
			}
		})
	}
}
