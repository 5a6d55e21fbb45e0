// Package app runs the profiles service: the configuration of integration profiles, with
// their credentials encrypted at rest.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // profile time zones must validate even where the OS has no zoneinfo

	"google.golang.org/grpc"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/profiles/internal/api"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// DefaultGRPCPort is the profiles service's gRPC port, the first of the suite's 9101–9104
// (docs/architecture.md#ports).
const DefaultGRPCPort = 9101

// Config configures the profiles service.
type Config struct {
	server.Common
	// SecretKeyFile holds the AES-256 key (base64 or hex) that seals credentials.
	SecretKeyFile string
	// SecretKey is the same key given directly (base64 or hex); SecretKeyFile wins.
	SecretKey string
	// PreviousSecretKeyFiles are comma-separated files of retired keys, kept so secrets
	// sealed before a rotation still open.
	PreviousSecretKeyFiles string
}

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) {
	c.Common.Bind(s, DefaultGRPCPort, "data")
	s.String(&c.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "file with the 32-byte credential encryption key, base64 or hex")
	s.Secret(&c.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "the credential encryption key itself (prefer the file)")
	s.String(&c.PreviousSecretKeyFiles, "previous-secret-key-files", "INTERLOAN_PREVIOUS_SECRET_KEY_FILES", "", "comma-separated files of retired keys, for rotation")
}

// Services are the gRPC services the profiles server reports healthy.
var Services = []string{
	profilesv1.ProfileService_ServiceDesc.ServiceName,
	profilesv1.ProfileCredentialsService_ServiceDesc.ServiceName,
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	keys, err := cfg.keyring()
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, DataFile))
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	defer st.Close()
	svc := api.New(st, keys, time.Now)
	opts := cfg.Common.Options("profiles", Services)
	// Credentials from a file of schema version 1 are bound to their profile's origin
	// before anything is served (the store cannot: it holds no keys).
	bound, left, err := svc.BindUnbound(audit.Call{Principal: "system", Method: "bind credentials to origins"})
	if err != nil {
		return fmt.Errorf("profiles: bind stored credentials to their origins: %w", err)
	}
	if bound > 0 {
		opts.Logger.Info("stored credentials bound to the origin of their profile's base URL", "count", bound)
	}
	if len(left) > 0 {
		opts.Logger.Warn("credentials no configured key opens stay unusable until their key is given in --previous-secret-key-files or entered again",
			"profiles", strings.Join(left, ","))
	}
	opts.Snapshot = st.Backup
	opts.Register = func(s *grpc.Server) {
		profilesv1.RegisterProfileServiceServer(s, svc)
		profilesv1.RegisterProfileCredentialsServiceServer(s, svc)
	}
	opts.Logger.Info("credential encryption ready", "primary_key_id", keys.PrimaryKeyID())
	return server.Run(ctx, opts)
}

func (c *Config) keyring() (*secrets.Keyring, error) {
	var primary []byte
	var err error
	switch {
	case c.SecretKeyFile != "":
		primary, err = secrets.ReadKeyFile(c.SecretKeyFile)
	case c.SecretKey != "":
		primary, err = secrets.ParseKey([]byte(c.SecretKey))
	default:
		return nil, errors.New("an encryption key is required: --secret-key-file or INTERLOAN_SECRET_KEY_FILE (generate one with: head -c32 /dev/urandom | base64)")
	}
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	for _, f := range strings.Split(c.PreviousSecretKeyFiles, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		k, err := secrets.ReadKeyFile(f)
		if err != nil {
			return nil, err
		}
		previous = append(previous, k)
	}
	return secrets.NewKeyring(primary, previous...)
}

// EnsureDevKey creates a random key file under dataDir if none exists and returns its
// path; the all-in-one uses it so a newcomer needs no set-up.
func EnsureDevKey(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, "profiles-secret.key")
	return path, secrets.EnsureKeyFile(path)
}
