package client

import (
	"path/filepath"
	"testing"

	"github.com/interloan/interloan/platform/tlsconfig"
)

// TestDial: a transport configuration that cannot load fails the dial before anything
// is sent; plain text and TLS both build a connection (grpc.NewClient connects lazily).
func TestDial(t *testing.T) {
	if _, err := Dial("127.0.0.1:1", tlsconfig.Config{CAFile: filepath.Join(t.TempDir(), "missing.crt")}, "il_token"); err == nil {
		t.Fatal("dialled with a CA file that does not exist")
	}
	for _, token := range []string{"", "il_token"} {
		c, err := Dial("127.0.0.1:1", tlsconfig.Config{}, token)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}
