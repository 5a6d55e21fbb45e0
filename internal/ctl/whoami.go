package ctl

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	grpcclient "github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// whoamiRPC is IdentityService.GetCaller, which every gRPC service serves and the
// gateway does not.
const whoamiRPC = adminv1.IdentityService_GetCaller_FullMethodName

// whoami asks a service's gRPC port who the caller is.
func whoami(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	conn, err := grpcclient.Dial(e.g.addr, tlsconfig.Config{CAFile: e.g.caFile, CertFile: e.g.tlsCert, KeyFile: e.g.tlsKey}, e.g.token)
	if err != nil {
		return usagef("%v", err)
	}
	defer conn.Close()
	ctx, cancel := e.unary()
	defer cancel()
	caller, err := adminv1.NewIdentityServiceClient(conn).GetCaller(ctx, &adminv1.GetCallerRequest{})
	if err != nil {
		return grpcError(err)
	}
	return e.out.print(caller, func() view {
		return detail{{"Principal", caller.GetPrincipal()}, {"Roles", strings.Join(caller.GetRoles(), ", ")}}
	})
}

// grpcError is a failed gRPC call as the error the gateway would have answered; a
// connection that never came up reads as unreachable.
func grpcError(err error) error {
	st, ok := status.FromError(err)
	switch {
	case !ok:
		return err
	case st.Code() == codes.Canceled:
		return context.Canceled
	case st.Code() == codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return fromStatus(st)
}
