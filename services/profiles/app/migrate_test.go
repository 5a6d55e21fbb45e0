package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// v1Profile is a profile as a version-1 file holds it, with its secrets sealed the way
// version 1 sealed them.
type v1Profile struct {
	code, base, apiKey, receiptPassword string
	sealedWith                          byte // the key byte its secrets are sealed under
}

// writeV1 writes a profiles data file of schema version 1, spelled out here rather than
// with the store's code: its buckets, its version record, profiles as protobuf, and
// secrets as bare ciphertexts whose associated data is the profile's name (the receipt
// password's: the name + "#receipt_password").
func writeV1(t *testing.T, path string, profiles []v1Profile) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := map[string]*bolt.Bucket{}
		for _, b := range []string{"meta", "profiles", "secrets", "receipt_secrets", "create_requests", "create_requests_by_record", "audit_events", "audit_events_by_resource"} {
			bk, err := tx.CreateBucket([]byte(b))
			if err != nil {
				return err
			}
			buckets[b] = bk
		}
		if err := buckets["meta"].Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 1)); err != nil {
			return err
		}
		for _, v := range profiles {
			name := "integrationProfiles/" + v.code
			p := &profilesv1.IntegrationProfile{
				Name: name, Code: v.code, DisplayName: v.code, IntegrationType: profilesv1.IntegrationType_INTEGRATION_TYPE_RESOURCE_SHARING,
				System:                 typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
				SystemConfig:           &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: v.base, AgencyId: "775100", User: "u", Group: "775100"}},
				ResourceSharingLibrary: "MAIN", ApiKeySet: true, ReceiptPasswordSet: v.receiptPassword != "", Etag: "e1",
				HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2026, Month: 1, Day: 1}, Granularity: profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY},
			}
			b, err := proto.Marshal(p)
			if err != nil {
				return err
			}
			if err := buckets["profiles"].Put([]byte(v.code), b); err != nil {
				return err
			}
			kr, err := secrets.NewKeyring(bytes.Repeat([]byte{v.sealedWith}, 32))
			if err != nil {
				return err
			}
			sealed, err := kr.Seal([]byte(v.apiKey), name)
			if err != nil {
				return err
			}
			if err := buckets["secrets"].Put([]byte(v.code), sealed); err != nil {
				return err
			}
			if v.receiptPassword != "" {
				sealed, err := kr.Seal([]byte(v.receiptPassword), name+"#receipt_password")
				if err != nil {
					return err
				}
				if err := buckets["receipt_secrets"].Put([]byte(v.code), sealed); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateBindsCredentialsToOrigin: a data file of schema version 1 holds credentials
// bound to no origin. Opened by this version, each credential its keys open is bound to
// the origin of its profile's base URL before the service serves (one REENCRYPT event
// each), and from then on works only there; the receipt password stays as it was; a
// credential no configured key opens stays unusable, and says why, until its key is
// given; a second start binds nothing again.
func TestMigrateBindsCredentialsToOrigin(t *testing.T) {
	dir := t.TempDir()
	keyA, keyLost := writeKey(t, 0xA), writeKey(t, 0xC)
	writeV1(t, filepath.Join(dir, "profiles.db"), []v1Profile{
		{code: "NP", base: "https://OpenFindOrder.addi.dk/2.8/", apiKey: "dbc-password-np", receiptPassword: "receipt-password-of-np", sealedWith: 0xA},
		{code: "LOST", base: "https://openfindorder.addi.dk/2.8/", apiKey: "dbc-password-lost", sealedWith: 0xC},
	})

	conn, stop := serve(t, dir, Config{SecretKeyFile: keyA})
	ctx := context.Background()
	creds := profilesv1.NewProfileCredentialsServiceClient(conn)
	profiles := profilesv1.NewProfileServiceClient(conn)
	c, err := creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/NP"})
	if err != nil || c.ApiKey != "dbc-password-np" || c.Origin != "https://openfindorder.addi.dk:443" || c.ReceiptPassword != "receipt-password-of-np" {
		t.Fatalf("migrated credentials = origin %q, key %v, receipt password %v, %v", c.GetOrigin(), c.GetApiKey() == "dbc-password-np", c.GetReceiptPassword() == "receipt-password-of-np", err)
	}
	lost, err := profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/LOST"})
	if err != nil || lost.Readiness.Runnable || !slices.Equal(lost.Readiness.MissingFields, []string{"api_key"}) {
		t.Fatalf("unopened credential: %v, %v; want api_key missing", lost.GetReadiness(), err)
	}
	_, err = creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/LOST"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "previous-secret-key-files") {
		t.Fatalf("unopened credential read = %v; want FAILED_PRECONDITION naming --previous-secret-key-files", err)
	}
	// Bound now: another origin makes it unusable.
	if _, err := profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: "integrationProfiles/NP", SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://elsewhere.example/"}}},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"netpunkt.base_url"}}}); err != nil {
		t.Fatal(err)
	}
	// The key is withheld; the receipt password (bound to no origin) is still given.
	if c, err := creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/NP"}); err != nil || c.ApiKey != "" || c.ReceiptPassword != "receipt-password-of-np" || c.Origin != "https://openfindorder.addi.dk:443" {
		t.Fatalf("migrated credential after an origin change = origin %q, key given %v, %v; want the key withheld", c.GetOrigin(), c.GetApiKey() != "", err)
	}
	stop()

	// With the lost key given, the next start binds the last one, and only it.
	conn, stop = serve(t, dir, Config{SecretKeyFile: keyA, PreviousSecretKeyFiles: keyLost})
	c, err = profilesv1.NewProfileCredentialsServiceClient(conn).GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/LOST"})
	if err != nil || c.ApiKey != "dbc-password-lost" || c.Origin != "https://openfindorder.addi.dk:443" {
		t.Fatalf("credential bound at the second start = origin %q, %v", c.GetOrigin(), err)
	}
	stop()

	st, err := store.Open(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, _, err := st.ListAuditEvents(&profilesv1.ListAuditEventsRequest{Parent: "services/profiles", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var bound []string
	for _, e := range events {
		if e.GetAction() == audit.Reencrypt {
			if e.GetPrincipal() != "system" {
				t.Errorf("binding recorded by %q", e.GetPrincipal())
			}
			bound = append(bound, e.GetResource())
		}
	}
	if want := []string{"integrationProfiles/LOST", "integrationProfiles/NP"}; !slices.Equal(bound, want) {
		t.Errorf("binding events = %v, want %v (newest first, one each)", bound, want)
	}
}
