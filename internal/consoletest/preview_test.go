package consoletest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/interloan/interloan/fakes/fakelibris"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// TestPreviewBeforeActivating: the administrator creates an inactive Libris profile
// whose connection test fails on a wrong key, naming the credential step; with the
// right key every step passes and the profile is created. Its preview shows a request
// whose lender is no partner, with a link to the partner form filled in; once the
// partner exists, "Preview again" shows that request to be created, and the profile is
// activated from the preview, whose summary the confirmation repeats.
func TestPreviewBeforeActivating(t *testing.T) {
	s := startSuite(t)
	ctx := s.ctx
	if err := s.Clients.CreateLibrary(ctx, testenv.LocalLibrary, "Abc stadsbibliotek"); err != nil {
		t.Fatal(err)
	}
	if err := s.Clients.MapLibrary(ctx, typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, testenv.LibrisSigel, testenv.LocalLibrary); err != nil {
		t.Fatal(err)
	}
	if err := s.Clients.CreatePartner(ctx, typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, "Xyz", "Xyz bibliotek"); err != nil {
		t.Fatal(err)
	}
	const key = "the-right-libris-key"
	s.Libris.AddKey(key, testenv.LibrisSigel)
	today := time.Now().UTC()
	s.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 3, Sigel: testenv.LibrisSigel, Count: 2, From: today, To: today, Lenders: []string{"Xyz"}})...)
	s.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 5, Sigel: testenv.LibrisSigel, Count: 1, From: today.AddDate(0, 0, -1), To: today.AddDate(0, 0, -1), Lenders: []string{"Nyx"}})...)

	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("gsa", auth.RoleAdmin))
	b.open("/profiles/new")
	b.fill("#code", "libris-try")
	b.fill("#display_name", "Libris Abc (try)")
	b.click(`form[action="/profiles/new"] button[type=submit]`)
	b.do("choose Libris", chromedp.Click(chromedp.CSS("#system-libris")))
	b.click("#show-system")
	b.fill("#libris_base_url", s.Libris.URL)
	b.fill("#libris_library_code", testenv.LibrisSigel)
	b.set("#resource_sharing_library", testenv.LocalLibrary)
	b.set("#harvest_date", today.AddDate(0, 0, -3).Format(time.DateOnly))
	b.do("inactive", chromedp.Click(chromedp.CSS("#active"))) // starts ticked
	b.fill("#api_key", "a-wrong-key")
	b.click("#test-connection")
	if b.count(`#connection-test li.bad[data-code="CREDENTIAL_REFUSED"]`) != 1 || b.count(`#connection-test li[data-code="NOT_RUN"]`) != 1 {
		b.shot("preview-test-failed")
		t.Fatalf("a wrong key: %q", b.text("#connection-test"))
	}
	keepShot(b, "profile-test-connection-failed")
	if got := b.value("#libris_base_url"); got != s.Libris.URL {
		t.Errorf("the test lost the typed base URL: %q", got)
	}
	if strings.Contains(b.mainText(), "a-wrong-key") {
		t.Error("the page shows the typed key")
	}

	b.fill("#api_key", key)
	b.click("#test-connection")
	if b.count(`#connection-test li.bad`) != 0 || b.count(`#connection-test li.ok`) != 5 || !strings.Contains(b.text("#connection-test"), "sigel Abc") {
		t.Fatalf("the right key: %q", b.text("#connection-test"))
	}
	keepShot(b, "profile-test-connection")
	b.fill("#api_key", key) // a key is never put back into a page
	b.click("#save")
	if !strings.Contains(b.mainText(), "Libris Abc (try)") || getProfile(t, s, "libris-try").GetActive() {
		t.Fatalf("after create: %q", b.mainText())
	}

	b.click("#preview")
	row := `#preview-table tr[data-reason="PARTNER_UNKNOWN"]`
	if b.count(row) != 1 || b.count(`#preview-table tr[data-outcome="OUTCOME_CREATED"]`) != 2 {
		t.Fatalf("preview: %q", b.mainText())
	}
	keepShot(b, "profile-preview")
	b.click(row + " a.fix")
	if got := b.value("#code"); got != "Nyx" {
		t.Fatalf("the partner form starts with code %q", got)
	}
	b.fill("#display_name", "Nyx bibliotek")
	b.click("#save")

	b.open("/profiles/libris-try/preview")
	b.click("#preview-again")
	if b.count(row) != 0 || b.count(`#preview-table tr[data-outcome="OUTCOME_CREATED"]`) != 3 || b.count(`#preview-table td.ok`) != 3 {
		t.Fatalf("preview after the partner: %q", b.mainText())
	}
	summary := b.text("#preview-summary")
	said := b.dialogs()
	b.click("#activate")
	if !getProfile(t, s, "libris-try").GetActive() {
		t.Fatalf("not active: %q", b.mainText())
	}
	if d := said(); len(d) != 1 || !strings.Contains(d[0], "3 to create") || !strings.Contains(summary, "3 to create") {
		t.Errorf("the activation's confirmation %q, the summary %q", d, summary)
	}
	if runs, err := s.Clients.Harvester.ListRuns(ctx, nil); err == nil && len(runs.GetRuns()) != 0 {
		t.Errorf("the previews left runs: %v", runs.GetRuns())
	}
}

// keepShot is b.shot, also kept in CONSOLE_SCREENSHOTS when set, for a look at the pages
// of this test.
func keepShot(b *browser, name string) {
	b.t.Helper()
	b.shot(name)
	if d := os.Getenv("CONSOLE_SCREENSHOTS"); d != "" {
		png := get(b, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			b.t.Error(err)
		}
	}
}
