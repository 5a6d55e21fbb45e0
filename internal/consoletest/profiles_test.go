package consoletest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// set gives the form control sel the value v (selects, dates and times, whose typing
// depends on the browser's locale).
func (b *browser) set(sel, v string) {
	b.t.Helper()
	b.do("set "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// value is the current value of the form control sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return get(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// getProfile reads a profile as the administrator.
func getProfile(t *testing.T, s *suiteEnv, code string) *profilesv1.IntegrationProfile {
	t.Helper()
	p, err := s.Clients.Profiles.GetIntegrationProfile(s.ctx, &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/" + code})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProfileWizard: the administrator creates a Libris profile in two steps, is shown
// the service's refusal of a bad base URL beside the field, fixes it, and lands on the
// new profile, which says what it still lacks.
func TestProfileWizard(t *testing.T) {
	s := startSuite(t)
	if err := s.Clients.CreateLibrary(s.ctx, testenv.LocalLibrary, "Abc stadsbibliotek"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("gsa", auth.RoleAdmin))

	b.open("/profiles")
	b.click(`a[href="/profiles/new"]`)
	// Step 1, first with a code the service refuses.
	b.fill("#code", "libris abc")
	b.fill("#display_name", "Libris Abc")
	b.fill("#description", "Borrowing requests of Abc stadsbibliotek")
	b.click(`form[action="/profiles/new"] button[type=submit]`)
	if b.count(`#code[aria-invalid="true"]`) != 1 || b.text("#code-error") == "" {
		t.Fatalf("step 1 with a bad code: no message beside the code: %q", b.mainText())
	}
	if got := b.value("#display_name"); got != "Libris Abc" {
		t.Errorf("step 1 came back without the name typed: %q", got)
	}
	b.fill("#code", "libris-abc")
	b.click(`form[action="/profiles/new"] button[type=submit]`)

	// Step 2: the system first, then its fields.
	if b.count(`input[type=hidden][name=code][value="libris-abc"]`) != 1 {
		t.Fatalf("step 2 does not carry step 1's code: %q", b.mainText())
	}
	b.do("choose Libris", chromedp.Click(chromedp.CSS("#system-libris")))
	b.click("#show-system")
	if b.count("#libris_base_url") != 1 || b.count("#netpunkt_agency_id") != 0 {
		t.Fatalf("Libris chosen: the form shows not (only) Libris's fields")
	}
	if got := b.value("#time_zone"); got != "Europe/Stockholm" {
		t.Errorf("time zone for Libris starts as %q", got)
	}
	const key = "libris-api-key-for-abc"
	fillStep2 := func(baseURL string) {
		b.fill("#libris_base_url", baseURL)
		b.fill("#libris_library_code", testenv.LibrisSigel)
		b.set("#resource_sharing_library", testenv.LocalLibrary)
		b.fill("#api_key", key)
		b.set("#harvest_date", "2025-01-02")
		b.set("#schedule_kind", "daily")
		b.set("#schedule_time", "06:00")
	}
	fillStep2("https//iller.libris.kb.se/librisfjarrlan/api") // a colon short
	b.shot("profile-wizard")
	b.click("#save")

	if b.count(`#libris_base_url[aria-invalid="true"]`) != 1 {
		t.Fatalf("a bad base URL: the field is not marked invalid: %q", b.mainText())
	}
	if got := b.text("#libris_base_url-error"); !strings.Contains(got, "absolute http") {
		t.Errorf("message beside the base URL: %q", got)
	}
	if got := b.value("#api_key"); got != "" {
		t.Errorf("the refused form came back with the API key in it")
	}
	if got := b.value("#libris_library_code"); got != testenv.LibrisSigel {
		t.Errorf("the refused form lost the sigel typed: %q", got)
	}
	html := get(b, "page source", chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, key) {
		t.Error("the API key is in the page")
	}
	b.fill("#libris_base_url", s.Libris.URL)
	b.fill("#api_key", key)
	b.click("#save")

	if got := b.mainText(); !strings.Contains(got, "The profile is created") || !strings.Contains(got, "Libris Abc") {
		t.Fatalf("after create: %q", got)
	}
	if got := b.text("#readiness"); !strings.Contains(got, "no library-code mapping") || b.count("#fix-mapping") != 1 {
		t.Errorf("readiness of a profile whose sigel is not mapped: %q", got)
	}
	if got := b.mainText(); !strings.Contains(got, "Every day at 06:00 Europe/Stockholm") || !strings.Contains(got, "A key is set") {
		t.Errorf("profile page: %q", got)
	}
	p := getProfile(t, s, "libris-abc")
	if p.GetLibris().GetBaseUrl() != s.Libris.URL || p.GetLibris().GetLibraryCode() != testenv.LibrisSigel || !p.GetApiKeySet() ||
		p.GetResourceSharingLibrary() != testenv.LocalLibrary || p.GetSchedule().GetDaily().GetTime().GetHours() != 6 ||
		p.GetHarvestStart().GetDate().GetDay() != 2 || p.GetDescription() != "Borrowing requests of Abc stadsbibliotek" || !p.GetActive() {
		t.Errorf("stored profile: %v", p)
	}
}

// TestProfileEditConflict: two administrators edit the same profile; the second to save
// is told someone else changed it, keeps what they typed, and nothing of theirs is saved.
func TestProfileEditConflict(t *testing.T) {
	s := startSuite(t)
	w := s.Libris.World(testenv.WorldOptions{})
	if err := s.Clients.Seed(s.ctx, w); err != nil {
		t.Fatal(err)
	}
	code := w.Profile.GetCode()
	ann := newBrowser(t, s.ConsoleURL())
	ann.signIn(s.token("ann", auth.RoleAdmin))
	bo := newBrowser(t, s.ConsoleURL())
	bo.signIn(s.token("bo", auth.RoleAdmin))
	ann.open("/profiles/" + code + "/edit")
	bo.open("/profiles/" + code + "/edit")

	ann.fill("#display_name", "Named by Ann")
	ann.click("#save")
	if got := ann.mainText(); !strings.Contains(got, "Your changes are saved") || !strings.Contains(got, "Named by Ann") {
		t.Fatalf("Ann's save: %q", got)
	}

	bo.fill("#display_name", "Named by Bo")
	bo.set("#schedule_kind", "interval")
	bo.fill("#schedule_minutes", "30")
	bo.click("#save")
	if got := bo.mainText(); !strings.Contains(got, "Someone else changed this since you opened it") {
		t.Fatalf("Bo's save after Ann's: %q", got)
	}
	if got := bo.value("#display_name"); got != "Named by Bo" {
		t.Errorf("Bo's input was lost: %q", got)
	}
	if got := bo.value("#schedule_minutes"); got != "30" {
		t.Errorf("Bo's minutes were lost: %q", got)
	}
	p := getProfile(t, s, code)
	// Ann changed only the name: the zone stays UTC (empty) and Bo's schedule is not saved.
	if p.GetDisplayName() != "Named by Ann" || p.GetSchedule().GetInterval() != nil || p.GetSchedule().GetTimeZone() != "" {
		t.Errorf("stored after the conflict: name %q, schedule %v", p.GetDisplayName(), p.GetSchedule())
	}
	bo.click("#reload")
	if got := bo.value("#display_name"); got != "Named by Ann" {
		t.Errorf("after reload the form shows %q", got)
	}
}
