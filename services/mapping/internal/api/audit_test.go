package api_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit/audittest"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/mapping/internal/api"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

// auditEnv serves the mapping service with real token authentication and the default
// policy, so the principal in each event is the one that called, and the roles of the
// audit trail's readers are enforced as in production.
type auditEnv struct {
	c mappingv1.MappingServiceClient
	// as sends the token of a principal: ada (admin), oscar (operator), vera (viewer),
	// hana (harvester), root2 (a second admin).
	as map[string]grpc.CallOption
}

func newAuditEnv(t *testing.T) auditEnv {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "mapping.db"))
	noErr(t, err)
	t.Cleanup(func() { st.Close() })
	tokens, as := audittest.Tokens(t)
	svc := api.New(st)
	conn := servertest.DialAuth(t, tokens, func(s *grpc.Server) { mappingv1.RegisterMappingServiceServer(s, svc) })
	return auditEnv{c: mappingv1.NewMappingServiceClient(conn), as: as}
}

// events lists the whole trail (newest first) as admin, optionally of one resource.
func (e auditEnv) events(t *testing.T, resource string) []*typev1.AuditEvent {
	t.Helper()
	resp, err := e.c.ListAuditEvents(t.Context(), &mappingv1.ListAuditEventsRequest{Parent: "services/mapping", Resource: resource, PageSize: 1000}, e.as["ada"])
	noErr(t, err)
	return resp.GetAuditEvents()
}

// TestAuditRecordsEveryChange runs every mutating RPC once and checks that each added
// exactly one event naming the caller, the RPC, the resource and the changed fields.
func TestAuditRecordsEveryChange(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin, other := e.as["ada"], e.as["root2"]
	var lib *mappingv1.Library
	var m *mappingv1.LibraryMapping
	var p *mappingv1.Partner
	steps := []struct {
		method   string
		call     func() error
		who      string
		resource string
		action   typev1.AuditAction
		fields   []string
		request  string
	}{
		{"CreateLibrary", func() (err error) {
			lib, err = e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{RequestId: "req-lib", Library: &mappingv1.Library{
				Code: "GUB", DisplayName: "Göteborgs UB", IsResourceSharingLibrary: true}}, admin)
			return err
		}, "ada", "libraries/GUB", typev1.AuditAction_AUDIT_ACTION_CREATE, []string{"code", "display_name", "is_resource_sharing_library"}, "req-lib"},
		{"CreateLibrary", func() error {
			_, err := e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "KB", DisplayName: "KB"}}, other)
			return err
		}, "root2", "libraries/KB", typev1.AuditAction_AUDIT_ACTION_CREATE, []string{"code", "display_name"}, ""},
		{"UpdateLibrary", func() (err error) {
			// `*` with the same display name: only the cleared flag changed.
			lib, err = e.c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{
				Name: lib.Name, DisplayName: lib.DisplayName}, UpdateMask: mask("*")}, admin)
			return err
		}, "ada", "libraries/GUB", typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"is_resource_sharing_library"}, ""},
		{"CreateLibraryMapping", func() (err error) {
			m, err = e.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: " Gbg ", LocalLibraryCode: "GUB"}}, admin)
			return err
		}, "ada", "libraryMappings/1", typev1.AuditAction_AUDIT_ACTION_CREATE, []string{"system", "external_code", "local_library_code"}, ""},
		{"UpdateLibraryMapping", func() (err error) {
			m, err = e.c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: m.Name, LocalLibraryCode: "KB", Etag: m.Etag}}, other)
			return err
		}, "root2", "libraryMappings/1", typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"local_library_code"}, ""},
		{"CreatePartner", func() (err error) {
			p, err = e.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{RequestId: "req-p", Partner: &mappingv1.Partner{
				Code: "ABC", DisplayName: "ABC", System: libris, Contact: &mappingv1.Contact{Email: "ill@abc.example"}}}, admin)
			return err
		}, "ada", "partners/ABC", typev1.AuditAction_AUDIT_ACTION_CREATE, []string{"code", "display_name", "status", "system", "contact"}, "req-p"},
		{"UpdatePartner", func() (err error) {
			p, err = e.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{
				Name: p.Name, Status: inactive, Contact: &mappingv1.Contact{Email: "new@abc.example"}},
				UpdateMask: mask("status", "contact.email")}, admin)
			return err
		}, "ada", "partners/ABC", typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"status", "contact"}, ""},
		{"DeletePartner", func() error {
			_, err := e.c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: p.Name, Etag: p.Etag}, admin)
			return err
		}, "ada", "partners/ABC", typev1.AuditAction_AUDIT_ACTION_DELETE, nil, ""},
		{"DeleteLibraryMapping", func() error {
			_, err := e.c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: m.Name}, other)
			return err
		}, "root2", "libraryMappings/1", typev1.AuditAction_AUDIT_ACTION_DELETE, nil, ""},
		{"DeleteLibrary", func() error {
			_, err := e.c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: lib.Name, Etag: lib.Etag}, admin)
			return err
		}, "ada", "libraries/GUB", typev1.AuditAction_AUDIT_ACTION_DELETE, nil, ""},
	}
	for i, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("step %d %s: %v", i, s.method, err)
		}
		audittest.CheckNewest(t, fmt.Sprintf("step %d %s", i, s.method), "services/mapping", e.events(t, ""), i+1, &typev1.AuditEvent{
			Principal: s.who, Method: s.method, Resource: s.resource, Action: s.action,
			ChangedFields: s.fields, RequestId: s.request,
		})
	}

	// The per-resource filter, newest first.
	var methods []string
	for _, ev := range e.events(t, "libraries/GUB") {
		methods = append(methods, ev.GetMethod())
	}
	if want := []string{"DeleteLibrary", "UpdateLibrary", "CreateLibrary"}; !slices.Equal(methods, want) {
		t.Errorf("events of libraries/GUB: %v, want %v", methods, want)
	}
}

// TestAuditRecordsNothingForRefusedCalls: invalid, failed, refused and repeated calls
// change nothing, so they leave no event; a retried create counts once.
func TestAuditRecordsNothingForRefusedCalls(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin := e.as["ada"]
	lib, err := e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{RequestId: "r1", Library: &mappingv1.Library{Code: "GUB", DisplayName: "GUB"}}, admin)
	noErr(t, err)
	m, err := e.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: libris, ExternalCode: "Gbg", LocalLibraryCode: "GUB"}}, admin)
	noErr(t, err)
	p, err := e.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: "ABC", DisplayName: "ABC", System: libris}}, admin)
	noErr(t, err)
	before := e.events(t, "")
	if len(before) != 3 {
		t.Fatalf("%d events after three creates", len(before))
	}
	calls := []struct {
		name string
		want codes.Code
		call func(opt grpc.CallOption) error
	}{
		{"retried create (same request_id)", codes.OK, func(opt grpc.CallOption) error {
			_, err := e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{RequestId: "r1", Library: &mappingv1.Library{Code: "GUB", DisplayName: "GUB"}}, opt)
			return err
		}},
		{"invalid create", codes.InvalidArgument, func(opt grpc.CallOption) error {
			_, err := e.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: "no spaces"}}, opt)
			return err
		}},
		{"duplicate create", codes.AlreadyExists, func(opt grpc.CallOption) error {
			_, err := e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "GUB", DisplayName: "again"}}, opt)
			return err
		}},
		{"request_id spent on another library", codes.InvalidArgument, func(opt grpc.CallOption) error {
			_, err := e.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{RequestId: "r1", Library: &mappingv1.Library{Code: "KB", DisplayName: "KB"}}, opt)
			return err
		}},
		{"mapping to a missing library", codes.FailedPrecondition, func(opt grpc.CallOption) error {
			_, err := e.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: "Xyz", LocalLibraryCode: "NOPE"}}, opt)
			return err
		}},
		{"stale etag on update", codes.Aborted, func(opt grpc.CallOption) error {
			_, err := e.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{Name: p.Name, DisplayName: "x", Etag: "stale"}}, opt)
			return err
		}},
		{"invalid update", codes.InvalidArgument, func(opt grpc.CallOption) error {
			_, err := e.c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{Name: lib.Name, DisplayName: ""}, UpdateMask: mask("display_name")}, opt)
			return err
		}},
		{"immutable field", codes.InvalidArgument, func(opt grpc.CallOption) error {
			_, err := e.c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: m.Name, ExternalCode: "Other", LocalLibraryCode: "GUB"}}, opt)
			return err
		}},
		{"update of a missing partner", codes.NotFound, func(opt grpc.CallOption) error {
			_, err := e.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{Name: "partners/NOPE", DisplayName: "x"}}, opt)
			return err
		}},
		{"library in use", codes.FailedPrecondition, func(opt grpc.CallOption) error {
			_, err := e.c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: lib.Name}, opt)
			return err
		}},
		{"stale etag on delete", codes.Aborted, func(opt grpc.CallOption) error {
			_, err := e.c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: m.Name, Etag: "stale"}, opt)
			return err
		}},
		{"delete of a missing partner", codes.NotFound, func(opt grpc.CallOption) error {
			_, err := e.c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: "partners/NOPE"}, opt)
			return err
		}},
	}
	for _, c := range calls {
		audittest.CheckRefused(t, e.as, c.name, c.want, c.call)
	}
	if after := e.events(t, ""); !slices.EqualFunc(after, before, func(a, b *typev1.AuditEvent) bool { return proto.Equal(a, b) }) {
		t.Errorf("refused calls changed the trail:\n%v\nwas\n%v", after, before)
	}
}

// TestAuditTrailIsAdminsOnly: only admins read the trail; everyone else is refused.
func TestAuditTrailIsAdminsOnly(t *testing.T) {
	e := newAuditEnv(t)
	audittest.CheckAdminsOnly(t, e.as, func(opts ...grpc.CallOption) error {
		_, err := e.c.ListAuditEvents(t.Context(), &mappingv1.ListAuditEventsRequest{Parent: "services/mapping"}, opts...)
		return err
	})
}

// TestAuditPaging pages through the trail with and without a resource filter, and
// refuses a bad request with the field named.
func TestAuditPaging(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin := e.as["ada"]
	for i := range 5 {
		_, err := e.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
			Code: fmt.Sprintf("P%d", i), DisplayName: "x", System: libris}}, admin)
		noErr(t, err)
		_, err = e.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{
			Name: fmt.Sprintf("partners/P%d", i), DisplayName: "y"}}, admin)
		noErr(t, err)
	}
	pages := func(resource string, size int32) [][]string {
		var out [][]string
		token := ""
		for {
			resp, err := e.c.ListAuditEvents(ctx, &mappingv1.ListAuditEventsRequest{
				Parent: "services/mapping", Resource: resource, PageSize: size, PageToken: token}, admin)
			noErr(t, err)
			var page []string
			for _, ev := range resp.GetAuditEvents() {
				page = append(page, ev.GetName()[len("services/mapping/auditEvents/"):])
			}
			out = append(out, page)
			if token = resp.GetNextPageToken(); token == "" {
				return out
			}
		}
	}
	tests := []struct {
		resource string
		size     int32
		want     string
	}{
		{"", 4, "[[10 9 8 7] [6 5 4 3] [2 1]]"},
		{"", 0, "[[10 9 8 7 6 5 4 3 2 1]]"},
		{"partners/P2", 1, "[[6] [5]]"},
		{"partners/P9", 10, "[[]]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(pages(tt.resource, tt.size)); got != tt.want {
			t.Errorf("pages of %q by %d = %s, want %s", tt.resource, tt.size, got, tt.want)
		}
	}

	first, err := e.c.ListAuditEvents(ctx, &mappingv1.ListAuditEventsRequest{Parent: "services/mapping", PageSize: 1}, admin)
	noErr(t, err)
	bad := []struct {
		name  string
		req   *mappingv1.ListAuditEventsRequest
		field string
	}{
		{"no parent", &mappingv1.ListAuditEventsRequest{}, "parent"},
		{"another service's trail", &mappingv1.ListAuditEventsRequest{Parent: "services/profiles"}, "parent"},
		{"not a resource of this service", &mappingv1.ListAuditEventsRequest{Parent: "services/mapping", Resource: "integrationProfiles/X"}, "resource"},
		{"negative page size", &mappingv1.ListAuditEventsRequest{Parent: "services/mapping", PageSize: -1}, "page_size"},
		{"token of another filter", &mappingv1.ListAuditEventsRequest{Parent: "services/mapping", Resource: "partners/P1", PageToken: first.GetNextPageToken()}, "page_token"},
	}
	for _, tt := range bad {
		_, err := e.c.ListAuditEvents(ctx, tt.req, admin)
		if violation(err, tt.field) == "" {
			t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tt.name, err, tt.field)
		}
	}
}
