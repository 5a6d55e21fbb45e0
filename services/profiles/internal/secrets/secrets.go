// Package secrets encrypts profile credentials at rest with AES-256-GCM. Each ciphertext
// records the id of the key that sealed it, so keys can be rotated: a keyring holds one
// primary key for sealing and any number of previous keys for opening. The caller binds
// what a secret belongs to as additional data (the profile's resource name and, for a
// credential, the origin it was entered for), so a ciphertext copied onto another profile
// or origin does not decrypt.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// ErrUnknownKey is returned when a ciphertext was sealed with a key the keyring lacks.
var ErrUnknownKey = errors.New("secret was sealed with a key this server does not have")

// ErrCorrupt is returned when a ciphertext fails authentication or cannot be parsed.
var ErrCorrupt = errors.New("secret is corrupt or bound to another profile or origin")

// Keyring seals with its primary key and opens with any key it holds.
type Keyring struct {
	primaryID string
	aeads     map[string]cipher.AEAD
}

// sealed is the stored form of a secret.
type sealed struct {
	KeyID      string `json:"key_id"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// NewKeyring builds a keyring from a primary key and previous (decrypt-only) keys.
func NewKeyring(primary []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{primary}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("encryption key %d has %d bytes, want %d", i, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.primaryID = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// KeyID names a key without revealing it: a prefix of a domain-separated SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("interloan-secret-key-id:"), key...))
	return hex.EncodeToString(sum[:8])
}

// PrimaryKeyID is the id of the key new secrets are sealed with.
func (k *Keyring) PrimaryKeyID() string { return k.primaryID }

// Seal encrypts plaintext bound to aad.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	aead := k.aeads[k.primaryID]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.Marshal(sealed{KeyID: k.primaryID, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, []byte(aad))})
}

// Open decrypts what Seal produced with the same aad.
func (k *Keyring) Open(data []byte, aad string) ([]byte, error) {
	var s sealed
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, ErrCorrupt
	}
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, s.KeyID)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, ErrCorrupt
	}
	pt, err := aead.Open(nil, s.Nonce, s.Ciphertext, []byte(aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// SealedKeyID returns the id of the key that sealed data, without decrypting it, so a
// rotation can tell which secrets still need re-encrypting.
func SealedKeyID(data []byte) (string, error) {
	var s sealed
	if err := json.Unmarshal(data, &s); err != nil || s.KeyID == "" {
		return "", ErrCorrupt
	}
	return s.KeyID, nil
}

// ParseKey reads a key given as text: base64 (standard or URL alphabet) or hex encoding
// of 32 bytes, surrounding whitespace ignored.
func ParseKey(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.URLEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	// Never echo the input: it is (nearly) a key.
	return nil, fmt.Errorf("encryption key must be %d bytes encoded as base64 or hex", KeySize)
}

// ReadKeyFile reads and parses a key file.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// EnsureKeyFile creates a new random key file (mode 0600, base64) unless path exists.
// For local development only (the all-in-one); deployments mount a key.
func EnsureKeyFile(path string) error {
	if _, err := CreateKeyFile(path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// CreateKeyFile writes a new random key to path (mode 0600, base64) and returns its id.
// It fails with an error wrapping os.ErrExist if path exists: overwriting a key file
// would make every secret sealed with it unreadable. The file is synced before returning,
// because a rotation that re-encrypts under a key lost in a crash loses every credential.
func CreateKeyFile(path string) (keyID string, err error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A half-written file would later parse as a bad key, or not at all; remove it
		// so a retry starts clean.
		_ = os.Remove(path)
		return "", err
	}
	return KeyID(key), nil
}
