package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// RotateConfig says where the profiles data is and which keys to rotate between. The key
// fields mean what they mean for the service (Config): the primary key is the new one,
// the previous keys are those the stored secrets may still be sealed with.
type RotateConfig struct {
	DataDir                string
	SecretKeyFile          string
	SecretKey              string
	PreviousSecretKeyFiles string
}

// RotateReport is what a rotation did, or, when it failed, what it found.
type RotateReport struct {
	// KeyID is the id of the key every secret is sealed with afterwards.
	KeyID string
	// Reencrypted counts secrets that were under a previous key and are now under KeyID
	// (0 when the rotation failed: it changes all or nothing).
	Reencrypted int
	// Current counts secrets that were already under KeyID (checked to open, untouched).
	Current int
	// Undecryptable names the profiles whose secret no given key opens (or is corrupt);
	// any of them makes the rotation fail without changing anything.
	Undecryptable []string
}

// ErrUndecryptable is returned (wrapped) when some secret cannot be opened with the keys
// given; RotateReport.Undecryptable names the profiles.
var ErrUndecryptable = errors.New("secrets no given key opens")

// RotateKeys re-encrypts every stored profile credential that is not sealed with the
// current key, in one transaction: either every secret ends up under the current key, or
// nothing changes. It opens the profiles bbolt file directly, so the profiles service must
// be stopped (bbolt's file lock refuses a second opener; that is reported as such). Secrets
// already under the current key are opened too, so success means every secret opens with
// the current key alone and the previous keys can be dropped.
func RotateKeys(ctx context.Context, cfg RotateConfig) (RotateReport, error) {
	keyCfg := Config{SecretKeyFile: cfg.SecretKeyFile, SecretKey: cfg.SecretKey, PreviousSecretKeyFiles: cfg.PreviousSecretKeyFiles}
	keys, err := keyCfg.keyring()
	if err != nil {
		return RotateReport{}, err
	}
	rep := RotateReport{KeyID: keys.PrimaryKeyID()}
	path := filepath.Join(cfg.DataDir, "profiles.db")
	// store.Open creates a missing file; for an offline tool a mistyped --data-dir must
	// be an error, not a successful rotation of nothing.
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("no profiles data file: %w", err)
	}
	st, err := store.Open(path)
	if errors.Is(err, bolt.ErrTimeout) {
		return rep, fmt.Errorf("%s is locked by another process: stop the profiles service (or `interloan up`) before rotating keys", path)
	}
	if err != nil {
		return rep, err
	}
	defer st.Close()

	var reencrypted, current int
	var bad []string
	err = st.RewriteSecrets(rotateCall(), func(rec store.Record, cred store.Credential) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := rec.Profile.GetName()
		plain, err := keys.Open(cred.Sealed, cred.AAD)
		if err != nil {
			bad = append(bad, name)
			// The error names the key id at most, never the secret.
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if id, _ := secrets.SealedKeyID(cred.Sealed); id == keys.PrimaryKeyID() {
			current++
			return nil, nil
		}
		sealed, err := keys.Seal(plain, cred.AAD)
		if err != nil {
			return nil, err
		}
		reencrypted++
		return sealed, nil
	})
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		// Every remaining record failed with the same error; one mention is enough.
		return rep, fmt.Errorf("rotate keys interrupted: %w; nothing was changed", ctxErr)
	}
	rep.Undecryptable = bad
	if len(bad) > 0 {
		return rep, fmt.Errorf("%w: %d profile(s): %s; nothing was changed (pass every retired key in --previous-secret-key-files, or set those profiles' API keys again)",
			ErrUndecryptable, len(bad), strings.Join(bad, ", "))
	}
	if err != nil {
		return rep, fmt.Errorf("rotate keys: %w; nothing was changed", err)
	}
	rep.Reencrypted, rep.Current = reencrypted, current
	return rep, nil
}

// rotateCall is the audit trail's account of a rotation: no token is involved offline, so
// the principal is the operating-system user who ran it (who could open the data file).
func rotateCall() audit.Call {
	who := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	return audit.Call{Principal: "os-user:" + who, Method: "keys rotate"}
}

// NewKeyFile writes a fresh random key to path (mode 0600) and returns its id; it refuses
// to overwrite an existing file, which would strand every secret sealed with that key.
func NewKeyFile(path string) (string, error) {
	id, err := secrets.CreateKeyFile(path)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%s already exists; not overwriting a key file", path)
	}
	return id, err
}
