package api

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit/audittest"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// otherKey replaces apiKey in the tests; neither may ever appear in the trail.
const otherKey = "libris-api-key-fedcba9876543210"

// auditEnv serves the profiles service with real token authentication and the default
// policy: events name the principal that called, and the trail's readers are checked
// as in production.
type auditEnv struct {
	profiles profilesv1.ProfileServiceClient
	creds    profilesv1.ProfileCredentialsServiceClient
	// as sends the token of a principal: ada and root2 (admins), oscar (operator),
	// vera (viewer), hana (harvester).
	as map[string]grpc.CallOption
}

func newAuditEnv(t *testing.T) auditEnv {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := secrets.NewKeyring(bytes.Repeat([]byte{9}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	tokens, as := audittest.Tokens(t)
	svc := New(st, keys, func() time.Time { return fixedNow })
	conn := servertest.DialAuth(t, tokens, func(s *grpc.Server) {
		profilesv1.RegisterProfileServiceServer(s, svc)
		profilesv1.RegisterProfileCredentialsServiceServer(s, svc)
	})
	return auditEnv{profiles: profilesv1.NewProfileServiceClient(conn), creds: profilesv1.NewProfileCredentialsServiceClient(conn), as: as}
}

// events lists the whole trail (newest first) as an admin, optionally of one resource.
func (e auditEnv) events(t *testing.T, resource string) []*typev1.AuditEvent {
	t.Helper()
	resp, err := e.profiles.ListAuditEvents(t.Context(), &profilesv1.ListAuditEventsRequest{
		Parent: "services/profiles", Resource: resource, PageSize: 1000}, e.as["ada"])
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetAuditEvents()
}

func paths(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

// TestAuditRecordsEveryChange runs each mutating RPC and checks that each call added
// exactly one event with the caller, the RPC, the profile and the fields it changed,
// and that no credential reached the trail.
func TestAuditRecordsEveryChange(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin, other := e.as["ada"], e.as["root2"]
	const gub = "integrationProfiles/GUB"
	var cur *profilesv1.IntegrationProfile
	update := func(who grpc.CallOption, p *profilesv1.IntegrationProfile, mask *fieldmaskpb.FieldMask) func() error {
		return func() (err error) {
			cur, err = e.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: p, UpdateMask: mask}, who)
			return err
		}
	}
	generalFields := []string{"code", "display_name", "description", "integration_type"}
	steps := []struct {
		method   string
		call     func() error
		who      string
		resource string
		action   typev1.AuditAction
		fields   []string
		request  string
	}{
		{"CreateIntegrationProfile", func() (err error) {
			cur, err = e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{RequestId: "req-1", IntegrationProfile: general("GUB")}, admin)
			return err
		}, "ada", gub, typev1.AuditAction_AUDIT_ACTION_CREATE, generalFields, "req-1"},
		{"CreateIntegrationProfile", func() error {
			p := general("KEYED")
			p.ApiKey = apiKey
			_, err := e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p}, other)
			return err
		}, "root2", "integrationProfiles/KEYED", typev1.AuditAction_AUDIT_ACTION_CREATE, append(slices.Clone(generalFields), "api_key"), ""},
		{"UpdateIntegrationProfile", func() error { return update(other, systemPart(gub), systemMask)() },
			"root2", gub, typev1.AuditAction_AUDIT_ACTION_UPDATE,
			[]string{"system", "libris", "resource_sharing_library", "api_key", "active", "harvest_start", "schedule"}, ""},
		{"UpdateIntegrationProfile", func() error {
			return update(admin, &profilesv1.IntegrationProfile{Name: gub, ApiKey: otherKey}, paths("api_key"))()
		}, "ada", gub, typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"api_key"}, ""},
		{"UpdateIntegrationProfile", func() error {
			return update(admin, &profilesv1.IntegrationProfile{Name: gub, SystemConfig: &profilesv1.IntegrationProfile_Libris{
				Libris: &profilesv1.LibrisConfig{BaseUrl: "http://localhost:8081/api"}}}, paths("libris.base_url"))()
		}, "ada", gub, typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"libris"}, ""},
		// Writing back what Get returned changes nothing but the bookkeeping: the write
		// is still recorded, with no fields.
		{"UpdateIntegrationProfile", func() error { return update(admin, proto.CloneOf(cur), paths("*"))() },
			"ada", gub, typev1.AuditAction_AUDIT_ACTION_UPDATE, nil, ""},
		{"UpdateIntegrationProfile", func() error {
			return update(admin, &profilesv1.IntegrationProfile{Name: gub}, paths("api_key"))()
		}, "ada", gub, typev1.AuditAction_AUDIT_ACTION_UPDATE, []string{"api_key"}, ""},
		{"DeleteIntegrationProfile", func() error {
			_, err := e.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{Name: gub, Etag: cur.Etag}, other)
			return err
		}, "root2", gub, typev1.AuditAction_AUDIT_ACTION_DELETE, nil, ""},
	}
	for i, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("step %d %s: %v", i, s.method, err)
		}
		audittest.CheckNewest(t, fmt.Sprintf("step %d %s", i, s.method), "services/profiles", e.events(t, ""), i+1, &typev1.AuditEvent{
			Principal: s.who, Method: s.method, Resource: s.resource, Action: s.action,
			ChangedFields: s.fields, RequestId: s.request,
		})
	}
	if n := len(e.events(t, gub)); n != len(steps)-1 {
		t.Errorf("%d events of %s, want %d", n, gub, len(steps)-1)
	}
	assertNoSecrets(t, e.events(t, ""))
}

// assertNoSecrets fails if a credential appears in any event, in any encoding a client
// could see.
func assertNoSecrets(t *testing.T, events []*typev1.AuditEvent) {
	t.Helper()
	for _, ev := range events {
		js, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{apiKey, otherKey} {
			if strings.Contains(string(js), secret) || bytes.Contains(wire, []byte(secret)) {
				t.Errorf("event %s holds a credential", ev.GetName())
			}
		}
	}
}

// TestAuditRecordsNothingForRefusedCalls: calls that change nothing (refused, invalid,
// failed, validate-only, retried, or by a principal who may not configure) leave no
// event; reading a credential is not a change either.
func TestAuditRecordsNothingForRefusedCalls(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin := e.as["ada"]
	first := general("GUB")
	first.ApiKey = apiKey
	p, err := e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{RequestId: "r1", IntegrationProfile: first}, admin)
	if err != nil {
		t.Fatal(err)
	}
	before := e.events(t, "")
	if len(before) != 1 {
		t.Fatalf("%d events after one create", len(before))
	}
	create := func(req *profilesv1.CreateIntegrationProfileRequest) func(grpc.CallOption) error {
		return func(opt grpc.CallOption) error {
			_, err := e.profiles.CreateIntegrationProfile(ctx, req, opt)
			return err
		}
	}
	update := func(req *profilesv1.UpdateIntegrationProfileRequest) func(grpc.CallOption) error {
		return func(opt grpc.CallOption) error {
			_, err := e.profiles.UpdateIntegrationProfile(ctx, req, opt)
			return err
		}
	}
	remove := func(req *profilesv1.DeleteIntegrationProfileRequest) func(grpc.CallOption) error {
		return func(opt grpc.CallOption) error {
			_, err := e.profiles.DeleteIntegrationProfile(ctx, req, opt)
			return err
		}
	}
	withKey := func(p *profilesv1.IntegrationProfile) *profilesv1.IntegrationProfile { p.ApiKey = otherKey; return p }
	calls := []struct {
		name string
		want codes.Code
		call func(grpc.CallOption) error
	}{
		{"retried create", codes.OK, create(&profilesv1.CreateIntegrationProfileRequest{RequestId: "r1", IntegrationProfile: first})},
		{"validate-only create", codes.OK, create(&profilesv1.CreateIntegrationProfileRequest{ValidateOnly: true, IntegrationProfile: withKey(general("DRY"))})},
		{"invalid create", codes.InvalidArgument, create(&profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Code: "bad code", ApiKey: otherKey}})},
		{"duplicate create", codes.AlreadyExists, create(&profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: withKey(general("GUB"))})},
		{"request_id spent on another profile", codes.InvalidArgument, create(&profilesv1.CreateIntegrationProfileRequest{RequestId: "r1", IntegrationProfile: general("KB")})},
		{"validate-only update", codes.OK, update(&profilesv1.UpdateIntegrationProfileRequest{ValidateOnly: true, IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: otherKey}, UpdateMask: paths("api_key")})},
		{"stale etag", codes.Aborted, update(&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: "x", Etag: "stale"}})},
		{"invalid key", codes.InvalidArgument, update(&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: " " + otherKey}})},
		{"invalid result", codes.InvalidArgument, update(&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name}, UpdateMask: paths("display_name")})},
		{"immutable field", codes.InvalidArgument, update(&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, Code: "NEW"}, UpdateMask: paths("code")})},
		{"update of a missing profile", codes.NotFound, update(&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: "integrationProfiles/NOPE", DisplayName: "x"}})},
		{"delete with a stale etag", codes.Aborted, remove(&profilesv1.DeleteIntegrationProfileRequest{Name: p.Name, Etag: "stale"})},
		{"delete of a missing profile", codes.NotFound, remove(&profilesv1.DeleteIntegrationProfileRequest{Name: "integrationProfiles/NOPE"})},
	}
	for _, c := range calls {
		audittest.CheckRefused(t, e.as, c.name, c.want, c.call)
	}
	if _, err := e.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name}, e.as["hana"]); err != nil {
		t.Fatal(err)
	}
	after := e.events(t, "")
	if !slices.EqualFunc(after, before, func(a, b *typev1.AuditEvent) bool { return proto.Equal(a, b) }) {
		t.Errorf("calls that changed nothing changed the trail:\n%v\nwas\n%v", after, before)
	}
	assertNoSecrets(t, after)
}

// TestAuditTrailIsAdminsOnly: only admins read the trail; the harvester, which may read
// credentials, may not read who set them.
func TestAuditTrailIsAdminsOnly(t *testing.T) {
	e := newAuditEnv(t)
	audittest.CheckAdminsOnly(t, e.as, func(opts ...grpc.CallOption) error {
		_, err := e.profiles.ListAuditEvents(t.Context(), &profilesv1.ListAuditEventsRequest{Parent: "services/profiles"}, opts...)
		return err
	})
}

// TestAuditPaging pages through the trail, with and without a resource filter, and
// refuses requests for another trail or another service's resources.
func TestAuditPaging(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	admin := e.as["ada"]
	for _, code := range []string{"A", "B", "C"} {
		p, err := e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general(code)}, admin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
			IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: "renamed"}}, admin); err != nil {
			t.Fatal(err)
		}
	}
	pages := func(resource string, size int32) string {
		var out [][]string
		token := ""
		for {
			resp, err := e.profiles.ListAuditEvents(ctx, &profilesv1.ListAuditEventsRequest{
				Parent: "services/profiles", Resource: resource, PageSize: size, PageToken: token}, admin)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, ev := range resp.GetAuditEvents() {
				page = append(page, strings.TrimPrefix(ev.GetName(), "services/profiles/auditEvents/"))
			}
			out = append(out, page)
			if token = resp.GetNextPageToken(); token == "" {
				return fmt.Sprint(out)
			}
		}
	}
	for _, tt := range []struct {
		resource string
		size     int32
		want     string
	}{
		{"", 4, "[[6 5 4 3] [2 1]]"},
		{"integrationProfiles/B", 1, "[[4] [3]]"},
		{"integrationProfiles/NONE", 0, "[[]]"},
	} {
		if got := pages(tt.resource, tt.size); got != tt.want {
			t.Errorf("pages of %q by %d = %s, want %s", tt.resource, tt.size, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name  string
		req   *profilesv1.ListAuditEventsRequest
		field string
	}{
		{"no parent", &profilesv1.ListAuditEventsRequest{}, "parent"},
		{"the mapping trail", &profilesv1.ListAuditEventsRequest{Parent: "services/mapping"}, "parent"},
		{"a mapping resource", &profilesv1.ListAuditEventsRequest{Parent: "services/profiles", Resource: "partners/ABC"}, "resource"},
		{"a bad token", &profilesv1.ListAuditEventsRequest{Parent: "services/profiles", PageToken: "nonsense"}, "page_token"},
	} {
		_, err := e.profiles.ListAuditEvents(ctx, tt.req, admin)
		servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tt.field)
	}
}
