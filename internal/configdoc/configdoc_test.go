package configdoc

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

const docPath = "../../docs/config.md"

// TestConfigReference fails when docs/config.md is not what the binaries' flags render
// (regenerate with `make docs`), or when a flag has no environment twin.
func TestConfigReference(t *testing.T) {
	for _, kv := range os.Environ() { // defaults as on a clean machine
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "INTERLOAN_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	got, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (create it with `make docs`)", err)
	}
	if string(want) != got {
		t.Fatal("docs/config.md is stale: run `make docs` and commit it")
	}
	for _, must := range []string{"`--tls-cert`", "`INTERLOAN_TOKENS_FILE`", "## gateway", "`--allowed-hosts`"} {
		if !strings.Contains(got, must) {
			t.Errorf("the reference lacks %s", must)
		}
	}
}
