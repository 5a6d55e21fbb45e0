package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogCoversEveryMessage: every catalog key the templates and the Go code name
// exists, so no page shows a bare key, and every Can names a method of the policy.
func TestCatalogCoversEveryMessage(t *testing.T) {
	msgs, err := loadCatalog("en")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{} // key -> where
	tmplKey := regexp.MustCompile(`\bt "([a-z0-9_.]+)"`)
	goKey := regexp.MustCompile(`"((?:error|flash|signin|title)\.[a-z0-9_.]+)"`)
	can := regexp.MustCompile(`\.Can "([A-Za-z]+/[A-Za-z]+)"`)
	err = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := templateFS.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range tmplKey.FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = p
		}
		for _, m := range can.FindAllStringSubmatch(string(data), -1) {
			if !(view{Me: nil}).knownMethod(m[1]) {
				t.Errorf("%s: Can %q names no method of the policy", p, m[1])
			}
		}
		name := strings.TrimSuffix(filepath.Base(p), ".html")
		if name != "layout" && !strings.HasPrefix(name, "_") {
			used["title."+name] = p + " (its page title)"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range gofiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = f
		}
	}
	for k, where := range used {
		if _, ok := msgs[k]; !ok {
			t.Errorf("%s uses message %q, which no messages/en/*.json defines", where, k)
		}
	}
}
