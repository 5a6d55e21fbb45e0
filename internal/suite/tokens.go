package suite

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/interloan/interloan/platform/atomicfile"
	"github.com/interloan/interloan/platform/auth"
)

// Names of the token files `interloan up` keeps in its data directory.
const (
	TokensFileName     = "tokens"          // hashes only: what the services load
	AdminTokenName     = "admin.token"     // the first admin token, for the person running up
	HarvesterTokenName = "harvester.token" // the harvester's service identity
)

// ensureTokens fills in cfg.TokensFile and, without TLS, cfg.ServiceTokenFile, creating
// in DataDir what is missing: a tokens file with an admin token (admin.token) and a
// harvester token (harvester.token), all 0600. It returns the admin token file if there is one. Tokens
// are only ever written to their own files, never logged.
func ensureTokens(cfg *Config) (adminFile string, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	if cfg.TokensFile == "" {
		cfg.TokensFile = filepath.Join(cfg.DataDir, TokensFileName)
		if _, err := os.Stat(cfg.TokensFile); errors.Is(err, fs.ErrNotExist) {
			if err := writeFile(cfg.TokensFile, nil); err != nil {
				return "", err
			}
			// A fresh data directory: its first admin.
			if _, err := CreateToken(cfg.TokensFile, filepath.Join(cfg.DataDir, AdminTokenName), "admin", auth.RoleAdmin); err != nil {
				return "", err
			}
		} else if err != nil {
			return "", err
		}
	}
	// With TLS the harvester authenticates with its certificate (OU=harvester) instead.
	if cfg.ServiceTokenFile == "" && !cfg.TLS {
		cfg.ServiceTokenFile = filepath.Join(cfg.DataDir, HarvesterTokenName)
		if _, err := os.Stat(cfg.ServiceTokenFile); errors.Is(err, fs.ErrNotExist) {
			if _, err := CreateToken(cfg.TokensFile, cfg.ServiceTokenFile, "harvester", auth.RoleHarvester); err != nil {
				return "", err
			}
		} else if err != nil {
			return "", err
		}
	}
	admin := filepath.Join(cfg.DataDir, AdminTokenName)
	if _, err := os.Stat(admin); err == nil {
		return admin, nil
	}
	return "", nil
}

// CreateToken creates a token for principal with roles, adds its hash line to the
// tokens file (running services pick it up within seconds) and returns the token. With
// tokenFile set, the token is also written there (0600). The line is added before the
// token file is written: an interruption leaves an unused hash, never an unknown token.
func CreateToken(tokensFile, tokenFile, principal string, roles ...auth.Role) (string, error) {
	token, line, err := auth.NewToken(principal, roles...)
	if err != nil {
		return "", err
	}
	if err := appendLine(tokensFile, line); err != nil {
		return "", err
	}
	if tokenFile != "" {
		if err := writeFile(tokenFile, []byte(token+"\n")); err != nil {
			return "", err
		}
	}
	return token, nil
}

// appendLine adds line to the tokens file by writing a new file and renaming it over the
// old one, so a service reloading it never sees half a line. The result is checked with
// the services' own parser first.
func appendLine(path, line string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tokens file: %w", err)
	}
	data := string(old)
	if data != "" && !strings.HasSuffix(data, "\n") {
		data += "\n"
	}
	data += line + "\n"
	if _, err := auth.Parse([]byte(data)); err != nil {
		return fmt.Errorf("tokens file %s: %w", path, err)
	}
	return writeFile(path, []byte(data))
}

// writeFile writes data to path atomically (atomicfile), mode 0600.
func writeFile(path string, data []byte) error {
	_, err := atomicfile.Write(path, bytes.NewReader(data), 0o600, nil)
	return err
}
