package consoletest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// TestMappingPagesMakeAProfileReady: a profile whose sigel is not mapped says the import
// will fail and links to the mapping form, prefilled; creating the mapping there and a
// partner on its page makes the profile ready, and the tester resolves codes typed
// with odd case and spaces as an import would.
func TestMappingPagesMakeAProfileReady(t *testing.T) {
	s := startSuite(t)
	w := s.Libris.World(testenv.WorldOptions{Count: 12, Days: 3, Seed: 7})
	if err := s.Clients.CreateLibrary(s.ctx, testenv.LocalLibrary, "Abc stadsbibliotek"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clients.CreateProfile(s.ctx, w.Profile); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("gsa", auth.RoleAdmin))

	code := w.Profile.GetCode()
	b.open("/profiles/" + code)
	if got := b.text("#readiness"); !strings.Contains(got, "the import will fail") {
		t.Fatalf("readiness without a mapping: %q", got)
	}
	b.click("#fix-mapping")
	if b.value("#system") != "libris" || b.value("#external_code") != testenv.LibrisSigel || b.value("#local_library_code") != testenv.LocalLibrary {
		t.Errorf("the mapping form is not prefilled: %s %q %q", b.value("#system"), b.value("#external_code"), b.value("#local_library_code"))
	}
	b.click("#save")
	if got := b.mainText(); !strings.Contains(got, "The mapping is created") {
		t.Fatalf("after creating the mapping: %q", got)
	}

	// Each lender of the world as a partner, one through the page and the rest by API.
	b.open("/partners")
	b.click("#new")
	b.fill("#code", w.Partners[0])
	b.fill("#display_name", w.Partners[0]+" bibliotek")
	b.set("#system", "libris")
	b.fill("#email", "not an address")
	b.click("#save")
	if b.count(`#email[aria-invalid="true"]`) != 1 {
		t.Fatalf("a bad e-mail address is not marked: %q", b.mainText())
	}
	b.fill("#email", "fjarrlan@example.se")
	b.click("#save")
	if got := b.mainText(); !strings.Contains(got, "The partner is created") {
		t.Fatalf("after creating the partner: %q", got)
	}
	for _, l := range w.Partners[1:] {
		if err := s.Clients.CreatePartner(s.ctx, w.System, l, l+" bibliotek"); err != nil {
			t.Fatal(err)
		}
	}

	b.open("/profiles/" + code)
	if got := b.text("#readiness"); !strings.Contains(got, "Ready") {
		t.Errorf("readiness with the mapping in place: %q", got)
	}

	// The tester: a lender code in odd case with spaces, and the sigel with spaces.
	b.open("/mappings")
	b.set("#resolve_kind", "partner")
	b.fill("#resolve_code", "  "+strings.ToLower(w.Partners[0])+" ")
	b.click("#resolve-submit")
	if got := b.text("#resolve-answer"); !strings.Contains(got, "is the partner "+w.Partners[0]) {
		t.Errorf("partner code resolves to %q", got)
	}
	b.set("#resolve_kind", "libris")
	b.fill("#resolve_code", " "+testenv.LibrisSigel+"  ")
	b.click("#resolve-submit")
	if got := b.text("#resolve-answer"); !strings.Contains(got, "maps to the local library "+testenv.LocalLibrary) {
		t.Errorf("sigel resolves to %q", got)
	}
	b.set("#resolve_kind", "libris")
	b.fill("#resolve_code", strings.ToUpper(testenv.LibrisSigel))
	b.click("#resolve-submit")
	if got := b.text("#resolve-answer"); !strings.Contains(got, "resolves to nothing") {
		t.Errorf("a sigel in other case (sigels are case-sensitive) resolves to %q", got)
	}

	// The list, after an import and with a second, unfinished profile beside it.
	if _, err := testenv.Import(s.ctx, s.Clients.Harvester, w.ProfileName()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clients.Profiles.CreateIntegrationProfile(s.ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{
		Code: "netpunkt-775100", DisplayName: "Netpunkt 775100", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
		Schedule: &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: 30}}},
	}}); err != nil {
		t.Fatal(err)
	}
	// A schedule in words, as the picture of the list shows it.
	sched := &profilesv1.IntegrationProfile{Name: w.ProfileName(), Schedule: &profilesv1.Schedule{TimeZone: "Europe/Stockholm",
		Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: &typev1.TimeOfDay{Hours: 6}}}}}
	if _, err := s.Clients.Profiles.UpdateIntegrationProfile(s.ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: sched, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"schedule"}}}); err != nil {
		t.Fatal(err)
	}
	b.open("/profiles")
	b.shot("profiles")
	rows := b.text("tbody")
	for _, want := range []string{code, "Ready", "Every day at 06:00 Europe/Stockholm", "Completed", "netpunkt-775100", "Not ready", "Every 30 minutes", "Never run"} {
		if !strings.Contains(rows, want) {
			t.Errorf("the list lacks %q: %q", want, rows)
		}
	}
}

// TestViewerCannotConfigure: a viewer reads every configuration page but is offered no
// control that changes anything, and a forged post carrying the viewer's own CSRF token
// is refused by the service and changes nothing.
func TestViewerCannotConfigure(t *testing.T) {
	s := startSuite(t)
	w := s.Libris.World(testenv.WorldOptions{})
	if err := s.Clients.Seed(s.ctx, w); err != nil {
		t.Fatal(err)
	}
	maps, err := s.Clients.Mapping.ListLibraryMappings(s.ctx, &mappingv1.ListLibraryMappingsRequest{})
	if err != nil || len(maps.GetLibraryMappings()) == 0 {
		t.Fatalf("mappings: %v", err)
	}
	mapping := strings.TrimPrefix(maps.GetLibraryMappings()[0].GetName(), "libraryMappings/")
	code, partner := w.Profile.GetCode(), w.Partners[0]

	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("vera", auth.RoleViewer))
	for _, path := range []string{"/profiles", "/profiles/" + code, "/libraries", "/libraries/" + testenv.LocalLibrary,
		"/mappings", "/mappings/" + mapping, "/partners", "/partners/" + partner} {
		b.open(path)
		if n := b.count(`main form[method=post]`); n != 0 {
			t.Errorf("%s offers a viewer %d forms that change something", path, n)
		}
		if n := b.count(`main a[href$="/new"], main a[href$="/edit"], main #fix-mapping, main #fix-library`); n != 0 {
			t.Errorf("%s offers a viewer %d links to create or edit", path, n)
		}
	}
	b.open("/partners/" + partner)
	if got := b.value("#display_name"); got != partner+" bibliotek" {
		t.Errorf("the viewer cannot read the partner: %q", got)
	}
	b.open("/profiles/new")
	if got := b.mainText(); !strings.Contains(got, "Your role does not allow this") {
		t.Errorf("a viewer opening the new-profile form: %q", got)
	}

	// A forged post with everything a page of the console would send.
	csrf, forger := b.csrf(), b.visitor()
	post := func(path string, form url.Values) (int, string) {
		form.Set("csrf", csrf)
		a := forger.send(http.MethodPost, path, form, nil)
		return a.code, a.body
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/libraries/new", url.Values{"code": {"EVIL"}, "display_name": {"Evil"}}},
		{"/partners/new", url.Values{"code": {"EVIL"}, "display_name": {"Evil"}, "system": {"libris"}, "status": {"active"}}},
		{"/mappings/new", url.Values{"system": {"libris"}, "external_code": {"Evil"}, "local_library_code": {testenv.LocalLibrary}}},
		{"/profiles/new/system", url.Values{"code": {"evil"}, "display_name": {"Evil"}, "action": {"save"}}},
		{"/partners/" + partner + "/delete", url.Values{}},
		{"/mappings/" + mapping + "/delete", url.Values{}},
		{"/libraries/" + testenv.LocalLibrary + "/delete", url.Values{}},
		{"/profiles/" + code + "/delete", url.Values{}},
		{"/profiles/" + code + "/active", url.Values{"active": {"false"}}},
	} {
		status, body := post(tc.path, tc.form)
		if status != http.StatusForbidden || !strings.Contains(body, "Your role does not allow this") {
			t.Errorf("viewer's forged POST %s: %d, want 403 with the refusal", tc.path, status)
		}
	}

	// Nothing changed.
	notFound := func(what string, err error) {
		if status.Code(err) != codes.NotFound {
			t.Errorf("%s after the viewer's posts: %v, want NotFound", what, err)
		}
	}
	_, err = s.Clients.Mapping.GetLibrary(s.ctx, &mappingv1.GetLibraryRequest{Name: "libraries/EVIL"})
	notFound("library EVIL", err)
	_, err = s.Clients.Mapping.GetPartner(s.ctx, &mappingv1.GetPartnerRequest{Name: "partners/EVIL"})
	notFound("partner EVIL", err)
	_, err = s.Clients.Profiles.GetIntegrationProfile(s.ctx, &profilesv1.GetIntegrationProfileRequest{Name: "integrationProfiles/evil"})
	notFound("profile evil", err)
	if res, err := s.Clients.Mapping.ResolveLibraryCodes(s.ctx, &mappingv1.ResolveLibraryCodesRequest{System: w.System, ExternalCodes: []string{"Evil", w.Library}}); err != nil ||
		res.GetResolutions()[0].GetFound() || !res.GetResolutions()[1].GetFound() {
		t.Errorf("mappings after the viewer's posts: %v %v", res, err)
	}
	if _, err := s.Clients.Mapping.GetPartner(s.ctx, &mappingv1.GetPartnerRequest{Name: "partners/" + partner}); err != nil {
		t.Errorf("partner %s after the viewer's delete: %v", partner, err)
	}
	if _, err := s.Clients.Mapping.GetLibrary(s.ctx, &mappingv1.GetLibraryRequest{Name: "libraries/" + testenv.LocalLibrary}); err != nil {
		t.Errorf("library after the viewer's delete: %v", err)
	}
	if p := getProfile(t, s, code); !p.GetActive() {
		t.Error("the viewer deactivated the profile")
	}
}
