// Package pki issues throw-away certificates: a private CA and the certificates of the
// suite's services signed by it. The demo, `interloan up`, `interloan certs create` and
// the TLS tests use it so that transport security can be on everywhere without an
// operator providing certificates first. Production deployments bring their own CA
// (e.g. cert-manager); nothing here is needed there.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// CA is a certificate authority whose key is held in memory.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewCA creates a self-signed CA named commonName, valid for validFor from an hour ago
// (clock skew between machines must not make a fresh certificate "not yet valid").
func NewCA(commonName string, validFor time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Interloan"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key, pem: encode("CERTIFICATE", der)}, nil
}

// CertPEM is the CA certificate, for clients' and servers' trust pools.
func (ca *CA) CertPEM() []byte { return ca.pem }

// Leaf is an issued certificate and its private key, both PEM-encoded.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// Issue signs a certificate for commonName usable both as a server certificate for hosts
// (DNS names or IP addresses) and as a client certificate. roles become the subject's
// organizational units, which the services read as the caller's roles when the
// certificate authenticates a call (platform/auth): give roles only to identities that
// need them (the harvester), never to a server that does not call others.
func (ca *CA) Issue(commonName string, roles []string, hosts []string, validFor time.Duration) (Leaf, error) {
	if commonName == "" {
		return Leaf{}, errors.New("pki: empty common name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: key for %s: %w", commonName, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Leaf{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"Interloan"}, OrganizationalUnit: roles},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: certificate for %s: %w", commonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: key for %s: %w", commonName, err)
	}
	return Leaf{CertPEM: encode("CERTIFICATE", der), KeyPEM: encode("PRIVATE KEY", keyDER)}, nil
}

// Identity names one certificate of a suite: its common name, roles, and the host names
// it serves under besides the suite's common ones.
type Identity struct {
	Name  string
	Roles []string
	Hosts []string
}

// SuiteIdentities are the certificates a whole suite needs: one per service. Only the
// harvester calls other services on its own behalf, so only it carries a role; the
// gateway's certificate only secures the transport (callers' tokens are forwarded).
func SuiteIdentities() []Identity {
	return []Identity{
		{Name: "profiles"}, {Name: "mapping"}, {Name: "harvester", Roles: []string{"harvester"}},
		{Name: "requests"}, {Name: "gateway"}, {Name: "console"},
	}
}

// Files are the paths WriteSuite wrote.
type Files struct {
	// CA is the CA certificate (ca.crt); the CA key is never written.
	CA string
	// Cert and Key map an identity's name to its certificate (<name>.crt) and key
	// (<name>.key, mode 0600).
	Cert, Key map[string]string
}

// WriteSuite creates a new CA and a certificate per identity for hosts in dir, valid for
// validFor. The CA key stays in memory and is discarded, so nobody can issue more
// certificates under it: rerunning creates a new CA.
func WriteSuite(dir string, ids []Identity, hosts []string, validFor time.Duration) (Files, error) {
	ca, err := NewCA("Interloan throw-away CA", validFor)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, fmt.Errorf("pki: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // MkdirAll leaves an existing directory as it is
		return Files{}, fmt.Errorf("pki: %w", err)
	}
	f := Files{CA: filepath.Join(dir, "ca.crt"), Cert: map[string]string{}, Key: map[string]string{}}
	if err := os.WriteFile(f.CA, ca.CertPEM(), 0o644); err != nil {
		return Files{}, fmt.Errorf("pki: %w", err)
	}
	for _, id := range ids {
		leaf, err := ca.Issue(id.Name, id.Roles, append(slices.Clip(hosts), id.Hosts...), validFor)
		if err != nil {
			return Files{}, err
		}
		f.Cert[id.Name] = filepath.Join(dir, id.Name+".crt")
		f.Key[id.Name] = filepath.Join(dir, id.Name+".key")
		if err := os.WriteFile(f.Cert[id.Name], leaf.CertPEM, 0o644); err != nil {
			return Files{}, fmt.Errorf("pki: %w", err)
		}
		if err := os.WriteFile(f.Key[id.Name], leaf.KeyPEM, 0o600); err != nil {
			return Files{}, fmt.Errorf("pki: %w", err)
		}
		// WriteFile keeps an existing file's mode: a key left readable must not stay so.
		if err := os.Chmod(f.Key[id.Name], 0o600); err != nil {
			return Files{}, fmt.Errorf("pki: %w", err)
		}
	}
	return f, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n, nil
}

func encode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
