// Package client dials one of the suite's gRPC services the way its users do: with a
// bearer token on every call, over TLS when the transport configuration names a CA or a
// client certificate, and plain text otherwise (loopback). The token is only ever sent
// over the transport it was configured with: auth.BearerToken refuses plain text when the
// connection was meant to be TLS.
package client

import (
	"google.golang.org/grpc"

	"github.com/interloan/interloan/platform/auth"
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
	all := []grpc.DialOption{transport.DialOption()}
	if token != "" {
		all = append(all, grpc.WithPerRPCCredentials(auth.BearerToken(token, transport.Secure())))
	}
	return grpc.NewClient(addr, append(all, opts...)...)
}
