package k8s

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// serviceCase is the Dockerfile's case arm that maps a service's BINARY to its package.
var serviceCase = regexp.MustCompile(`(?m)^\s*([a-z|]+)\) pkg=services/\$\{BINARY\}/cmd/\$\{BINARY\} ;;`)

// TestImagesAreBuildable: every image the manifests run is one the repository's
// Dockerfile builds: its BINARY case accepts the workload's name and points at a
// package that exists. (The manifest tests check each workload runs .../<name>:<tag>.)
func TestImagesAreBuildable(t *testing.T) {
	root := filepath.Join("..", "..")
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := serviceCase.FindSubmatch(dockerfile)
	if m == nil {
		t.Fatalf("Dockerfile: no case arm %q", serviceCase)
	}
	built := strings.Split(string(m[1]), "|")
	for name := range binaries {
		if !slices.Contains(built, name) {
			t.Errorf("the Dockerfile does not build %s (it builds %v)", name, built)
		}
		main := filepath.Join(root, "services", name, "cmd", name, "main.go")
		if _, err := os.Stat(main); err != nil {
			t.Errorf("image %s: %v", name, err)
		}
	}
}
