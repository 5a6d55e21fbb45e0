package api

import (
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/server/servertest"
)

const receiptPassword = "rcpt-S3CRET-0b7d"

func netpunktProfile(code string) *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{
		Code: code, DisplayName: "Netpunkt " + code, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
		SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{
			BaseUrl: "https://openfindorder.addi.dk/2.8/", AgencyId: " dk-775100 ", User: " netpunkt ", Group: "775100"}},
		ResourceSharingLibrary: "MAIN",
		ApiKey:                 apiKey,
		ReceiptPassword:        receiptPassword,
		HarvestStart:           &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2026, Month: 1, Day: 1}},
	}
}

// TestNetpunktProfile: the agency id is normalised, both secrets are stored sealed and
// never returned, the harvester gets both, and the receipt password changes only when
// named.
func TestNetpunktProfile(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	p, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: netpunktProfile("NP")})
	if err != nil {
		t.Fatal(err)
	}
	c := p.GetNetpunkt()
	if c.AgencyId != "775100" || c.User != "netpunkt" || c.Group != "775100" {
		t.Fatalf("netpunkt config = %v", c)
	}
	if p.ReceiptPassword != "" || !p.ReceiptPasswordSet || p.ApiKey != "" || !p.ApiKeySet || !p.GetReadiness().GetRunnable() {
		t.Fatalf("profile = %v", p)
	}
	raw, err := os.ReadFile(f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), receiptPassword) {
		t.Fatal("the bbolt file holds the plaintext receipt password")
	}
	creds, err := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	if err != nil || creds.ApiKey != apiKey || creds.ReceiptPassword != receiptPassword {
		t.Fatalf("credentials = %v, %v", creds, err)
	}

	// Writing back what Get returned, with "*", keeps both secrets.
	got, err := f.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: p.Name})
	if err != nil {
		t.Fatal(err)
	}
	got.DisplayName = "Netpunkt renamed"
	if _, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: got, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	if creds, _ := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name}); creds.GetReceiptPassword() != receiptPassword {
		t.Fatal("a write-back with * lost the receipt password")
	}

	// Naming it with "" removes it; the API key stays.
	up, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"receipt_password"}}})
	if err != nil || up.ReceiptPasswordSet || !up.ApiKeySet {
		t.Fatalf("remove = %v, %v", up, err)
	}
	if creds, _ := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name}); creds.GetReceiptPassword() != "" || creds.GetApiKey() != apiKey {
		t.Fatalf("after removal: %v", creds)
	}
}

// TestPushOnlyNetpunktProfileHasCredentials: a profile with only a receipt password still
// serves it to the harvester (pushed receipts need it; pulling reports the missing key).
func TestPushOnlyNetpunktProfileHasCredentials(t *testing.T) {
	f := setup(t)
	p := netpunktProfile("PUSH")
	p.ApiKey = ""
	created, err := f.profiles.CreateIntegrationProfile(t.Context(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(created.GetReadiness().GetMissingFields(), "api_key") {
		t.Fatalf("readiness = %v", created.GetReadiness())
	}
	creds, err := f.creds.GetProfileCredentials(t.Context(), &profilesv1.GetProfileCredentialsRequest{Name: created.Name})
	if err != nil || creds.ApiKey != "" || creds.ReceiptPassword != receiptPassword {
		t.Fatalf("credentials = %v, %v", creds, err)
	}
}

func TestNetpunktProfileInvalid(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		name   string
		mutate func(*profilesv1.IntegrationProfile)
		field  string
	}{
		{"agency of another country", func(p *profilesv1.IntegrationProfile) { p.GetNetpunkt().AgencyId = "SE-775100" }, "integration_profile.netpunkt.agency_id"},
		{"agency too short", func(p *profilesv1.IntegrationProfile) { p.GetNetpunkt().AgencyId = "DK-7751" }, "integration_profile.netpunkt.agency_id"},
		{"user with a control character", func(p *profilesv1.IntegrationProfile) { p.GetNetpunkt().User = "a\nb" }, "integration_profile.netpunkt.user"},
		{"group too long", func(p *profilesv1.IntegrationProfile) { p.GetNetpunkt().Group = strings.Repeat("7", 65) }, "integration_profile.netpunkt.group"},
		{"receipt password with spaces", func(p *profilesv1.IntegrationProfile) { p.ReceiptPassword = " x " }, "integration_profile.receipt_password"},
		{"receipt password of 1 character", func(p *profilesv1.IntegrationProfile) { p.ReceiptPassword = "x" }, "integration_profile.receipt_password"},
		{"receipt password of 15 characters", func(p *profilesv1.IntegrationProfile) { p.ReceiptPassword = receiptPassword[:15] }, "integration_profile.receipt_password"},
		// 16 bytes, but 8 characters.
		{"receipt password of 8 two-byte characters", func(p *profilesv1.IntegrationProfile) { p.ReceiptPassword = "åäöåäöåä" }, "integration_profile.receipt_password"},
		{"receipt password on Libris", func(p *profilesv1.IntegrationProfile) {
			p.System = typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS
			p.SystemConfig = &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "https://iller.libris.kb.se/librisfjarrlan/api", LibraryCode: "Gbg"}}
		}, "integration_profile.receipt_password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netpunktProfile("BAD")
			tc.mutate(p)
			_, err := f.profiles.CreateIntegrationProfile(t.Context(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
			servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.field)
			if strings.Contains(err.Error(), receiptPassword) {
				t.Fatal("the error quotes the password")
			}
		})
	}
}

// TestReceiptPasswordLength: 16 characters is the shortest receipt password accepted,
// on create and on update, and the refusal says why and how long it must be.
func TestReceiptPasswordLength(t *testing.T) {
	f := setup(t)
	p := netpunktProfile("LEN")
	p.ReceiptPassword = strings.Repeat("ä", 16)
	created, err := f.profiles.CreateIntegrationProfile(t.Context(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
	if err != nil || !created.ReceiptPasswordSet {
		t.Fatalf("16 characters: %v, %v", created, err)
	}
	_, err = f.profiles.UpdateIntegrationProfile(t.Context(), &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: created.Name, ReceiptPassword: "hunter2"},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"receipt_password"}}})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "integration_profile.receipt_password")
	if !strings.Contains(err.Error(), "at least 16 characters") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("refusal = %v; want the rule, not the password", err)
	}
}

// TestAuditNamesReceiptPasswordOnly: setting the receipt password is recorded by field
// name, never by value.
func TestAuditNamesReceiptPasswordOnly(t *testing.T) {
	e := newAuditEnv(t)
	ctx := t.Context()
	p, err := e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: netpunktProfile("NPA")}, e.as["ada"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ReceiptPassword: "another-" + receiptPassword},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"receipt_password"}}}, e.as["ada"]); err != nil {
		t.Fatal(err)
	}
	events := e.events(t, p.Name)
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	if got := events[0].GetChangedFields(); !slices.Equal(got, []string{"receipt_password"}) {
		t.Fatalf("update event fields = %v", got)
	}
	if got := events[1].GetChangedFields(); !slices.Contains(got, "receipt_password") || !slices.Contains(got, "api_key") {
		t.Fatalf("create event fields = %v", got)
	}
	for _, ev := range events {
		if strings.Contains(ev.String(), receiptPassword) {
			t.Fatalf("event %s holds the receipt password", ev.GetName())
		}
	}
	assertNoSecrets(t, events)
}
