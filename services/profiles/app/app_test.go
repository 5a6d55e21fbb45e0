package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
)

func writeKey(t *testing.T, b byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeyringConfig(t *testing.T) {
	k1, k2 := writeKey(t, 1), writeKey(t, 2)
	for _, tc := range []struct {
		name    string
		cfg     Config
		primary []byte
		wantErr string
	}{
		{"file", Config{SecretKeyFile: k1}, bytes.Repeat([]byte{1}, 32), ""},
		{"env value", Config{SecretKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))}, bytes.Repeat([]byte{3}, 32), ""},
		{"file wins over value", Config{SecretKeyFile: k2, SecretKey: "ignored"}, bytes.Repeat([]byte{2}, 32), ""},
		{"with previous keys", Config{SecretKeyFile: k2, PreviousSecretKeyFiles: k1 + ", "}, bytes.Repeat([]byte{2}, 32), ""},
		{"none", Config{}, nil, "encryption key is required"},
		{"bad value", Config{SecretKey: "short"}, nil, "32 bytes"},
		{"missing previous", Config{SecretKeyFile: k1, PreviousSecretKeyFiles: "/nonexistent"}, nil, "read encryption key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := tc.cfg.keyring()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.cfg.SecretKey) && tc.cfg.SecretKey != "" {
					t.Fatal("error echoes the key")
				}
				return
			}
			if err != nil || kr.PrimaryKeyID() != secrets.KeyID(tc.primary) {
				t.Fatalf("keyring: %v", err)
			}
		})
	}
}

func TestRunRefusesToStartWithoutKey(t *testing.T) {
	cfg := Config{Common: server.Common{DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", Logger: logging.Discard()}}
	if err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "encryption key is required") {
		t.Fatalf("Run = %v", err)
	}
}
