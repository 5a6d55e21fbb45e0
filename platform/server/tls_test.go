package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// reflectionMethod is the method the mTLS test authorises: open to the harvester role
// only, so a certificate's roles decide the outcome.
const reflectionMethod = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

// TestRunServesMutualTLS runs a real server with TLS and required client certificates
// and checks who gets in, and as whom: a certificate from the suite's CA with a role is a
// principal; one without roles only secures the transport (a token is still needed);
// plain text, no certificate and a foreign CA's certificate are refused at the handshake.
// The HTTP health port serves TLS too.
func TestRunServesMutualTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := pki.WriteSuite(dir, pki.SuiteIdentities(), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.WriteSuite(filepath.Join(dir, "foreign"), pki.SuiteIdentities(), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, line, err := auth.NewToken("alice", auth.RoleHarvester)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Name: "test", GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", TokensFile: tokens,
			Logger: logging.Discard(), ShutdownGrace: time.Second,
			Policy: auth.Policy{reflectionMethod: {auth.RoleHarvester}, "/grpc.health.v1.Health/Check": {auth.Public}},
			TLS: tlsconfig.Config{CertFile: files.Cert["profiles"], KeyFile: files.Key["profiles"],
				ClientCAFile: files.CA, RequireClientCert: true},
			Ready: func(g, h net.Addr) { ready <- [2]net.Addr{g, h} },
		})
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}

	// call dials with creds and calls reflection (role harvester), returning its error.
	call := func(t *testing.T, creds grpc.DialOption, token string) error {
		opts := []grpc.DialOption{creds}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(auth.BearerToken(token, true)))
		}
		conn, err := grpc.NewClient(addrs[0].String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(cctx)
		if err != nil {
			return err
		}
		_ = s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = s.Recv()
		return err
	}
	client := func(t *testing.T, cfg tlsconfig.Config) grpc.DialOption {
		set, err := tlsconfig.Load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return set.DialOption()
	}
	as := func(f pki.Files, name string) tlsconfig.Config {
		return tlsconfig.Config{CertFile: f.Cert[name], KeyFile: f.Key[name], CAFile: files.CA}
	}
	tests := []struct {
		name  string
		creds func(t *testing.T) grpc.DialOption
		token string
		want  codes.Code
	}{
		{"harvester certificate is the harvester", func(t *testing.T) grpc.DialOption { return client(t, as(files, "harvester")) }, "", codes.OK},
		{"gateway certificate alone names nobody", func(t *testing.T) grpc.DialOption { return client(t, as(files, "gateway")) }, "", codes.Unauthenticated},
		{"gateway certificate with a token", func(t *testing.T) grpc.DialOption { return client(t, as(files, "gateway")) }, token, codes.OK},
		{"a wrong token is not rescued by the certificate", func(t *testing.T) grpc.DialOption { return client(t, as(files, "harvester")) }, "il_wrong", codes.Unauthenticated},
		{"no client certificate", func(t *testing.T) grpc.DialOption { return client(t, tlsconfig.Config{CAFile: files.CA}) }, token, codes.Unavailable},
		{"certificate of another CA", func(t *testing.T) grpc.DialOption { return client(t, as(foreign, "harvester")) }, "", codes.Unavailable},
		{"server not trusted by the client", func(t *testing.T) grpc.DialOption {
			return client(t, tlsconfig.Config{CertFile: files.Cert["harvester"], KeyFile: files.Key["harvester"], CAFile: foreign.CA})
		}, "", codes.Unavailable},
		{"plain text", func(*testing.T) grpc.DialOption { return grpc.WithTransportCredentials(insecure.NewCredentials()) }, "", codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := call(t, tt.creds(t), tt.token); status.Code(err) != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}

	// The principal a certificate names is its CN, with its OUs as roles.
	t.Run("principal from certificate", func(t *testing.T) {
		var got auth.Principal
		srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(mustLoad(t, tlsconfig.Config{CertFile: files.Cert["profiles"], KeyFile: files.Key["profiles"], ClientCAFile: files.CA}).ServerGRPC())),
			grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				got, _ = auth.CertificatePrincipal(ctx)
				return h(ctx, req)
			}))
		healthpb.RegisterHealthServer(srv, healthServer{})
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(lis) }()
		defer srv.Stop()
		conn, err := grpc.NewClient(lis.Addr().String(), client(t, as(files, "harvester")))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if got.Name != "harvester" || len(got.Roles) != 1 || got.Roles[0] != auth.RoleHarvester {
			t.Fatalf("principal %+v", got)
		}
	})

	t.Run("health over https", func(t *testing.T) {
		pem, err := os.ReadFile(files.CA)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		r, err := hc.Get("https://" + addrs[1].String() + "/readyz")
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("readyz over TLS: %v %v", r, err)
		}
		r.Body.Close()
		if r, err := http.Get("http://" + addrs[1].String() + "/readyz"); err == nil && r.StatusCode == http.StatusOK {
			t.Fatal("health answered in plain text on a TLS port")
		}
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunRefusesBadTLS: an inconsistent or unreadable TLS configuration stops the start
// with an error, before anything listens.
func TestRunRefusesBadTLS(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]tlsconfig.Config{
		"cert without key": {CertFile: "x.crt"},
		"missing files":    {CertFile: "nope.crt", KeyFile: "nope.key"},
		"require no CA":    {RequireClientCert: true},
	} {
		err := Run(context.Background(), Options{Name: "test", GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), TokensFile: tokens, TLS: cfg})
		if err == nil {
			t.Errorf("%s: Run started", name)
		}
	}
}

func mustLoad(t *testing.T, c tlsconfig.Config) *tlsconfig.Set {
	t.Helper()
	s, err := tlsconfig.Load(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type healthServer struct {
	healthpb.UnimplementedHealthServer
}

func (healthServer) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}
