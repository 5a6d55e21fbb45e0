package api

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// librisOrigin is the origin of systemPart's base URL.
const librisOrigin = "https://iller.libris.kb.se:443"

func setBase(t *testing.T, f fixture, name, base string, alsoKey string) *profilesv1.IntegrationProfile {
	t.Helper()
	in := &profilesv1.IntegrationProfile{Name: name, SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: base}}}
	mask := []string{"libris.base_url"}
	if alsoKey != "" {
		in.ApiKey, mask = alsoKey, append(mask, "api_key")
	}
	p, err := f.profiles.UpdateIntegrationProfile(context.Background(), &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// refusedFor checks that the credential read is refused because the key was entered for
// origin, naming it and never the key.
func refusedFor(t *testing.T, f fixture, name, origin string) {
	t.Helper()
	c, err := f.creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: name})
	servertest.RequireError(t, err, codes.FailedPrecondition, "API_KEY_ORIGIN_CHANGED")
	if c.GetApiKey() != "" || strings.Contains(err.Error(), apiKey) {
		t.Fatal("a refused credential read revealed the key")
	}
	msg := status.Convert(err).Message()
	if !strings.Contains(msg, "enter it again") || (origin != "" && !strings.Contains(msg, origin)) {
		t.Fatalf("refusal %q does not say to enter the key again for the new address of a key entered for %q", msg, origin)
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Metadata["origin"] != origin {
			t.Fatalf("ErrorInfo origin = %q, want %q", info.Metadata["origin"], origin)
		}
	}
}

// TestKeyBoundToOrigin: the credential is sealed to the origin of the base URL it was
// entered for. Another path on that origin keeps it usable; another origin makes it
// unusable (readiness, list and the harvester's read all say so) until it is entered
// again, alone or in the same update as the new base URL.
func TestKeyBoundToOrigin(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := createRunnable(t, f, "BOUND")
	credsOK := func(want string) {
		t.Helper()
		c, err := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
		if err != nil || c.ApiKey != apiKey || c.Origin != want {
			t.Fatalf("credentials = origin %q, key %v, %v; want the key for %s", c.GetOrigin(), c.GetApiKey() == apiKey, err, want)
		}
	}
	credsOK(librisOrigin)

	// The same origin spelled otherwise, with another path: nothing changes.
	if got := setBase(t, f, p.Name, "https://ILLER.libris.kb.se:443/v2/librisfjarrlan/api/", ""); !got.Readiness.Runnable {
		t.Fatalf("readiness after a path change = %v", got.Readiness)
	}
	credsOK(librisOrigin)

	// Another origin: scheme, host or port.
	for _, base := range []string{"https://evil.example/librisfjarrlan/api", "http://iller.libris.kb.se/librisfjarrlan/api", "https://iller.libris.kb.se:8443/librisfjarrlan/api"} {
		got := setBase(t, f, p.Name, base, "")
		if got.Readiness.Runnable || !slices.Equal(got.Readiness.MissingFields, []string{"api_key"}) || !got.ApiKeySet {
			t.Fatalf("%s: readiness %v, api_key_set %v; want api_key missing, still set", base, got.Readiness, got.ApiKeySet)
		}
		list, err := f.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{})
		if err != nil || len(list.IntegrationProfiles) != 1 || list.IntegrationProfiles[0].Readiness.Runnable {
			t.Fatalf("%s: list = %v, %v; want the profile not runnable", base, list, err)
		}
		refusedFor(t, f, p.Name, librisOrigin)
	}
	// Back to the origin it was entered for: usable again without entering it.
	setBase(t, f, p.Name, "https://iller.libris.kb.se/librisfjarrlan/api", "")
	credsOK(librisOrigin)

	// The key with the new base URL in one update: sealed for the new origin, and so no
	// longer for the old one.
	if got := setBase(t, f, p.Name, "https://libris.example:9443/api", apiKey); !got.Readiness.Runnable {
		t.Fatalf("readiness after a base URL and key update = %v", got.Readiness)
	}
	credsOK("https://libris.example:9443")
	setBase(t, f, p.Name, "https://iller.libris.kb.se/librisfjarrlan/api", "")
	refusedFor(t, f, p.Name, "https://libris.example:9443")

	// The key alone, entered again after the move.
	got, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: apiKey}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"api_key"}}})
	if err != nil || !got.Readiness.Runnable {
		t.Fatalf("key entered again: %v, %v", got.GetReadiness(), err)
	}
	credsOK(librisOrigin)
}

// TestKeyEnteredWithoutBaseURL: a key entered before the profile has a base URL is bound
// to no address, so the first base URL set does not inherit it.
func TestKeyEnteredWithoutBaseURL(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g := general("EARLY")
	g.ApiKey = apiKey
	p, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: g})
	if err != nil || !p.ApiKeySet || slices.Contains(p.Readiness.MissingFields, "api_key") {
		t.Fatalf("created = %v, %v; want the key set and not missing", p, err)
	}
	part := systemPart(p.Name)
	part.ApiKey = ""
	p, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: part,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"system", "libris", "resource_sharing_library", "harvest_start"}}})
	if err != nil || p.Readiness.Runnable || !slices.Equal(p.Readiness.MissingFields, []string{"api_key"}) {
		t.Fatalf("after the system part = %v, %v; want api_key missing", p.GetReadiness(), err)
	}
	refusedFor(t, f, p.Name, "")
}

// TestMovedCiphertextDoesNotOpen: the origin beside the ciphertext is bound into it, so
// rewriting the stored origin (someone with the data file) does not make it usable
// elsewhere: the read fails to decrypt rather than hand the key over.
func TestMovedCiphertextDoesNotOpen(t *testing.T) {
	f := setup(t)
	p := createRunnable(t, f, "TAMPER")
	setBase(t, f, p.Name, "https://evil.example/api", "")
	if _, err := f.store.Update(audit.Call{Principal: "intruder", Method: "Test"}, "TAMPER", func(cur store.Record) (store.Record, bool, error) {
		cur.Secret.Origin = "https://evil.example:443"
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	c, err := f.creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	servertest.RequireError(t, err, codes.FailedPrecondition, "SECRET_UNDECRYPTABLE")
	if c.GetApiKey() != "" || strings.Contains(err.Error(), apiKey) {
		t.Fatal("a tampered origin revealed the key")
	}
}

// TestReceiptPasswordIsNotBoundToOrigin: Netpunkt sends the receipt password to us, so
// moving the profile to another origin leaves it as it was and receipts are still
// accepted; only the DBC password (the credential we send) must be entered again.
func TestReceiptPasswordIsNotBoundToOrigin(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p, err := f.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: netpunktProfile("NPMOVE")})
	if err != nil {
		t.Fatal(err)
	}
	p, err = f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://openfindorder.example/3.0/"}}},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"netpunkt.base_url"}}})
	if err != nil || !slices.Equal(p.Readiness.MissingFields, []string{"api_key"}) {
		t.Fatalf("moved: %v, %v", p.GetReadiness(), err)
	}
	// Receipts keep arriving meanwhile: the receipt password is handed out, the key is not.
	c, err := f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	if err != nil || c.ApiKey != "" || c.ReceiptPassword != receiptPassword || c.Origin == "https://openfindorder.example:443" {
		t.Fatalf("moved: credentials = origin %q, key given %v, receipt password %v, %v", c.GetOrigin(), c.GetApiKey() != "", c.GetReceiptPassword() == receiptPassword, err)
	}
	if _, err := f.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: p.Name, ApiKey: apiKey}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"api_key"}}}); err != nil {
		t.Fatal(err)
	}
	c, err = f.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.Name})
	if err != nil || c.ApiKey != apiKey || c.ReceiptPassword != receiptPassword || c.Origin != "https://openfindorder.example:443" {
		t.Fatalf("credentials = origin %q, key %v, receipt password %v, %v", c.GetOrigin(), c.GetApiKey() == apiKey, c.GetReceiptPassword() == receiptPassword, err)
	}
}
