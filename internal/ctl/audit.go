package ctl

import (
	"strings"

	"google.golang.org/protobuf/proto"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
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
