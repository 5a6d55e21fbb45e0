package app

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/profiles/internal/api"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// seed creates profiles with API keys (code → key) in dir's profiles.db, sealed with the
// key in keyFile, the way the service does it.
func seed(t *testing.T, dir, keyFile string, apiKeys map[string]string) {
	t.Helper()
	key, err := secrets.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := api.New(st, kr, time.Now)
	for code, k := range apiKeys {
		if _, err := svc.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{
			IntegrationProfile: &profilesv1.IntegrationProfile{Code: code, DisplayName: code, ApiKey: k},
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// secretsOf returns each profile's sealed secret (code → bytes) as stored.
func secretsOf(t *testing.T, dir string, codes ...string) map[string][]byte {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string][]byte{}
	for _, c := range codes {
		rec, err := st.Get(c)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Secret != nil {
			out[c] = rec.Secret.Ciphertext
		}
	}
	return out
}

// reencrypted lists the resources of the REENCRYPT events in dir's audit trail, newest
// first, checking that each names the rotation and an OS user.
func reencrypted(t *testing.T, dir string) []string {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, _, err := st.ListAuditEvents(&profilesv1.ListAuditEventsRequest{Parent: "services/profiles", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.GetAction() != audit.Reencrypt {
			continue
		}
		if e.GetMethod() != "keys rotate" || !strings.HasPrefix(e.GetPrincipal(), "os-user:") || len(e.GetChangedFields()) != 0 {
			t.Errorf("rotation event %v", e)
		}
		out = append(out, e.GetResource())
	}
	return out
}

func keyIDOf(t *testing.T, keyFile string) string {
	t.Helper()
	k, err := secrets.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return secrets.KeyID(k)
}

// serve runs the profiles service on dir with cfg's keys and returns a client connection
// holding a token that may read decrypted keys, and a stop function that waits for Run.
func serve(t *testing.T, dir string, cfg Config) (*grpc.ClientConn, func()) {
	t.Helper()
	token, line, err := auth.NewToken("test", auth.RoleAdmin, auth.RoleHarvester)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Common = server.Common{DataDir: dir, GRPCAddr: "127.0.0.1:0", Logger: logging.Discard(), TokensFile: tokens}
	addr := make(chan string, 1)
	cfg.Ready = func(g, _ net.Addr) { addr <- g.String() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("profiles did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("profiles did not start")
	}
	conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.BearerToken(token, false)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return conn, func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("profiles: %v", err)
		}
	}
}

// TestRotateKeys: secrets sealed under key A are re-encrypted under key B in one go; they
// open with B alone to the same plaintext, the file never holds the plaintext, a second
// rotation has nothing to do, and the service started with only B hands the harvester the
// same keys.
func TestRotateKeys(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := writeKey(t, 0xA), writeKey(t, 0xB)
	idA, idB := keyIDOf(t, keyA), keyIDOf(t, keyB)
	underA := map[string]string{"LIBRIS-A": "plaintext-api-key-one", "LIBRIS-B": "plaintext-api-key-two"}
	underB := map[string]string{"LIBRIS-C": "plaintext-api-key-three"} // already current
	seed(t, dir, keyA, underA)
	seed(t, dir, keyB, underB)
	seed(t, dir, keyA, map[string]string{"NO-KEY": ""}) // no secret: nothing to rotate
	all := map[string]string{}
	for _, m := range []map[string]string{underA, underB} {
		for c, k := range m {
			all[c] = k
		}
	}
	codes := []string{"LIBRIS-A", "LIBRIS-B", "LIBRIS-C"}
	before := secretsOf(t, dir, codes...)
	for c := range underA {
		if id, _ := secrets.SealedKeyID(before[c]); id != idA {
			t.Fatalf("%s sealed with %s before rotation, want %s", c, id, idA)
		}
	}

	cfg := RotateConfig{DataDir: dir, SecretKeyFile: keyB, PreviousSecretKeyFiles: keyA}
	rep, err := RotateKeys(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.KeyID != idB || rep.Reencrypted != 2 || rep.Current != 1 || len(rep.Undecryptable) != 0 {
		t.Fatalf("report = %+v, want 2 re-encrypted and 1 current under %s", rep, idB)
	}

	onlyB, err := secrets.NewKeyring(bytes.Repeat([]byte{0xB}, 32))
	if err != nil {
		t.Fatal(err)
	}
	after := secretsOf(t, dir, codes...)
	for _, c := range codes {
		if id, _ := secrets.SealedKeyID(after[c]); id != idB {
			t.Errorf("%s sealed with %s after rotation, want %s", c, id, idB)
		}
		if pt, err := onlyB.Open(after[c], store.CredentialAAD("integrationProfiles/"+c, "")); err != nil || string(pt) != all[c] {
			t.Errorf("%s opens with B alone to %q, %v; want %q", c, pt, err, all[c])
		}
	}
	if !bytes.Equal(before["LIBRIS-C"], after["LIBRIS-C"]) {
		t.Error("a secret already under the current key was rewritten")
	}
	// The trail holds one event per re-encrypted secret, in code order.
	if got, want := reencrypted(t, dir), []string{"integrationProfiles/LIBRIS-B", "integrationProfiles/LIBRIS-A"}; !slices.Equal(got, want) {
		t.Errorf("re-encryption events = %v, want %v", got, want)
	}
	file, err := os.ReadFile(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if bytes.Contains(file, []byte(k)) {
			t.Fatalf("profiles.db holds the plaintext key %q after rotation", k)
		}
	}

	rep, err = RotateKeys(context.Background(), cfg)
	if err != nil || rep.Reencrypted != 0 || rep.Current != 3 {
		t.Fatalf("second rotation = %+v, %v; want 0 re-encrypted, 3 current", rep, err)
	}
	if got := reencrypted(t, dir); len(got) != 2 {
		t.Errorf("a rotation that changed nothing recorded events: %v", got)
	}

	// The service now starts with B alone and the harvester gets the same keys.
	conn, stop := serve(t, dir, Config{SecretKeyFile: keyB})
	creds := profilesv1.NewProfileCredentialsServiceClient(conn)
	for c, k := range all {
		got, err := creds.GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/" + c})
		if err != nil || got.ApiKey != k {
			t.Errorf("GetProfileCredentials(%s) = %v, %v; want key %q", c, got, err, k)
		}
	}
	// While it runs, rotation is refused by bbolt's file lock, with a message that says
	// what to do.
	if _, err := RotateKeys(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "stop the profiles service") {
		t.Errorf("rotation while the service runs = %v, want a refusal naming the lock", err)
	}
	stop()
}

// TestRotateKeysUndecryptableChangesNothing: one secret under a key not given fails the
// whole rotation, naming the profile, and no secret changes (not even those that could
// have been re-encrypted).
func TestRotateKeysUndecryptableChangesNothing(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB, keyLost := writeKey(t, 0xA), writeKey(t, 0xB), writeKey(t, 0xC)
	seed(t, dir, keyA, map[string]string{"LIBRIS-A": "key-one", "LIBRIS-B": "key-two"})
	seed(t, dir, keyLost, map[string]string{"LIBRIS-LOST": "key-lost"})
	codes := []string{"LIBRIS-A", "LIBRIS-B", "LIBRIS-LOST"}
	before := secretsOf(t, dir, codes...)

	rep, err := RotateKeys(context.Background(), RotateConfig{DataDir: dir, SecretKeyFile: keyB, PreviousSecretKeyFiles: keyA})
	if !errors.Is(err, ErrUndecryptable) || !strings.Contains(err.Error(), "integrationProfiles/LIBRIS-LOST") {
		t.Fatalf("err = %v, want ErrUndecryptable naming LIBRIS-LOST", err)
	}
	if len(rep.Undecryptable) != 1 || rep.Undecryptable[0] != "integrationProfiles/LIBRIS-LOST" || rep.Reencrypted != 0 {
		t.Fatalf("report = %+v", rep)
	}
	if strings.Contains(err.Error(), "key-lost") {
		t.Fatal("error echoes a secret")
	}
	after := secretsOf(t, dir, codes...)
	for _, c := range codes {
		if !bytes.Equal(before[c], after[c]) {
			t.Errorf("%s changed although the rotation failed", c)
		}
	}
	if got := reencrypted(t, dir); len(got) != 0 {
		t.Errorf("a failed rotation recorded %v", got)
	}
}

func TestRotateKeysConfigErrors(t *testing.T) {
	dir := t.TempDir()
	keyA := writeKey(t, 0xA)
	for _, tc := range []struct {
		name string
		cfg  RotateConfig
		want string
	}{
		{"no key", RotateConfig{DataDir: dir}, "encryption key is required"},
		{"missing previous", RotateConfig{DataDir: dir, SecretKeyFile: keyA, PreviousSecretKeyFiles: "/nonexistent"}, "read encryption key"},
		{"no data file", RotateConfig{DataDir: filepath.Join(dir, "typo"), SecretKeyFile: keyA}, "no profiles data file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := RotateKeys(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !os.IsNotExist(err) {
		t.Error("rotation created a data directory")
	}
}

// TestNewKeyFile: a fresh 0600 key that the keyring accepts, and never an overwrite.
func TestNewKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.key")
	id, err := NewKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	if got := keyIDOf(t, path); got != id {
		t.Fatalf("id %s, file's key %s", id, got)
	}
	before, _ := os.ReadFile(path)
	if _, err := NewKeyFile(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second NewKeyFile = %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("an existing key file was overwritten")
	}
}

// TestRotateKeysCancelled: a cancelled rotation rolls back and says so once.
func TestRotateKeysCancelled(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := writeKey(t, 0xA), writeKey(t, 0xB)
	seed(t, dir, keyA, map[string]string{"LIBRIS-A": "key-one", "LIBRIS-B": "key-two"})
	before := secretsOf(t, dir, "LIBRIS-A", "LIBRIS-B")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RotateKeys(ctx, RotateConfig{DataDir: dir, SecretKeyFile: keyB, PreviousSecretKeyFiles: keyA})
	if !errors.Is(err, context.Canceled) || strings.Count(err.Error(), "canceled") != 1 {
		t.Fatalf("err = %v, want one context.Canceled", err)
	}
	after := secretsOf(t, dir, "LIBRIS-A", "LIBRIS-B")
	for c := range before {
		if !bytes.Equal(before[c], after[c]) {
			t.Errorf("%s changed by a cancelled rotation", c)
		}
	}
}

// TestRotateKeysReencryptsReceiptPasswords: a Netpunkt profile's receipt password is
// rotated with its credential and still opens afterwards, under its own associated data.
func TestRotateKeysReencryptsReceiptPasswords(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := writeKey(t, 0xA), writeKey(t, 0xB)
	kr, err := secrets.NewKeyring(bytes.Repeat([]byte{0xA}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "profiles.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := api.New(st, kr, time.Now)
	_, err = svc.CreateIntegrationProfile(context.Background(), &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{
		Code: "NP", DisplayName: "NP", ApiKey: "dbc-password", ReceiptPassword: "receipt-password",
		SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://netpunkt.example/", AgencyId: "775100"}},
	}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RotateKeys(context.Background(), RotateConfig{DataDir: dir, SecretKeyFile: keyB, PreviousSecretKeyFiles: keyA})
	if err != nil || rep.Reencrypted != 2 {
		t.Fatalf("rotation = %+v, %v; want both secrets re-encrypted", rep, err)
	}
	conn, stop := serve(t, dir, Config{SecretKeyFile: keyB})
	defer stop()
	got, err := profilesv1.NewProfileCredentialsServiceClient(conn).GetProfileCredentials(context.Background(), &profilesv1.GetProfileCredentialsRequest{Name: "integrationProfiles/NP"})
	if err != nil || got.ApiKey != "dbc-password" || got.ReceiptPassword != "receipt-password" {
		t.Fatalf("credentials after rotation = %v, %v", got, err)
	}
}
