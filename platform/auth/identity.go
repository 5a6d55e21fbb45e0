package auth

import (
	"context"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// IdentityService answers GetCaller from the principal the interceptors put in the
// call's context, so a client learns its roles from the same table that will judge its
// calls rather than from a copy of the token file.
type IdentityService struct {
	adminv1.UnimplementedIdentityServiceServer
}

// GetCaller returns the caller's principal and roles.
func (IdentityService) GetCaller(ctx context.Context, _ *adminv1.GetCallerRequest) (*adminv1.Caller, error) {
	p, ok := FromContext(ctx)
	if !ok {
		// Unreachable behind the interceptors, which refuse an unauthenticated call first.
		return nil, status.Error(codes.Unauthenticated, "no authenticated caller")
	}
	out := &adminv1.Caller{Principal: p.Name}
	for _, r := range p.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out, nil
}
