package client

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"google.golang.org/grpc/credentials"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Identity is how a service authenticates to its peers as role, for Peer: its bearer
// token when tokenFile is set (required without TLS), or else the client certificate of
// tls, which must then carry role as an OU (nil credentials: the certificate speaks for
// it). Errors name the flags that set them, --service-token-file and --tls-cert.
func Identity(role auth.Role, tokenFile string, tls tlsconfig.Config, log *slog.Logger) (credentials.PerRPCCredentials, error) {
	if tokenFile == "" && tls.CertFile != "" {
		roles, err := tlsconfig.CertificateRoles(tls.CertFile)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(roles, string(role)) {
			return nil, fmt.Errorf("no service token, and the --tls-cert certificate has no OU=%[1]s to authenticate with: set --service-token-file or issue the certificate with the %[1]s role", role)
		}
		return nil, nil
	}
	if tokenFile == "" {
		return nil, fmt.Errorf("no service token: set --service-token-file or INTERLOAN_SERVICE_TOKEN_FILE (a token with role %[1]s), or give it a --tls-cert certificate with OU=%[1]s", role)
	}
	token, err := ReadToken(tokenFile, log)
	if err != nil {
		return nil, err
	}
	return auth.BearerToken(token, tls.Outbound()), nil
}

// ReadToken reads the one bearer token in the file at path (surrounding whitespace
// trimmed). Errors name the file, never its content; a file others may read is only
// warned about (when log is set), since some secret mounts cannot be 0600.
func ReadToken(path string, log *slog.Logger) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("service token file: %w", err)
	}
	if fi.Size() > auth.MaxTokenLen+2 {
		return "", fmt.Errorf("service token file %s is too large to hold one token", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("service token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("service token file %s must hold exactly one token", path)
	}
	if fi.Mode().Perm()&0o077 != 0 && log != nil {
		log.Warn("service token file is readable by others; make it 0600", "path", path, "mode", fi.Mode().Perm().String())
	}
	return token, nil
}
