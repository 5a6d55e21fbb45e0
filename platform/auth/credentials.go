package auth

import (
	"context"
	"errors"

	"google.golang.org/grpc/credentials"
)

// BearerToken returns per-call credentials that send `authorization: Bearer <token>`,
// for the harvester's calls to other services and for the CLI. With requireTLS, gRPC
// refuses to send the token over a connection without transport security; pass false
// only for loopback or in-process connections.
func BearerToken(token string, requireTLS bool) credentials.PerRPCCredentials {
	return bearerCreds{token: token, requireTLS: requireTLS}
}

type bearerCreds struct {
	token      string
	requireTLS bool
}

func (b bearerCreds) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if b.token == "" {
		return nil, errors.New("auth: empty bearer token")
	}
	if b.requireTLS {
		// gRPC checks this too; checking here keeps the guarantee if that ever changes.
		ri, ok := credentials.RequestInfoFromContext(ctx)
		if !ok || credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity) != nil {
			return nil, errors.New("auth: refusing to send a bearer token without transport security")
		}
	}
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearerCreds) RequireTransportSecurity() bool { return b.requireTLS }

// String and GoString keep the token out of logs and %v/%#v formatting.
func (b bearerCreds) String() string   { return "auth.BearerToken(<redacted>)" }
func (b bearerCreds) GoString() string { return b.String() }
