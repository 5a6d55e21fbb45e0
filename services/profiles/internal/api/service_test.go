package api

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// fixedNow is the test clock: harvest start dates after it are "in the future".
var fixedNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const apiKey = "libris-api-key-0123456789abcdef"

type fixture struct {
	profiles profilesv1.ProfileServiceClient
	creds    profilesv1.ProfileCredentialsServiceClient
	dbPath   string
	store    *store.Store // the service's, for tests that reach below the API
}

func setup(t *testing.T) fixture {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "profiles.db")
	st, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := secrets.NewKeyring(bytes.Repeat([]byte{9}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, keys, func() time.Time { return fixedNow })
	conn := servertest.Dial(t, func(s *grpc.Server) {
		profilesv1.RegisterProfileServiceServer(s, svc)
		profilesv1.RegisterProfileCredentialsServiceServer(s, svc)
	})
	return fixture{profilesv1.NewProfileServiceClient(conn), profilesv1.NewProfileCredentialsServiceClient(conn), dbPath, st}
}

func general(code string) *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{Code: code, DisplayName: "Libris " + code, Description: "borrowing requests"}
}

// systemPart is the wizard's second step for Libris.
func systemPart(name string) *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{
		Name:                   name,
		System:                 typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "https://iller.libris.kb.se/librisfjarrlan/api", LibraryCode: "Gbg"}},
		ResourceSharingLibrary: "MAIN",
		ApiKey:                 apiKey,
		Active:                 true,
		HarvestStart:           &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2015, Month: 4, Day: 1}},
		Schedule: &profilesv1.Schedule{
			Kind:     &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, Time: &typev1.TimeOfDay{Hours: 6}}},
			TimeZone: "Europe/Stockholm",
		},
	}
}

var systemMask = &fieldmaskpb.FieldMask{Paths: []string{"system", "libris", "resource_sharing_library", "api_key", "active", "harvest_start", "schedule"}}

// createRunnable creates a profile in the two wizard steps.
func createRunnable(t *testing.T, f fixture, code string) *profilesv1.IntegrationProfile {
	t.Helper()
	ctx := context.Background()
	p, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general(code)})
	if err != nil {
		t.Fatal(err)
	}
	p, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: systemPart(p.Name), UpdateMask: systemMask})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTwoStepWizardMakesProfileRunnable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("LIBRIS1")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "integrationProfiles/LIBRIS1" || p.IntegrationType != profilesv1.IntegrationType_INTEGRATION_TYPE_RESOURCE_SHARING || p.Etag == "" || p.CreateTime == nil {
		t.Fatalf("created: %v", p)
	}
	want := []string{"system", "resource_sharing_library", "api_key", "harvest_start"}
	if p.Readiness.Runnable || !slices.Equal(p.Readiness.MissingFields, want) {
		t.Fatalf("readiness after step 1 = %v, want missing %v", p.Readiness, want)
	}

	p, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: systemPart(p.Name), UpdateMask: systemMask})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Readiness.Runnable || len(p.Readiness.MissingFields) != 0 {
		t.Fatalf("readiness after step 2 = %v", p.Readiness)
	}
	if p.ApiKey != "" || !p.ApiKeySet {
		t.Fatalf("api key returned or not recorded: %q %v", p.ApiKey, p.ApiKeySet)
	}
	if p.HarvestStart.Granularity != profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY {
		t.Fatalf("granularity default: %v", p.HarvestStart.Granularity)
	}
	got, err := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	if err != nil || !proto.Equal(got, p) {
		t.Fatalf("get = %v, %v; want %v", got, err, p)
	}
	c, err := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	if err != nil || c.ApiKey != apiKey || c.Etag != p.Etag {
		t.Fatalf("credentials = %v, %v", c, err)
	}
}

func TestDatabaseFileNeverHoldsPlaintextKey(t *testing.T) {
	f := setup(t)
	createRunnable(t, f, "SECRETS")
	raw, err := os.ReadFile(f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(apiKey)) {
		t.Fatal("the bbolt file contains the plaintext API key")
	}
	// The key is still usable: it was stored, just not in plaintext.
	c, err := f.creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/SECRETS"})
	if err != nil || c.ApiKey != apiKey {
		t.Fatalf("credentials = %v, %v", c, err)
	}
}

func TestCreateInvalid(t *testing.T) {
	f := setup(t)
	tomorrow := &typev1.Date{Year: 2026, Month: 11, Day: 28}
	for _, tc := range []struct {
		name   string
		mutate func(p *profilesv1.IntegrationProfile)
		fields []string
	}{
		{"bad code", func(p *profilesv1.IntegrationProfile) { p.Code = "has space" }, []string{"integration_profile.code"}},
		{"missing display name", func(p *profilesv1.IntegrationProfile) { p.DisplayName = " " }, []string{"integration_profile.display_name"}},
		{"long description", func(p *profilesv1.IntegrationProfile) { p.Description = string(make([]byte, 2001)) }, []string{"integration_profile.description"}},
		{"ftp base url", func(p *profilesv1.IntegrationProfile) { p.GetLibris().BaseUrl = "ftp://libris.kb.se" }, []string{"integration_profile.libris.base_url"}},
		{"base url with credentials", func(p *profilesv1.IntegrationProfile) { p.GetLibris().BaseUrl = "https://u:p@libris.kb.se" }, []string{"integration_profile.libris.base_url"}},
		{"empty sigel", func(p *profilesv1.IntegrationProfile) { p.GetLibris().LibraryCode = "" }, []string{"integration_profile.libris.library_code"}},
		{"sigel with space", func(p *profilesv1.IntegrationProfile) { p.GetLibris().LibraryCode = "G b" }, []string{"integration_profile.libris.library_code"}},
		{"config for other system", func(p *profilesv1.IntegrationProfile) { p.System = typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT }, []string{"integration_profile.system"}},
		{"bad netpunkt agency", func(p *profilesv1.IntegrationProfile) {
			p.System = typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT
			p.SystemConfig = &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://netpunkt.dk", AgencyId: "71"}}
		}, []string{"integration_profile.netpunkt.agency_id"}},
		{"bad library code", func(p *profilesv1.IntegrationProfile) { p.ResourceSharingLibrary = "a/b" }, []string{"integration_profile.resource_sharing_library"}},
		{"unknown zone", func(p *profilesv1.IntegrationProfile) { p.Schedule.TimeZone = "Mars/Olympus" }, []string{"integration_profile.schedule.time_zone"}},
		{"bad weekday", func(p *profilesv1.IntegrationProfile) { p.Schedule.GetWeekly().Day = 0 }, []string{"integration_profile.schedule.weekly.day"}},
		{"bad time", func(p *profilesv1.IntegrationProfile) { p.Schedule.GetWeekly().Time.Hours = 24 }, []string{"integration_profile.schedule.weekly.time"}},
		{"daily without time", func(p *profilesv1.IntegrationProfile) {
			p.Schedule.Kind = &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{}}
		}, []string{"integration_profile.schedule.daily.time"}},
		{"interval zero", func(p *profilesv1.IntegrationProfile) {
			p.Schedule.Kind = &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{}}
		}, []string{"integration_profile.schedule.interval.minutes"}},
		{"future harvest start", func(p *profilesv1.IntegrationProfile) { p.HarvestStart.Date = tomorrow }, []string{"integration_profile.harvest_start.date"}},
		{"invalid date", func(p *profilesv1.IntegrationProfile) {
			p.HarvestStart.Date = &typev1.Date{Year: 2025, Month: 2, Day: 30}
		}, []string{"integration_profile.harvest_start.date"}},
		{"second granularity on libris", func(p *profilesv1.IntegrationProfile) {
			p.HarvestStart.Granularity = profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND
		}, []string{"integration_profile.harvest_start.granularity"}},
		{"key with trailing newline", func(p *profilesv1.IntegrationProfile) { p.ApiKey = apiKey + "\n" }, []string{"integration_profile.api_key"}},
		{"many at once", func(p *profilesv1.IntegrationProfile) { p.Code = ""; p.DisplayName = "" }, []string{"integration_profile.code", "integration_profile.display_name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := systemPart("")
			p.Code, p.DisplayName = "C1", "Profile"
			tc.mutate(p)
			_, err := f.profiles.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
			servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.fields...)
		})
	}
	_, err := f.profiles.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "integration_profile")
	// Nothing invalid was stored.
	list, err := f.profiles.ListIntegrationProfiles(context.Background(), &profilesv1.ListIntegrationProfilesRequest{})
	if err != nil || len(list.IntegrationProfiles) != 0 {
		t.Fatalf("list after invalid creates = %v, %v", list, err)
	}
}

func TestCreateDuplicateIdempotentAndValidateOnly(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("DUP"), RequestId: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("DUP"), RequestId: "r-1"})
	if err != nil || !proto.Equal(first, again) {
		t.Fatalf("retry with same request_id = %v, %v", again, err)
	}
	_, err = f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("DUP")})
	servertest.RequireError(t, err, codes.AlreadyExists, "PROFILE_ALREADY_EXISTS")

	_, err = f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("DRY"), ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/DRY"})
	servertest.RequireError(t, err, codes.NotFound, "PROFILE_NOT_FOUND")
}

func TestGetInvalidAndMissing(t *testing.T) {
	f := setup(t)
	for _, name := range []string{"", "profiles/X", "integrationProfiles/", "integrationProfiles/a/b"} {
		_, err := f.profiles.GetIntegrationProfile(context.Background(), &profilesv1.GetIntegrationProfileRequest{Name: name})
		servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	}
	_, err := f.profiles.GetIntegrationProfile(context.Background(), &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/NOPE"})
	servertest.RequireError(t, err, codes.NotFound, "PROFILE_NOT_FOUND")
}

func TestListPagesAndFilters(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, c := range []string{"A", "B", "C", "D", "E"} {
		if c == "B" || c == "D" {
			createRunnable(t, f, c) // active Libris profiles
			continue
		}
		if _, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general(c)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	req := &profilesv1.ListIntegrationProfilesRequest{PageSize: 2}
	for pages := 0; ; pages++ {
		resp, err := f.profiles.ListIntegrationProfiles(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.IntegrationProfiles {
			got = append(got, p.Code)
			if p.ApiKey != "" {
				t.Fatal("list returned a key")
			}
		}
		if resp.NextPageToken == "" {
			if pages != 2 {
				t.Fatalf("pages = %d, want 3", pages+1)
			}
			break
		}
		req.PageToken = resp.NextPageToken
	}
	if !slices.Equal(got, []string{"A", "B", "C", "D", "E"}) {
		t.Fatalf("paged codes = %v", got)
	}
	resp, err := f.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{ActiveOnly: true, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, PageSize: 1})
	if err != nil || len(resp.IntegrationProfiles) != 1 || resp.IntegrationProfiles[0].Code != "B" {
		t.Fatalf("filtered page 1 = %v, %v", resp, err)
	}
	// A token is bound to its filters.
	_, err = f.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageToken: resp.NextPageToken})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
	_, err = f.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageSize: -1})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_size")
	_, err = f.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageToken: "garbage"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
}

func TestUpdate(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := createRunnable(t, f, "UPD")

	// Implied mask: only the fields set are changed.
	got, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: "Renamed"}})
	if err != nil || got.DisplayName != "Renamed" || got.GetLibris().GetLibraryCode() != "Gbg" || got.Etag == p.Etag {
		t.Fatalf("implied mask update = %v, %v", got, err)
	}
	// Subfield path, as the REST gateway sends for PATCH {"libris":{"base_url":...}}.
	got, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "http://localhost:8081/api"}}},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"libris.base_url"}},
	})
	if err != nil || got.GetLibris().BaseUrl != "http://localhost:8081/api" || got.GetLibris().LibraryCode != "Gbg" {
		t.Fatalf("subfield update = %v, %v", got, err)
	}
	// Clearing the key makes the profile not runnable, naming api_key.
	got, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"api_key"}}})
	if err != nil || got.ApiKeySet || got.Readiness.Runnable || !slices.Equal(got.Readiness.MissingFields, []string{"api_key"}) {
		t.Fatalf("clear key = %v, %v", got, err)
	}
	_, err = f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	servertest.RequireError(t, err, codes.FailedPrecondition, "API_KEY_MISSING")

	// Stale etag → ABORTED, nothing changes.
	_, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: "X", Etag: p.Etag}})
	servertest.RequireError(t, err, codes.Aborted, "ETAG_MISMATCH")
	// Current etag → accepted; validate_only stores nothing.
	cur, _ := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	dry, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: "Dry", Etag: cur.Etag}, ValidateOnly: true})
	if err != nil || dry.DisplayName != "Dry" {
		t.Fatalf("validate_only = %v, %v", dry, err)
	}
	after, _ := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	if !proto.Equal(after, cur) {
		t.Fatal("validate_only changed the profile")
	}

	for _, tc := range []struct {
		name   string
		req    *profilesv1.UpdateIntegrationProfileRequest
		code   codes.Code
		reason string
		fields []string
	}{
		{"no profile", &profilesv1.UpdateIntegrationProfileRequest{}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"integration_profile"}},
		{"bad name", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: "x", DisplayName: "y"}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"integration_profile.name"}},
		{"missing", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: "integrationProfiles/NOPE", DisplayName: "y"}}, codes.NotFound, "PROFILE_NOT_FOUND", nil},
		{"nothing to update", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"update_mask"}},
		{"immutable code", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, Code: "NEW"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"code"}}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"update_mask"}},
		{"unknown path", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"libris.nope"}}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"update_mask"}},
		{"system is set once", &profilesv1.UpdateIntegrationProfileRequest{
			IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT, SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://netpunkt.dk", AgencyId: "710100"}}},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"system", "netpunkt"}},
		}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"integration_profile.system"}},
		{"merged result invalid", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, DisplayName: ""}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"integration_profile.display_name"}},
		{"bad key", &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: " k"}}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"integration_profile.api_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.profiles.UpdateIntegrationProfile(ctx, tc.req)
			servertest.RequireError(t, err, tc.code, tc.reason, tc.fields...)
		})
	}
	final, _ := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	if !proto.Equal(final, cur) {
		t.Fatal("a refused update changed the profile")
	}
}

func TestDelete(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := createRunnable(t, f, "DEL")
	_, err := f.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{Name: p.Name, Etag: "stale"})
	servertest.RequireError(t, err, codes.Aborted, "ETAG_MISMATCH")
	_, err = f.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{Name: "bad"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	if _, err := f.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{Name: p.Name, Etag: p.Etag}); err != nil {
		t.Fatal(err)
	}
	_, err = f.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{Name: p.Name})
	servertest.RequireError(t, err, codes.NotFound, "PROFILE_NOT_FOUND")
	_, err = f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	servertest.RequireError(t, err, codes.NotFound, "PROFILE_NOT_FOUND")
	// The code is free again, and the old secret did not survive.
	q, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("DEL")})
	if err != nil || q.ApiKeySet {
		t.Fatalf("re-create = %v, %v", q, err)
	}
}

func TestGetProfileCredentialsInvalid(t *testing.T) {
	f := setup(t)
	_, err := f.creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: ""})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
}

// TestStorageFailureIsUnavailable injects a storage failure (the bbolt file closed
// under the running service): callers get UNAVAILABLE, not INTERNAL or a crash.
func TestStorageFailureIsUnavailable(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "profiles.db")
	st, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := secrets.NewKeyring(bytes.Repeat([]byte{9}, secrets.KeySize))
	svc := New(st, keys, func() time.Time { return fixedNow })
	conn := servertest.Dial(t, func(s *grpc.Server) { profilesv1.RegisterProfileServiceServer(s, svc) })
	client := profilesv1.NewProfileServiceClient(conn)
	st.Close()
	_, err = client.GetIntegrationProfile(context.Background(), &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/A"})
	servertest.RequireError(t, err, codes.Unavailable, "STORAGE_UNAVAILABLE")
	_, err = client.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("A")})
	servertest.RequireError(t, err, codes.Unavailable, "STORAGE_UNAVAILABLE")
}

func TestWriteBackWithStarKeepsKeyAndRefusesImmutableChanges(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := createRunnable(t, f, "STAR")
	got, err := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	if err != nil {
		t.Fatal(err)
	}
	got.DisplayName = "Edited in a UI"
	upd, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: got, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.DisplayName != "Edited in a UI" || !upd.ApiKeySet || !upd.Readiness.Runnable {
		t.Fatalf("a '*' write-back of a read profile must keep its key: %v", upd)
	}
	if c, err := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name}); err != nil || c.ApiKey != apiKey {
		t.Fatalf("credentials after '*' update: %v %v", c, err)
	}
	// Naming api_key explicitly still replaces it.
	upd, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: "rotated-key"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"api_key"}},
	})
	if c, _ := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name}); err != nil || c.GetApiKey() != "rotated-key" {
		t.Fatalf("explicit api_key update: %v %v", upd, err)
	}

	for _, tc := range []struct {
		name   string
		in     *profilesv1.IntegrationProfile
		fields []string
	}{
		{"code", &profilesv1.IntegrationProfile{Name: p.Name, Code: "OTHER", DisplayName: "x"}, []string{"integration_profile.code"}},
		{"integration type", &profilesv1.IntegrationProfile{Name: p.Name, IntegrationType: 7, DisplayName: "x"}, []string{"integration_profile.integration_type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: tc.in})
			servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.fields...)
		})
	}
}

func TestRequestIDRules(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("ONE"), RequestId: "req"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("TWO"), RequestId: "req"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "request_id")
	_, err = f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: general("TWO"), RequestId: strings.Repeat("r", 129)})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "request_id")
	if _, err := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/TWO"}); err == nil {
		t.Fatal("a refused create stored a profile")
	}
}

func TestUnknownEnumNumbersAndFutureInstant(t *testing.T) {
	f := setup(t)
	netpunkt := func() *profilesv1.IntegrationProfile {
		return &profilesv1.IntegrationProfile{
			Code: "NP", DisplayName: "Netpunkt", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
			SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://netpunkt.dk/api", AgencyId: "710100"}},
			HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2026, Month: 11, Day: 27}, Granularity: profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND, Time: &typev1.TimeOfDay{Hours: 9, Minutes: 59}},
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*profilesv1.IntegrationProfile)
		fields []string
	}{
		{"integration type 9", func(p *profilesv1.IntegrationProfile) { p.IntegrationType = 9 }, []string{"integration_profile.integration_type"}},
		{"system 9", func(p *profilesv1.IntegrationProfile) { p.System = 9; p.SystemConfig = nil }, []string{"integration_profile.system"}},
		{"granularity 9", func(p *profilesv1.IntegrationProfile) { p.HarvestStart.Granularity = 9 }, []string{"integration_profile.harvest_start.granularity", "integration_profile.harvest_start.time"}},
		{"later today at second granularity", func(p *profilesv1.IntegrationProfile) { p.HarvestStart.Time.Hours = 23 }, []string{"integration_profile.harvest_start.time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netpunkt()
			tc.mutate(p)
			_, err := f.profiles.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
			servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.fields...)
		})
	}
	// Earlier today (the test clock is 10:00 UTC) is fine.
	if _, err := f.profiles.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: netpunkt()}); err != nil {
		t.Fatal(err)
	}
	_, err := f.profiles.ListIntegrationProfiles(context.Background(), &profilesv1.ListIntegrationProfilesRequest{System: 9})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "system")
}

// TestCredentialsWithAnotherKeyAreRefused: a server started with the wrong encryption
// key (or after a rotation that dropped the old key) reports SECRET_UNDECRYPTABLE by key
// id, never garbage or the ciphertext.
func TestCredentialsWithAnotherKeyAreRefused(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wrong, _ := secrets.NewKeyring(bytes.Repeat([]byte{7}, secrets.KeySize))
	sealed, _ := secrets.NewKeyring(bytes.Repeat([]byte{9}, secrets.KeySize))
	ct, _ := sealed.Seal([]byte(apiKey), store.CredentialAAD("integrationProfiles/ROT", ""))
	if _, _, err := st.Create(audit.Call{Principal: "tester", Method: "Test"}, store.Record{Profile: general("ROT"), Secret: &store.Sealed{Ciphertext: ct}}); err != nil {
		t.Fatal(err)
	}
	svc := New(st, wrong, func() time.Time { return fixedNow })
	conn := servertest.Dial(t, func(s *grpc.Server) { profilesv1.RegisterProfileCredentialsServiceServer(s, svc) })
	_, err = profilesv1.NewProfileCredentialsServiceClient(conn).GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/ROT"})
	servertest.RequireError(t, err, codes.FailedPrecondition, "SECRET_UNDECRYPTABLE")
	if strings.Contains(err.Error(), apiKey) {
		t.Fatal("error leaks the key")
	}
}
