package suite

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// TestAllInOne runs the whole suite on loopback TCP and walks the admin flow of the
// README: discover the API by reflection, create a Libris profile in two steps until it
// is runnable, create a library, a mapping and a partner, and resolve "  abc " to ABC.
func TestAllInOne(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DataDir: t.TempDir(), Host: "127.0.0.1", Logger: logging.Discard(), Ready: func(a Addrs) { ready <- a }})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("suite stopped early: %v", err)
	}

	token := readToken(t, addrs.AdminTokenFile)
	profConn := dial(t, addrs.Profiles, token)
	mapConn := dial(t, addrs.Mapping, token)
	if got := listServices(t, profConn); !slices.Contains(got, "interloan.profiles.v1.ProfileService") {
		t.Fatalf("reflection on profiles lists %v", got)
	}
	if got := listServices(t, mapConn); !slices.Contains(got, "interloan.mapping.v1.MappingService") {
		t.Fatalf("reflection on mapping lists %v", got)
	}

	profiles := profilesv1.NewProfileServiceClient(profConn)
	p, err := profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Code: "LIBRIS-GBG", DisplayName: "Libris Göteborg"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Readiness.Runnable {
		t.Fatal("a profile with only its general part must not be runnable")
	}
	p, err = profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{
			Name:                   p.Name,
			System:                 typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
			SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "https://iller.libris.kb.se/librisfjarrlan/api", LibraryCode: "Gbg"}},
			ResourceSharingLibrary: "MAIN",
			ApiKey:                 "my-libris-key",
			HarvestStart:           &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2015, Month: 4, Day: 1}},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"system", "libris", "resource_sharing_library", "api_key", "harvest_start"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Readiness.Runnable || !p.ApiKeySet || p.ApiKey != "" {
		t.Fatalf("after step 2: %v", p)
	}

	mapping := mappingv1.NewMappingServiceClient(mapConn)
	if _, err := mapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "MAIN", DisplayName: "Main Library", IsResourceSharingLibrary: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, ExternalCode: "Gbg", LocalLibraryCode: "MAIN"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: "ABC", DisplayName: "ABC University Library", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS}}); err != nil {
		t.Fatal(err)
	}
	res, err := mapping.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{"  abc "}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Resolutions[0]; !r.Found || r.Partner.GetCode() != "ABC" || r.Code != "  abc " {
		t.Fatalf("resolve \"  abc \" = %v", r)
	}
	lib, err := mapping.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, ExternalCodes: []string{"Gbg", "GBG"}})
	if err != nil {
		t.Fatal(err)
	}
	if !lib.Resolutions[0].Found || lib.Resolutions[0].LocalLibraryCode != "MAIN" || lib.Resolutions[1].Found {
		t.Fatalf("sigels must resolve case-sensitively: %v", lib.Resolutions)
	}

	// The gateway is ready once every service answers its health check.
	resp, err := http.Get("http://" + addrs.Gateway + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway /readyz = %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("suite: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("suite did not stop")
	}
}

func TestFailingServiceStopsTheSuite(t *testing.T) {
	// An unreadable key file makes profiles fail at start; Run must stop everything and
	// report it instead of running a partial suite.
	err := Run(context.Background(), Config{DataDir: t.TempDir(), Host: "127.0.0.1", SecretKeyFile: "/nonexistent/key", Logger: logging.Discard()})
	if err == nil {
		t.Fatal("want an error")
	}
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func dial(t *testing.T, addr, token string) *grpc.ClientConn {
	t.Helper()
	conn, err := client.Dial(addr, tlsconfig.Config{}, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	return names
}

// TestEnsureTokens: a fresh data directory gets a tokens file of hashes, an admin and a
// harvester token, all 0600; a second start keeps them; a given tokens file without a
// service token gets a harvester token added.
func TestEnsureTokens(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir}
	admin, err := ensureTokens(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if admin != filepath.Join(dir, AdminTokenName) || cfg.TokensFile != filepath.Join(dir, TokensFileName) || cfg.ServiceTokenFile != filepath.Join(dir, HarvesterTokenName) {
		t.Fatalf("files: %q %+v", admin, cfg)
	}
	for _, f := range []string{admin, cfg.TokensFile, cfg.ServiceTokenFile} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	tokens, err := auth.Load(cfg.TokensFile)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(cfg.TokensFile)
	for file, role := range map[string]auth.Role{admin: auth.RoleAdmin, cfg.ServiceTokenFile: auth.RoleHarvester} {
		tok := readToken(t, file)
		if p, ok := tokens.Authenticate(tok); !ok || !p.Has(role) || len(p.Roles) != 1 {
			t.Errorf("%s: %v %v", file, p, ok)
		}
		if strings.Contains(string(data), tok) {
			t.Errorf("the tokens file holds a token, not only its hash")
		}
	}

	again := Config{DataDir: dir}
	if _, err := ensureTokens(&again); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(cfg.TokensFile); string(after) != string(data) {
		t.Error("a second start changed the tokens file")
	}

	own := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(own, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	given := Config{DataDir: t.TempDir(), TokensFile: own}
	if admin, err := ensureTokens(&given); err != nil || admin != "" {
		t.Fatalf("given tokens file: %q %v", admin, err)
	}
	if tokens, err := auth.Load(own); err != nil || tokens.Len() != 1 {
		t.Fatalf("given tokens file should have gained the harvester token: %v", err)
	}
}
