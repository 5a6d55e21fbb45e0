package tlsconfig

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/pki"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"off", Config{}, ""},
		{"server", Config{CertFile: "c", KeyFile: "k"}, ""},
		{"mTLS", Config{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", RequireClientCert: true}, ""},
		{"client only", Config{CAFile: "ca"}, ""},
		{"cert without key", Config{CertFile: "c"}, "--tls-cert and --tls-key"},
		{"key without cert", Config{KeyFile: "k"}, "--tls-cert and --tls-key"},
		{"client CA without cert", Config{ClientCAFile: "ca"}, "--tls-client-ca needs --tls-cert"},
		{"require without client CA", Config{CertFile: "c", KeyFile: "k", RequireClientCert: true}, "needs --tls-client-ca"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	files, err := pki.WriteSuite(dir, pki.SuiteIdentities(), []string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"missing cert":    {CertFile: filepath.Join(dir, "nope"), KeyFile: files.Key["mapping"]},
		"key of another":  {CertFile: files.Cert["mapping"], KeyFile: files.Key["requests"]},
		"junk client CA":  {CertFile: files.Cert["mapping"], KeyFile: files.Key["mapping"], ClientCAFile: junk},
		"missing CA file": {CAFile: filepath.Join(dir, "nope")},
	} {
		if _, err := Load(cfg); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	plain, err := Load(Config{})
	if err != nil || plain.Enabled() || plain.Secure() || plain.ServerGRPC() != nil || plain.ServerHTTP() != nil || plain.ServerOption() != nil {
		t.Fatalf("a Config without TLS must load to plain text: %v", err)
	}
	var none *Set
	if none.Enabled() || none.Secure() {
		t.Fatal("a nil Set is plain text")
	}
	full, err := Load(Config{CertFile: files.Cert["mapping"], KeyFile: files.Key["mapping"], ClientCAFile: files.CA, CAFile: files.CA})
	if err != nil || !full.Enabled() || !full.Secure() || full.ServerGRPC().ClientCAs == nil || full.Client().GetClientCertificate == nil {
		t.Fatalf("full TLS: %v", err)
	}
	if full.ServerHTTP().ClientCAs != nil {
		t.Fatal("HTTP listeners must not ask for client certificates")
	}
}

// TestKeyPairReloads: a certificate replaced on disk is served from the next check on; a
// broken replacement keeps the previous pair in use.
func TestKeyPairReloads(t *testing.T) {
	dir := t.TempDir()
	first, err := pki.WriteSuite(filepath.Join(dir, "1"), pki.SuiteIdentities(), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	second, err := pki.WriteSuite(filepath.Join(dir, "2"), pki.SuiteIdentities(), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(f pki.Files) {
		t.Helper()
		for src, dst := range map[string]string{f.Cert["mapping"]: cert, f.Key["mapping"]: key} {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	serial := func(p *keyPair) string {
		t.Helper()
		c, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	install(first)
	p, err := newKeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	p.every = 0 // check on every handshake
	before := serial(p)
	install(second)
	after := serial(p)
	if after == before {
		t.Fatal("the replaced certificate was not served")
	}
	if err := os.WriteFile(key, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if serial(p) != after {
		t.Fatal("a broken pair replaced the working one")
	}
}

func TestCertificateRoles(t *testing.T) {
	files, err := pki.WriteSuite(t.TempDir(), pki.SuiteIdentities(), nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if roles, err := CertificateRoles(files.Cert["harvester"]); err != nil || !slices.Equal(roles, []string{"harvester"}) {
		t.Fatalf("harvester: %v %v", roles, err)
	}
	if roles, err := CertificateRoles(files.Cert["gateway"]); err != nil || len(roles) != 0 {
		t.Fatalf("gateway: %v %v", roles, err)
	}
	if _, err := CertificateRoles(files.Key["gateway"]); err == nil {
		t.Fatal("a key file read as a certificate")
	}
}
