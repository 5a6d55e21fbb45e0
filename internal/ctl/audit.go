package ctl

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/proto"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	grpcclient "github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// auditTrails are the services that keep an audit trail of configuration changes, with
// their ListAuditEvents RPC and its messages.
var auditTrails = map[string]struct {
	rpc       string
	req, resp func() proto.Message
}{
	"profiles": {profilesv1.ProfileService_ListAuditEvents_FullMethodName,
		func() proto.Message { return &profilesv1.ListAuditEventsRequest{} },
		func() proto.Message { return &profilesv1.ListAuditEventsResponse{} }},
	"mapping": {mappingv1.MappingService_ListAuditEvents_FullMethodName,
		func() proto.Message { return &mappingv1.ListAuditEventsRequest{} },
		func() proto.Message { return &mappingv1.ListAuditEventsResponse{} }},
}

// auditEvents is what both services' ListAuditEventsResponse have.
type auditEvents interface {
	proto.Message
	GetAuditEvents() []*typev1.AuditEvent
}

func auditList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	trail, ok := auditTrails[e.o.service]
	if !ok {
		return usagef("--service %q: want profiles or mapping", e.o.service)
	}
	req := trail.req()
	switch r := req.(type) {
	case *profilesv1.ListAuditEventsRequest:
		r.Parent, r.Resource = "services/profiles", e.o.resource
	case *mappingv1.ListAuditEventsRequest:
		r.Parent, r.Resource = "services/mapping", e.o.resource
	}
	resp := trail.resp().(auditEvents)
	if err := e.list(trail.rpc, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"TIME", "PRINCIPAL", "ACTION", "RESOURCE", "CHANGED FIELDS"}}
		for _, ev := range resp.GetAuditEvents() {
			t.rows = append(t.rows, []string{when(ev.GetEventTime()), ev.GetPrincipal(), enumName(ev.GetAction()),
				ev.GetResource(), strings.Join(ev.GetChangedFields(), ",")})
		}
		return t
	})
}

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
