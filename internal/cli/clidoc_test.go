package cli

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's Operator CLI section")

const readmePath = "../../README.md"

// TestREADMEOperatorCLI fails when the README's Operator CLI section is not what the
// command tree renders; -update rewrites that section (and nothing else of the README).
func TestREADMEOperatorCLI(t *testing.T) {
	for _, kv := range os.Environ() { // defaults as on a clean machine
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "INTERLOAN_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	section := renderOperatorCLI(NewCommand())
	for _, must := range []string{"| `interloan profiles set-key CODE` |", "| `interloan requests act send ID` |", "| `interloan whoami` |",
		"`-o, --output`", "`--token-file`", "INTERLOAN_SERVER"} {
		if !strings.Contains(section, must) {
			t.Errorf("the section lacks %s", must)
		}
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := replaceSection(string(readme), section)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(readme) {
		t.Fatal("the README's Operator CLI section is stale: run `go test ./internal/cli -run TestREADMEOperatorCLI -update` and commit README.md")
	}
}
