package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenAndRotation(t *testing.T) {
	old, err := NewKeyring(key(1))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := old.Seal([]byte("s3cret-api-key"), "integrationProfiles/A")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("s3cret-api-key")) {
		t.Fatal("plaintext visible in sealed form")
	}
	// After rotation the new primary seals, the old key still opens.
	rotated, err := NewKeyring(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rotated.Open(ct, "integrationProfiles/A")
	if err != nil || string(pt) != "s3cret-api-key" {
		t.Fatalf("open after rotation: %q %v", pt, err)
	}
	if rotated.PrimaryKeyID() == old.PrimaryKeyID() {
		t.Fatal("key ids must differ")
	}
	if _, err := rotated.Open(ct, "integrationProfiles/B"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("other profile: %v", err)
	}
	only2, _ := NewKeyring(key(2))
	if _, err := only2.Open(ct, "integrationProfiles/A"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("{"), []byte(`{"key_id":"` + old.PrimaryKeyID() + `","nonce":"AA=="}`)} {
		if _, err := old.Open(bad, "integrationProfiles/A"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := key(7)
	for name, text := range map[string]string{
		"base64":        base64.StdEncoding.EncodeToString(k) + "\n",
		"base64url raw": base64.RawURLEncoding.EncodeToString(k),
		"hex":           hex.EncodeToString(k),
	} {
		got, err := ParseKey([]byte(text))
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16])} {
		if _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if _, err := NewKeyring(k[:10]); err == nil {
		t.Error("short key accepted")
	}
}

func TestEnsureKeyFileKeepsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := EnsureKeyFile(path); err != nil {
		t.Fatal(err)
	}
	first, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureKeyFile(path); err != nil {
		t.Fatal(err)
	}
	second, _ := ReadKeyFile(path)
	if !bytes.Equal(first, second) {
		t.Fatal("EnsureKeyFile replaced an existing key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
}

// FuzzOpen: stored ciphertexts are read back from disk; garbage must fail cleanly.
func FuzzOpen(f *testing.F) {
	k, _ := NewKeyring(key(1))
	good, _ := k.Seal([]byte("x"), "aad")
	f.Add(good)
	f.Add([]byte(`{"key_id":"","nonce":null}`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if pt, err := k.Open(data, "aad"); err == nil && string(pt) != "x" {
			t.Fatalf("forged plaintext %q", pt)
		}
	})
}

// FuzzParseKey: key material comes from files and env; never panic, never accept a
// key of the wrong size.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	f.Add([]byte("zz"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if k, err := ParseKey(text); err == nil && len(k) != KeySize {
			t.Fatalf("accepted %d-byte key", len(k))
		}
	})
}

// TestSealedKeyIDAndCreateKeyFile: the key id is readable without the key; a new key file
// is 0600 and never replaces an existing one.
func TestSealedKeyIDAndCreateKeyFile(t *testing.T) {
	k, _ := NewKeyring(key(7))
	ct, _ := k.Seal([]byte("x"), "aad")
	if id, err := SealedKeyID(ct); err != nil || id != KeyID(key(7)) {
		t.Fatalf("SealedKeyID = %q, %v", id, err)
	}
	for _, bad := range []string{"", "{}", "not json"} {
		if _, err := SealedKeyID([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("SealedKeyID(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
	path := filepath.Join(t.TempDir(), "key")
	id, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if id != KeyID(first) {
		t.Fatalf("CreateKeyFile id %s, file's key %s", id, KeyID(first))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if _, err := CreateKeyFile(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second CreateKeyFile = %v, want ErrExist", err)
	}
	if second, _ := ReadKeyFile(path); !bytes.Equal(first, second) {
		t.Fatal("CreateKeyFile replaced an existing key")
	}
}
