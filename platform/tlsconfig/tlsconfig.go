// Package tlsconfig turns the TLS flags every service and the gateway share into
// transport credentials: TLS on the listeners when a certificate is given, optional or
// required client certificates (mTLS) verified against a client CA, and TLS with the same
// certificate as client certificate on outbound gRPC connections. Certificate and key
// files are re-read when they change, so renewing a certificate under the same CA
// (cert-manager renewing a Secret) needs no restart; the CA files are read at start, so a
// new CA does.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/interloan/interloan/platform/config"
)

// Config is the TLS configuration of one process.
type Config struct {
	// CertFile and KeyFile are the PEM certificate and key of the listeners; when set,
	// every listener serves TLS only, and outbound gRPC connections present the same
	// certificate as client certificate.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes the gRPC listener verify client certificates against
	// it (mTLS). A verified certificate with roles authenticates the caller when it sends
	// no bearer token (platform/auth).
	ClientCAFile string
	// RequireClientCert refuses gRPC connections without a verified client certificate
	// (service-to-service listeners; humans then need a certificate too).
	RequireClientCert bool
	// CAFile verifies the servers outbound connections reach (system roots when empty).
	// Outbound connections use TLS when CAFile or CertFile is set.
	CAFile string
}

// Bind registers the TLS flags of a gRPC service with their env twins.
func (c *Config) Bind(s *config.Set) {
	c.BindHTTP(s)
	s.String(&c.ClientCAFile, "tls-client-ca", "INTERLOAN_TLS_CLIENT_CA", "", "CA that client certificates of gRPC callers are verified against (mTLS); a verified certificate's CN is the caller and its OUs are its roles")
	s.Bool(&c.RequireClientCert, "tls-require-client-cert", "INTERLOAN_TLS_REQUIRE_CLIENT_CERT", false, "refuse gRPC connections without a client certificate verified by --tls-client-ca")
}

// BindHTTP registers the flags of a process that serves only HTTP (the gateway), whose
// listener never asks for client certificates.
func (c *Config) BindHTTP(s *config.Set) {
	s.String(&c.CertFile, "tls-cert", "INTERLOAN_TLS_CERT", "", "PEM certificate of the listeners (TLS is off without it); also the client certificate of outbound gRPC calls")
	s.String(&c.KeyFile, "tls-key", "INTERLOAN_TLS_KEY", "", "PEM private key of --tls-cert")
	s.String(&c.CAFile, "tls-ca", "INTERLOAN_TLS_CA", "", "CA that outbound gRPC connections verify servers against (system roots when empty); setting it turns on TLS for outbound calls")
}

// Outbound reports whether outbound gRPC connections use TLS.
func (c Config) Outbound() bool { return c.CertFile != "" || c.CAFile != "" }

// Validate reports an inconsistent combination, naming the flags.
func (c Config) Validate() error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.ClientCAFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert: client certificates exist only on TLS listeners"))
	}
	if c.RequireClientCert && c.ClientCAFile == "" {
		errs = append(errs, errors.New("--tls-require-client-cert needs --tls-client-ca to verify them against"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("tls: %w", errors.Join(errs...))
	}
	return nil
}

// Set is the loaded form of a Config, shared by the listeners and the outbound
// connections of one process.
type Set struct {
	cfg     Config
	pair    *keyPair       // nil without CertFile
	clients *x509.CertPool // nil without ClientCAFile
	roots   *x509.CertPool // nil: system roots
}

// Load validates c and reads its files, so a missing or malformed file stops the start
// with an error naming it. A Config without TLS loads to a Set that serves and dials in
// plain text.
func Load(c Config) (*Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Set{cfg: c}
	if c.CertFile != "" {
		p, err := newKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		s.pair = p
	}
	var err error
	if s.clients, err = pool(c.ClientCAFile); err != nil {
		return nil, err
	}
	if s.roots, err = pool(c.CAFile); err != nil {
		return nil, err
	}
	return s, nil
}

// Enabled reports whether the listeners serve TLS.
func (s *Set) Enabled() bool { return s != nil && s.pair != nil }

// ServerGRPC is the gRPC listener's TLS: client certificates verified when given (or
// required), against the client CA.
func (s *Set) ServerGRPC() *tls.Config {
	if !s.Enabled() {
		return nil
	}
	t := s.base()
	if s.clients != nil {
		t.ClientCAs = s.clients
		t.ClientAuth = tls.VerifyClientCertIfGiven
		if s.cfg.RequireClientCert {
			t.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return t
}

// ServerHTTP is the TLS of the HTTP listeners (health, metrics, the REST gateway). They
// never ask for client certificates: probes and REST callers cannot present one, and
// REST callers authenticate with bearer tokens.
func (s *Set) ServerHTTP() *tls.Config {
	if !s.Enabled() {
		return nil
	}
	t := s.base()
	t.NextProtos = []string{"h2", "http/1.1"}
	return t
}

func (s *Set) base() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.pair.get() },
	}
}

// ServerOption is the gRPC server's transport credentials (none without TLS).
func (s *Set) ServerOption() []grpc.ServerOption {
	if !s.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(s.ServerGRPC()))}
}

// Client is the TLS of outbound connections, or nil when they are plain text.
func (s *Set) Client() *tls.Config {
	if s == nil || !s.cfg.Outbound() {
		return nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.roots}
	if s.pair != nil {
		t.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return s.pair.get() }
	}
	return t
}

// DialOption is the transport credentials of outbound gRPC connections: TLS verifying the
// server's name (from the dial target) when Outbound, plain text otherwise.
func (s *Set) DialOption() grpc.DialOption {
	if t := s.Client(); t != nil {
		return grpc.WithTransportCredentials(credentials.NewTLS(t))
	}
	return grpc.WithTransportCredentials(insecure.NewCredentials())
}

// Secure reports whether outbound connections are encrypted, which is when bearer
// tokens may be sent over them (auth.BearerToken's requireTLS).
func (s *Set) Secure() bool { return s.Client() != nil }

// CertificateRoles reads the organizational units of the first certificate in a PEM
// file: the roles that certificate carries when it authenticates a call.
func CertificateRoles(certFile string) ([]string, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", certFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", certFile, err)
	}
	return c.Subject.OrganizationalUnit, nil
}

func pool(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: CA file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tls: CA file %s holds no PEM certificate", path)
	}
	return p, nil
}

// reloadCheck is how often a key pair looks for changed files: often enough that a
// rotated certificate is served within seconds, rarely enough to cost nothing per
// handshake.
const reloadCheck = time.Second

// keyPair serves a certificate and key from files, re-read when either file's size or
// modification time changes. A pair that fails to load (a rotation caught between the
// two writes) leaves the previous one in use and is retried on the next check.
type keyPair struct {
	certFile, keyFile string
	every             time.Duration

	mu      sync.Mutex
	cur     *tls.Certificate
	stamp   string
	checked time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	p := &keyPair{certFile: certFile, keyFile: keyFile, every: reloadCheck}
	stamp, err := p.fileStamp()
	if err != nil {
		return nil, err
	}
	if err := p.load(stamp); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *keyPair) get() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.checked) >= p.every {
		p.checked = now
		if stamp, err := p.fileStamp(); err == nil && stamp != p.stamp {
			_ = p.load(stamp) // on failure keep serving the previous pair
		}
	}
	return p.cur, nil
}

func (p *keyPair) load(stamp string) error {
	c, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		return fmt.Errorf("tls: certificate %s with key %s: %w", p.certFile, p.keyFile, err)
	}
	p.cur, p.stamp = &c, stamp
	return nil
}

func (p *keyPair) fileStamp() (string, error) {
	var stamp string
	for _, f := range []string{p.certFile, p.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		stamp += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}
