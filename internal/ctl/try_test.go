package ctl

import (
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// TestProfilesTestAndImportPreview: `profiles test` shows each step and exits 1 when one
// fails; `import preview` predicts each request of the window as a table or JSON, and
// refuses a half-given window before sending anything.
func TestProfilesTestAndImportPreview(t *testing.T) {
	l := startLive(t, false)
	l.library("MAIN")
	l.partner("Xyz")
	l.seed("Abc", "key", 4, fakelibris.StatusUteliggande, "Xyz", "Nope")
	start := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	for code, key := range map[string]string{"abc": "key", "wrong": "not-the-key"} {
		l.cli("profiles", "create", "--code", code, "--display-name", code, "--base-url", l.Libris.URL, "--library-code", "Abc",
			"--resource-sharing-library", "MAIN", "--api-key-file", l.file(code+".key", key), "--harvest-start", start).must(t, exitOK)
	}

	out := l.cli("profiles", "test", "abc").must(t, exitOK).stdout
	for _, step := range []string{"address", "tls", "http", "credential", "library"} {
		if !strings.Contains(out, step) {
			t.Errorf("no step %s in:\n%s", step, out)
		}
	}
	r := l.cli("profiles", "test", "wrong").must(t, exitServer)
	if !strings.Contains(r.stdout, "CREDENTIAL_REFUSED") || !strings.Contains(r.stdout, "not run") || !strings.Contains(r.stderr, "failed") {
		t.Errorf("a wrong key:\n%s\n%s", r.stdout, r.stderr)
	}

	out = l.cli("import", "preview", "--profile", "abc").must(t, exitOK).stdout
	if !strings.Contains(out, "CREATED") || !strings.Contains(out, "PARTNER_UNKNOWN") {
		t.Errorf("preview:\n%s", out)
	}
	var resp harvesterv1.PreviewImportResponse
	day := time.Now().Format(time.DateOnly)
	decode(t, l.cli("import", "preview", "--profile", "abc", "--from", day, "--to", day, "--limit", "1", "-o", "json").must(t, exitOK).stdout, &resp)
	if len(resp.GetItems()) != 1 {
		t.Errorf("a preview of 1: %v", &resp)
	}
	l.cli("import", "preview", "--profile", "abc", "--from", day).must(t, exitUsage)
	l.cli("import", "preview").must(t, exitUsage)
	if runs := l.cli("runs", "list", "-o", "json").must(t, exitOK).stdout; strings.Contains(runs, "runs/") {
		t.Errorf("a preview left a run:\n%s", runs)
	}
}
