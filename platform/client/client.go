// Package client is the one way a gRPC connection to one of the suite's services is
// made: over TLS when the transport configuration names a CA or a client certificate
// (presenting the certificate for mTLS), plain text otherwise (loopback), with the
// caller's credentials on every call. Dial serves people and tools holding a token;
// Peer serves the services calling each other. A bearer token is only ever sent over
// the transport it was configured with: auth.BearerToken refuses plain text when the
// connection was meant to be TLS.
package client

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/rpc"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Dial connects to addr as the holder of token (none if ""), with the transport of tls
// (CAFile to verify the server; CertFile and KeyFile for a service that wants a client
// certificate). opts are added after those.
func Dial(addr string, tls tlsconfig.Config, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	transport, err := tlsconfig.Load(tls)
	if err != nil {
		return nil, err
	}
	var creds credentials.PerRPCCredentials
	if token != "" {
		creds = auth.BearerToken(token, transport.Secure())
	}
	return connect(addr, transport, creds, opts)
}

// Peer connects one of the suite's services to another at addr, over the transport of
// the caller's loaded TLS set, with creds on every call (nil: none, as when the client
// certificate speaks for the caller, or the caller forwards its callers' tokens). The
// connection reconnects quickly after the peer restarts (rpc.ReconnectQuickly) and traces
// every call but health checks: readiness checks would drown the traces, as the servers
// leave them out too. opts are added after those.
func Peer(addr string, transport *tlsconfig.Set, creds credentials.PerRPCCredentials, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return connect(addr, transport, creds, append([]grpc.DialOption{
		rpc.ReconnectQuickly(),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithFilter(filters.Not(filters.HealthCheck())))),
	}, opts...))
}

func connect(addr string, transport *tlsconfig.Set, creds credentials.PerRPCCredentials, opts []grpc.DialOption) (*grpc.ClientConn, error) {
	all := []grpc.DialOption{transport.DialOption()}
	if creds != nil {
		all = append(all, grpc.WithPerRPCCredentials(creds))
	}
	return grpc.NewClient(addr, append(all, opts...)...)
}
