package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"testing"
	"time"
)

// TestWriteSuite: every certificate verifies against the CA for the given hosts, as a
// server and as a client; roles are its OUs; keys are private to the owner.
func TestWriteSuite(t *testing.T) {
	files, err := WriteSuite(t.TempDir(), SuiteIdentities(), []string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	for _, id := range SuiteIdentities() {
		pair, err := tls.LoadX509KeyPair(files.Cert[id.Name], files.Key[id.Name])
		if err != nil {
			t.Fatalf("%s: %v", id.Name, err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"localhost", "127.0.0.1"} {
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("%s for %s (usage %v): %v", id.Name, host, usage, err)
				}
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.org"}); err == nil {
			t.Errorf("%s verified for a host it was not issued for", id.Name)
		}
		if leaf.Subject.CommonName != id.Name || !slices.Equal(leaf.Subject.OrganizationalUnit, id.Roles) {
			t.Errorf("%s: subject %v", id.Name, leaf.Subject)
		}
		if fi, err := os.Stat(files.Key[id.Name]); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key mode %v, want 0600", id.Name, fi.Mode())
		}
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v", err)
	}
}

func TestIssueNeedsName(t *testing.T) {
	ca, err := NewCA("t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue("", nil, nil, time.Hour); err == nil {
		t.Fatal("issued a certificate without a name")
	}
}
