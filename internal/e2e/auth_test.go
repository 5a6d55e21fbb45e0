package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/cli"
)

// caller is one identity of the matrix, with clients that send its token.
type caller struct {
	name      string
	token     string
	profiles  profilesv1.ProfileServiceClient
	creds     profilesv1.ProfileCredentialsServiceClient
	mapping   mappingv1.MappingServiceClient
	harvester harvesterv1.HarvesterServiceClient
	ingest    requestsv1.IngestServiceClient
	requests  requestsv1.RequestServiceClient
}

func (e *env) caller(name, token string) caller {
	p, m, h, r := e.dial(e.suite.Addrs.Profiles, token), e.dial(e.suite.Addrs.Mapping, token),
		e.dial(e.suite.Addrs.Harvester, token), e.dial(e.suite.Addrs.Requests, token)
	return caller{name: name, token: token,
		profiles: profilesv1.NewProfileServiceClient(p), creds: profilesv1.NewProfileCredentialsServiceClient(p),
		mapping: mappingv1.NewMappingServiceClient(m), harvester: harvesterv1.NewHarvesterServiceClient(h),
		ingest: requestsv1.NewIngestServiceClient(r), requests: requestsv1.NewRequestServiceClient(r)}
}

// newToken creates a token the way `interloan token create` does, against the running
// suite's tokens file, and waits until the suite accepts it.
func (e *env) newToken(principal, roles string) string {
	e.t.Helper()
	tok, err := cli.CreateToken(e.tokensFile, principal, roles)
	e.must(err)
	e.awaitToken(tok)
	return tok
}

// awaitToken waits until every service accepts tok (testenv's AwaitToken, at most 15 s)
// and returns how long that took.
func (e *env) awaitToken(tok string) time.Duration {
	e.t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	if err := e.suite.AwaitToken(ctx, tok); err != nil {
		e.t.Fatalf("a new token was not accepted within 15s: %v", err)
	}
	return time.Since(began)
}

// TestRoleMatrix calls a representative set of RPCs on the running suite as every role,
// without a token and with a bad one, and checks allow/deny over real gRPC and through
// the REST gateway. (Every method × role is covered in platform/auth.)
func TestRoleMatrix(t *testing.T) {
	e := start(t)
	callers := []caller{
		e.caller("admin", e.adminToken),
		e.caller("operator", e.newToken("ops", "operator")),
		e.caller("viewer", e.newToken("eve", "viewer")),
		e.caller("harvester", e.newToken("svc", "harvester")),
		e.caller("none", ""),
		e.caller("bad", "il_not-a-real-token"),
	}
	var seq atomic.Int64
	rpcs := []struct {
		name    string
		allowed []string // roles that pass; none and bad are always UNAUTHENTICATED
		call    func(ctx context.Context, c caller) error
	}{
		{"ListLibraries (read)", []string{"admin", "operator", "viewer"}, func(ctx context.Context, c caller) error {
			_, err := c.mapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{})
			return err
		}},
		{"ListIntegrationProfiles (read, harvester too)", []string{"admin", "operator", "viewer", "harvester"}, func(ctx context.Context, c caller) error {
			_, err := c.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{})
			return err
		}},
		{"CreatePartner (configure)", []string{"admin"}, func(ctx context.Context, c caller) error {
			code := fmt.Sprintf("P%d", seq.Add(1))
			_, err := c.mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
				Code: code, DisplayName: code, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS}})
			return err
		}},
		{"ListAuditEvents of profiles (admin only)", []string{"admin"}, func(ctx context.Context, c caller) error {
			_, err := c.profiles.ListAuditEvents(ctx, &profilesv1.ListAuditEventsRequest{Parent: "services/profiles"})
			return err
		}},
		{"ListAuditEvents of mapping (admin only)", []string{"admin"}, func(ctx context.Context, c caller) error {
			_, err := c.mapping.ListAuditEvents(ctx, &mappingv1.ListAuditEventsRequest{Parent: "services/mapping"})
			return err
		}},
		{"CancelRun (operator action)", []string{"admin", "operator"}, func(ctx context.Context, c caller) error {
			_, err := c.harvester.CancelRun(ctx, &harvesterv1.CancelRunRequest{Name: "runs/none"})
			return err
		}},
		{"GetProfileCredentials (harvester only)", []string{"harvester"}, func(ctx context.Context, c caller) error {
			_, err := c.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/none"})
			return err
		}},
		{"IngestBorrowingRequests (harvester only)", []string{"harvester"}, func(ctx context.Context, c caller) error {
			stream, err := c.ingest.IngestBorrowingRequests(ctx)
			if err != nil {
				return err
			}
			if err := stream.CloseSend(); err != nil {
				return err
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		}},
	}
	for _, rpc := range rpcs {
		for _, c := range callers {
			err := rpc.call(e.ctx, c)
			got := status.Code(err)
			var want []codes.Code // acceptable codes
			switch {
			case c.name == "none" || c.name == "bad":
				want = []codes.Code{codes.Unauthenticated}
			case slices.Contains(rpc.allowed, c.name):
				// Allowed: the call reaches the service, whose answer (OK, NOT_FOUND for
				// the made-up names) is not an auth refusal.
				if got == codes.Unauthenticated || got == codes.PermissionDenied {
					t.Errorf("%s as %s: refused: %v", rpc.name, c.name, err)
				}
				continue
			default:
				want = []codes.Code{codes.PermissionDenied}
			}
			if !slices.Contains(want, got) {
				t.Errorf("%s as %s: %v, want %v", rpc.name, c.name, err, want)
			}
			if got == codes.Unauthenticated && len(status.Convert(err).Details()) != 0 {
				t.Errorf("%s as %s: UNAUTHENTICATED must carry no details", rpc.name, c.name)
			}
		}
	}

	// The audit trail holds exactly the one partner create that was allowed, under the
	// admin's principal: refused attempts by every other caller left nothing.
	trail, err := callers[0].mapping.ListAuditEvents(e.ctx, &mappingv1.ListAuditEventsRequest{Parent: "services/mapping"})
	e.must(err)
	var creates []string
	for _, ev := range trail.GetAuditEvents() {
		if ev.GetMethod() == "CreatePartner" {
			creates = append(creates, ev.GetPrincipal()+" "+ev.GetResource())
		}
	}
	if len(creates) != 1 || !strings.HasPrefix(creates[0], "admin partners/P") {
		t.Errorf("CreatePartner events = %v, want one by admin", creates)
	}

	// A manual run names its caller in the job history.
	e.library("MAIN")
	e.mapLibris("Abc", "MAIN")
	e.suite.Libris.AddKey("key", "Abc")
	profile := e.profile("abc", "Abc", "key", "MAIN", time.Now())
	run, err := callers[1].harvester.StartRun(e.ctx, &harvesterv1.StartRunRequest{Profile: profile})
	e.must(err)
	if run.GetSubmittedBy() != "ops" {
		t.Errorf("run submitted by %q, want the operator's principal ops", run.GetSubmittedBy())
	}

	// A stored key is unusable once the profile points at another origin: the harvester
	// itself gets it after a change of path, not after a change of host.
	keyFor := func(baseURL string) error {
		_, err := callers[0].profiles.UpdateIntegrationProfile(e.ctx, &profilesv1.UpdateIntegrationProfileRequest{
			IntegrationProfile: &profilesv1.IntegrationProfile{Name: profile, SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: baseURL}}},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"libris.base_url"}}})
		e.must(err)
		c, err := callers[3].creds.GetProfileCredentials(e.ctx, &profilesv1.GetProfileCredentialsRequest{Name: profile})
		if err == nil && c.GetApiKey() != "key" {
			t.Errorf("credentials for %s: no key and no error", baseURL)
		}
		return err
	}
	if err := keyFor(strings.TrimSuffix(e.extURL, "/") + "/other/path"); err != nil {
		t.Errorf("the key after a change of path only: %v, want it", err)
	}
	if err := keyFor("https://elsewhere.example/api"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("the key after a change of origin: %v, want FAILED_PRECONDITION", err)
	}

	// A method nobody serves: UNAUTHENTICATED without a token, so method names cannot be
	// enumerated anonymously; UNIMPLEMENTED with one.
	for _, c := range []struct {
		token string
		want  codes.Code
	}{{"", codes.Unauthenticated}, {"il_not-a-real-token", codes.Unauthenticated}, {e.adminToken, codes.Unimplemented}} {
		err := e.dial(e.suite.Addrs.Profiles, c.token).Invoke(e.ctx, "/interloan.nothing.v1.Nothing/Get", &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != c.want {
			t.Errorf("unknown method with token %q: %v, want %v", c.token, err, c.want)
		}
	}

	// REST through the gateway: the same decisions, as HTTP statuses.
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if code, _, _ := e.rest("GET", path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without a token = %d, want 200 (public)", path, code)
		}
	}
	code, hdr, body := e.rest("GET", "/v1/libraries", "", "")
	if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("GET /v1/libraries without a token = %d %q %s, want 401 with WWW-Authenticate: Bearer", code, hdr.Get("WWW-Authenticate"), body)
	}
	if code, _, body := e.rest("GET", "/v1/libraries", "il_not-a-real-token", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/libraries with a bad token = %d %s, want 401", code, body)
	}
	partner := `{"code":"RESTP","displayName":"REST partner","system":"EXTERNAL_SYSTEM_LIBRIS"}`
	if code, _, body := e.rest("POST", "/v1/partners", callers[2].token, partner); code != http.StatusForbidden {
		t.Errorf("viewer POST /v1/partners = %d %s, want 403", code, body)
	}
	if code, _, body := e.rest("GET", "/v1/partners", callers[2].token, ""); code != http.StatusOK {
		t.Errorf("viewer GET /v1/partners = %d %s, want 200", code, body)
	}
	if code, _, body := e.rest("POST", "/v1/partners", e.adminToken, partner); code != http.StatusOK {
		t.Errorf("admin POST /v1/partners = %d %s, want 200", code, body)
	}
	for _, path := range []string{"/v1/services/profiles/auditEvents", "/v1/services/mapping/auditEvents"} {
		if code, _, body := e.rest("GET", path, callers[1].token, ""); code != http.StatusForbidden {
			t.Errorf("operator GET %s = %d %s, want 403", path, code, body)
		}
		if code, _, body := e.rest("GET", path, e.adminToken, ""); code != http.StatusOK {
			t.Errorf("admin GET %s = %d %s, want 200", path, code, body)
		}
	}
	// The REST create is in the trail under the admin's principal too.
	code, _, body = e.rest("GET", "/v1/services/mapping/auditEvents?resource=partners/RESTP", e.adminToken, "")
	var restTrail struct {
		AuditEvents []struct{ Principal, Method string }
	}
	if err := json.Unmarshal([]byte(body), &restTrail); code != http.StatusOK || err != nil || len(restTrail.AuditEvents) != 1 ||
		restTrail.AuditEvents[0].Principal != "admin" || restTrail.AuditEvents[0].Method != "CreatePartner" {
		t.Errorf("admin GET the trail of partners/RESTP = %d %s, want its create by admin", code, body)
	}
}

// TestTokenCreateTakesEffectWithoutRestart: a token made by `interloan token create`
// (the CLI's function, in this process) against the running suite's tokens file is
// refused before and accepted within seconds after, on every service.
func TestTokenCreateTakesEffectWithoutRestart(t *testing.T) {
	e := start(t)
	var out, errOut strings.Builder
	if code := cli.Main([]string{"token", "create", "--role", "operator,viewer", "--principal", "carol", "--tokens-file", e.tokensFile}, &out, &errOut); code != 0 {
		t.Fatalf("token create = %d: %s", code, errOut.String())
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "il_") || strings.Contains(errOut.String(), tok) {
		t.Fatalf("stdout must hold the token and only stdout: %q / %q", out.String(), errOut.String())
	}
	if data, _ := os.ReadFile(e.tokensFile); strings.Contains(string(data), tok) {
		t.Fatal("the tokens file must hold the hash, not the token")
	}
	took := e.awaitToken(tok)
	t.Logf("accepted after %s", took.Round(time.Millisecond))
	c := e.caller("carol", tok)
	if _, err := c.harvester.CancelRun(e.ctx, &harvesterv1.CancelRunRequest{Name: "runs/none"}); status.Code(err) == codes.PermissionDenied || status.Code(err) == codes.Unauthenticated {
		t.Fatalf("operator CancelRun: %v", err)
	}
	if _, err := c.mapping.CreateLibrary(e.ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "X", DisplayName: "X"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("operator CreateLibrary: %v, want PERMISSION_DENIED", err)
	}
}
