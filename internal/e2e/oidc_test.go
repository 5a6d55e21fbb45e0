package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/internal/testenv/oidcprovider"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// oidcRoleMap is the role map of the OIDC tests: the provider's groups to roles.
const oidcRoleMap = "ill-admins=admin,ill-staff=operator,ill-readers=viewer"

// TestOIDCAccessTokens: API clients of a real OpenID provider (zitadel's OP, started on
// loopback) get access tokens by the client-credentials grant and call the services over
// gRPC and REST (through the gateway) within the role their groups give; the audit trail
// names the client as issuer and subject; a client whose groups map to no role, and the
// token of another audience, are refused; the hashed tokens still work beside them.
func TestOIDCAccessTokens(t *testing.T) {
	op, err := oidcprovider.Start(oidcprovider.Options{
		Audience: "interloan",
		Services: []oidcprovider.Service{
			{ID: "reader-bot", Secret: "reader-secret", Name: "Reader Bot", Groups: []string{"ill-readers"}},
			{ID: "admin-bot", Secret: "admin-secret", Name: "Admin Bot", Groups: []string{"ill-admins", "unrelated"}},
			{ID: "outsider", Secret: "outsider-secret", Name: "Outsider", Groups: []string{"elsewhere"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	e := startEnv(t, nil, testenv.Options{Logger: logging.Discard(),
		OIDC: auth.OIDCConfig{Issuer: op.Issuer, Audience: "interloan", RolesClaim: "groups", RoleMap: oidcRoleMap}})
	ctx, suite := e.ctx, e.suite

	token := func(id, secret string) string {
		t.Helper()
		began := time.Now()
		tok, err := op.ClientCredentialsToken(ctx, id, secret)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("token for %s from the provider in %v (%d bytes)", id, time.Since(began).Round(time.Millisecond), len(tok))
		return tok
	}
	reader, admin, outsider := token("reader-bot", "reader-secret"), token("admin-bot", "admin-secret"), token("outsider", "outsider-secret")

	// gRPC: who the services take each to be.
	began := time.Now()
	who, err := adminv1.NewIdentityServiceClient(e.dial(suite.Addrs.Profiles, reader)).GetCaller(ctx, &adminv1.GetCallerRequest{})
	if err != nil {
		t.Fatalf("GetCaller with the reader's token: %v", err)
	}
	t.Logf("first OIDC call (discovery, keys, verification) took %v", time.Since(began).Round(time.Millisecond))
	if want := "Reader Bot <" + op.Issuer + "#reader-bot>"; who.GetPrincipal() != want || strings.Join(who.GetRoles(), ",") != "viewer" {
		t.Errorf("reader is %q %v, want %q [viewer]", who.GetPrincipal(), who.GetRoles(), want)
	}
	readerMapping := mappingv1.NewMappingServiceClient(e.dial(suite.Addrs.Mapping, reader))
	if _, err := readerMapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{}); err != nil {
		t.Errorf("viewer's gRPC read: %v", err)
	}
	_, err = readerMapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "VIEWER", DisplayName: "No"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("viewer's gRPC create: %v, want PERMISSION_DENIED", err)
	}
	adminMapping := mappingv1.NewMappingServiceClient(e.dial(suite.Addrs.Mapping, admin))
	if _, err := adminMapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "OIDC1", DisplayName: "Made over gRPC"}}); err != nil {
		t.Errorf("admin's gRPC create: %v", err)
	}
	outsiderMapping := mappingv1.NewMappingServiceClient(e.dial(suite.Addrs.Mapping, outsider))
	if _, err := outsiderMapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a client whose groups map to no role: %v, want UNAUTHENTICATED", err)
	}

	// REST through the gateway, which forwards the header and lets the services judge.
	for _, tc := range []struct {
		who, method, path, token, body string
		want                           int
	}{
		{"viewer reads", http.MethodGet, "/v1/libraries", reader, "", http.StatusOK},
		{"viewer creates", http.MethodPost, "/v1/libraries", reader, `{"code":"VIEWER2","displayName":"No"}`, http.StatusForbidden},
		{"admin creates", http.MethodPost, "/v1/libraries", admin, `{"code":"OIDC2","displayName":"Made over REST"}`, http.StatusOK},
		{"outsider reads", http.MethodGet, "/v1/libraries", outsider, "", http.StatusUnauthorized},
		{"tampered token", http.MethodGet, "/v1/libraries", reader[:len(reader)-4] + "AAAA", "", http.StatusUnauthorized},
		{"break-glass token beside OIDC", http.MethodGet, "/v1/libraries", suite.AdminToken, "", http.StatusOK},
	} {
		if code, _, body := e.rest(tc.method, tc.path, tc.token, tc.body); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.who, code, body, tc.want)
		}
	}

	// The audit trail names the person (here a client) by issuer and subject.
	events, err := e.Mapping.ListAuditEvents(ctx, &mappingv1.ListAuditEventsRequest{Parent: "services/mapping"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Admin Bot <" + op.Issuer + "#admin-bot>"
	found := 0
	for _, ev := range events.GetAuditEvents() {
		if ev.GetResource() == "libraries/OIDC1" || ev.GetResource() == "libraries/OIDC2" {
			found++
			if ev.GetPrincipal() != want {
				t.Errorf("audit of %s names %q, want %q", ev.GetResource(), ev.GetPrincipal(), want)
			}
		}
	}
	if found != 2 {
		t.Errorf("%d audit events for the two libraries, want 2", found)
	}
}
