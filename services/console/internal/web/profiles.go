package web

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/services/console/internal/session"
)

// The profile pages: the list, the two-step creation (general part, then system,
// library, key, harvest start and schedule, as Alma's wizard), the profile with what it
// still needs to run, and its edit form.
func (h *Handler) profileRoutes() {
	h.mux.Handle("GET /profiles", h.authed(h.listProfiles))
	h.mux.Handle("GET /profiles/new", h.authed(h.newProfile))
	h.mux.Handle("POST /profiles/new", h.authed(h.profileGeneral))
	h.mux.Handle("POST /profiles/new/system", h.authed(h.profileSystem))
	h.mux.Handle("GET /profiles/{code}", h.authed(h.showProfile))
	h.mux.Handle("GET /profiles/{code}/edit", h.authed(h.editProfile))
	h.mux.Handle("POST /profiles/{code}/edit", h.authed(h.updateProfile))
	h.mux.Handle("POST /profiles/{code}/active", h.authed(h.setProfileActive))
	h.mux.Handle("POST /profiles/{code}/delete", h.authed(h.deleteProfile))
	h.profileTryRoutes()
}

// can reports whether the signed-in person may call method (see view.Can).
func (h *Handler) can(r *http.Request, method string) bool {
	s := sessionOf(r)
	if s == nil {
		return false
	}
	return view{Me: &s.Identity}.Can(method)
}

// profileRow is one line of the list.
type profileRow struct {
	P         *profilesv1.IntegrationProfile
	System    string // catalog key
	Schedule  string
	Readiness readiness
	Last      *harvesterv1.Run
	LastState string // catalog key
	LastClass string // ok, warn or bad
}

type profilesData struct {
	Rows       []profileRow
	Next       string
	RunsFailed bool // the last runs could not be read
}

func (h *Handler) listProfiles(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	resp, err := h.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{
		PageSize: 50, PageToken: r.URL.Query().Get("page_token")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	list := resp.GetIntegrationProfiles()
	ready := h.readiness(ctx, list)
	runs, runsErr := h.lastRuns(ctx, list)
	d := profilesData{RunsFailed: runsErr != nil}
	for i, p := range list {
		row := profileRow{P: p, System: sysKey(p.GetSystem()), Schedule: scheduleWords(h.pages.msgs, p.GetSchedule()), Readiness: ready[i], Last: runs[i]}
		if row.Last != nil {
			row.LastState, row.LastClass = runState(row.Last.GetState())
		}
		d.Rows = append(d.Rows, row)
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/profiles", "page_token", t))
	}
	h.render(w, r, http.StatusOK, "profiles", d)
}

// lastRuns reads each profile's newest run: one ListRuns of one run per profile, which
// the harvester answers from its by-profile index, a few at a time. (ListScheduledJobs
// covers only active, runnable profiles and names the run without its state.)
func (h *Handler) lastRuns(ctx context.Context, list []*profilesv1.IntegrationProfile) ([]*harvesterv1.Run, error) {
	runs := make([]*harvesterv1.Run, len(list))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 8)
	for i, p := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, err := h.harvester.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: p.GetName(), PageSize: 1})
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
				return
			}
			if rs := resp.GetRuns(); len(rs) > 0 {
				runs[i] = rs[0]
			}
		}()
	}
	wg.Wait()
	if first != nil {
		h.log.Warn("console: reading the profiles' last runs failed", "error", first)
	}
	return runs, first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// runState is a run state's catalog key and its colour class.
func runState(s harvesterv1.RunState) (key, class string) {
	switch s {
	case harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS:
		class = "ok"
	case harvesterv1.RunState_RUN_STATE_FAILED, harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS:
		class = "bad"
	case harvesterv1.RunState_RUN_STATE_PENDING, harvesterv1.RunState_RUN_STATE_RUNNING:
		class = ""
	default:
		class = "warn"
	}
	return runStateKey(s), class
}

// sysKey is the catalog key of a system's name.
func sysKey(s typev1.ExternalSystem) string {
	if w := systemWord(s); w != "" {
		return "profiles.system." + w
	}
	return "profiles.system.none"
}

// readiness is what a profile still needs before an import can succeed: the profile
// service's own list, and what the harvester's pre-check also asks of mapping (the
// resource-sharing library exists, the profile's library code is mapped).
type readiness struct {
	Missing        []string // the service's missing parts, in words
	LibraryMissing string   // the resource-sharing library, which does not exist
	Unmapped       string   // the profile's library code, which has no mapping
	CheckFailed    bool     // mapping could not be asked
	FixMapping     template.URL
	FixLibrary     template.URL
}

// Ready reports whether nothing is missing.
func (r readiness) Ready() bool {
	return len(r.Missing) == 0 && r.LibraryMissing == "" && r.Unmapped == "" && !r.CheckFailed
}

// libraryCode is the profile's own library code in its system and the system's word.
func libraryCode(p *profilesv1.IntegrationProfile) (code, system string) {
	switch c := p.GetSystemConfig().(type) {
	case *profilesv1.IntegrationProfile_Libris:
		return c.Libris.GetLibraryCode(), "libris"
	case *profilesv1.IntegrationProfile_Netpunkt:
		return c.Netpunkt.GetAgencyId(), "netpunkt"
	}
	return "", ""
}

// readiness checks the profiles against mapping with one ResolveLibraryCodes call per
// system and one GetLibrary per distinct resource-sharing library.
func (h *Handler) readiness(ctx context.Context, list []*profilesv1.IntegrationProfile) []readiness {
	out := make([]readiness, len(list))
	toResolve := map[string][]string{} // system word → codes to resolve
	libs := map[string]bool{}          // library → exists
	mapped := map[string]bool{}        // system word + "\x00" + code → mapped
	for i, p := range list {
		for _, f := range p.GetReadiness().GetMissingFields() {
			out[i].Missing = append(out[i].Missing, h.missingWords(f))
		}
		if code, sys := libraryCode(p); code != "" && !mapped[sys+"\x00"+code] {
			mapped[sys+"\x00"+code] = false
			toResolve[sys] = append(toResolve[sys], code)
		}
		if l := p.GetResourceSharingLibrary(); l != "" {
			libs[l] = false
		}
	}
	var failed error
	for sys, cs := range toResolve {
		resp, err := h.mapping.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: systems[sys], ExternalCodes: cs})
		if err != nil {
			failed = err
			break
		}
		for _, res := range resp.GetResolutions() {
			mapped[sys+"\x00"+res.GetExternalCode()] = res.GetFound()
		}
	}
	for l := range libs {
		if failed != nil {
			break
		}
		_, err := h.mapping.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: librariesCollection + l})
		switch status.Code(err) {
		case codes.OK:
			libs[l] = true
		case codes.NotFound:
		default:
			failed = err
		}
	}
	if failed != nil {
		h.log.Warn("console: checking the profiles against mapping failed", "error", failed)
	}
	for i, p := range list {
		r := &out[i]
		if failed != nil {
			r.CheckFailed = true
			continue
		}
		if code, sys := libraryCode(p); code != "" && !mapped[sys+"\x00"+code] {
			r.Unmapped = code
			r.FixMapping = link("/mappings/new", "system", sys, "external_code", code, "local_library_code", p.GetResourceSharingLibrary())
		}
		if l := p.GetResourceSharingLibrary(); l != "" && !libs[l] {
			r.LibraryMissing = l
			r.FixLibrary = link("/libraries/new", "code", l)
		}
	}
	return out
}

// missingWords says which part of a profile is missing, for a field the service names.
func (h *Handler) missingWords(field string) string {
	if _, ok := h.pages.msgs["profiles.missing."+field]; ok {
		return h.pages.msgs.T("profiles.missing." + field)
	}
	return field
}

// profileFormData is the data of the profile form: the second step of creation, or
// the edit form.
type profileFormData struct {
	Creating  bool
	Code      string // the profile edited
	F         profileForm
	P         *problem
	E         map[string]fieldErr
	Other     []string
	Libraries []*mappingv1.Library
	Days      []option
	Kinds     []string
	// KeySet and ReceiptSet say a secret is stored; Retype that one was typed into a
	// form that came back refused, and is not in it any more.
	KeySet, ReceiptSet, Retype bool
	SystemFixed                bool // the system is set and cannot change
	Etag                       string
	RequestID                  string
	Back                       template.URL // step 1 with its values, when they were refused
	// Test is the result of "Test connection"; TestedSaved that the saved profile was
	// tested (the edit form without a typed key).
	Test        *connTest
	TestedSaved bool
}

var weekDays = func() []option {
	var o []option
	for d := typev1.DayOfWeek_DAY_OF_WEEK_MONDAY; d <= typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY; d++ {
		o = append(o, option{Value: strconv.Itoa(int(d)), Key: dayKey(d)})
	}
	return o
}()

// newProfile is step 1: the general part. Its values may come back in the query (from
// step 2's link back).
func (h *Handler) newProfile(w http.ResponseWriter, r *http.Request) {
	if !h.can(r, "ProfileService/CreateIntegrationProfile") {
		h.fail(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	q := r.URL.Query()
	f := profileForm{Code: q.Get("code"), DisplayName: q.Get("display_name"), Description: q.Get("description")}
	h.render(w, r, http.StatusOK, "profile_new", profileFormData{Creating: true, F: f, E: map[string]fieldErr{}})
}

// profileGeneral checks step 1 with the service (a create that only validates, and
// whether the code is taken), then shows step 2 with step 1's values carried along.
func (h *Handler) profileGeneral(w http.ResponseWriter, r *http.Request) {
	f := readProfileForm(r)
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: f.general(), ValidateOnly: true})
	var p *problem
	if err != nil {
		p = problemOf(err)
	} else {
		_, err := h.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: profilesCollection + f.Code})
		switch status.Code(err) {
		case codes.NotFound:
		case codes.OK:
			p = &problem{HTTP: http.StatusConflict, Key: "error.exists",
				Fields: map[string]string{"integration_profile.code": h.pages.msgs.T("profiles.form.code_taken")}}
		default:
			h.apiFail(w, r, err)
			return
		}
	}
	if p != nil {
		d := profileFormData{Creating: true, F: f, P: p}
		d.E, d.Other = fieldErrors(p, profileInputs)
		h.render(w, r, p.HTTP, "profile_new", d)
		return
	}
	id, err := session.Random()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	f.Active, f.ScheduleKind, f.Granularity = true, "none", "day"
	h.renderProfileForm(w, r, http.StatusOK, profileFormData{Creating: true, F: f, RequestID: id})
}

// renderProfileForm renders the system form with the libraries to choose from.
func (h *Handler) renderProfileForm(w http.ResponseWriter, r *http.Request, code int, d profileFormData) {
	ctx, cancel := h.call(r)
	defer cancel()
	resp, err := h.mapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: 1000})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d.Libraries = resp.GetLibraries()
	if d.F.Library != "" && !containsLibrary(d.Libraries, d.F.Library) {
		// Keep the profile's library selectable even when it is missing from mapping.
		d.Libraries = append(d.Libraries, &mappingv1.Library{Code: d.F.Library, DisplayName: d.F.Library})
	}
	if d.Creating && d.F.TimeZone == "" {
		// Only a new profile starts in its system's zone: an empty zone is UTC, and an
		// edit must not change it unasked.
		d.F.TimeZone = defaultZones[d.F.System]
	}
	if d.E == nil {
		d.E, d.Other = fieldErrors(d.P, profileInputs)
	}
	d.Days, d.Kinds = weekDays, []string{"none", "daily", "weekly", "interval"}
	h.render(w, r, code, "profile_system", d)
}

func containsLibrary(ls []*mappingv1.Library, code string) bool {
	for _, l := range ls {
		if l.GetCode() == code {
			return true
		}
	}
	return false
}

// profileSystem is step 2: choosing the system shows its fields; the final submit
// creates the profile, general part and all, in one call.
func (h *Handler) profileSystem(w http.ResponseWriter, r *http.Request) {
	f := readProfileForm(r)
	d := profileFormData{Creating: true, F: f, RequestID: r.PostFormValue("request_id"), Retype: f.apiKey != "" || f.receiptPassword != ""}
	if r.PostFormValue("action") == "system" {
		h.renderProfileForm(w, r, http.StatusOK, d)
		return
	}
	p, bad := f.profile()
	if len(bad) > 0 {
		h.renderProfileForm(w, r, http.StatusBadRequest, h.localProblem(d, bad))
		return
	}
	if r.PostFormValue("action") == "test" {
		h.testConnection(r, &d, p)
		h.renderProfileForm(w, r, http.StatusOK, d)
		return
	}
	ctx, cancel := h.call(r)
	defer cancel()
	created, err := h.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p, RequestId: d.RequestID})
	if err != nil {
		d.P = problemOf(err)
		// Step 1's values are hidden here: a refusal of one of them links back to step 1.
		general := d.P.Key == "error.exists"
		for _, path := range []string{"integration_profile.code", "integration_profile.display_name", "integration_profile.description", "integration_profile.integration_type"} {
			general = general || d.P.Field(path) != ""
		}
		if general {
			d.Back = link("/profiles/new", "code", f.Code, "display_name", f.DisplayName, "description", f.Description)
		}
		h.renderProfileForm(w, r, d.P.HTTP, d)
		return
	}
	redirect(w, r, "/profiles/"+created.GetCode(), "flash.profile_created")
}

// localProblem turns what the form could not even read into a refusal shown like the
// service's.
func (h *Handler) localProblem(d profileFormData, bad map[string]string) profileFormData {
	p := &problem{HTTP: http.StatusBadRequest, Key: "error.invalid", Fields: map[string]string{}}
	for path, key := range bad {
		p.Fields[path] = h.pages.msgs.T(key)
	}
	d.P = p
	return d
}

type profileData struct {
	P            *profilesv1.IntegrationProfile
	System       string
	Schedule     string
	Readiness    readiness
	Last         *harvesterv1.Run
	LastState    string
	LastClass    string
	RunsFailed   bool
	HarvestStart string
}

func (h *Handler) showProfile(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	p, err := h.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: profilesCollection + r.PathValue("code")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	list := []*profilesv1.IntegrationProfile{p}
	runs, runsErr := h.lastRuns(ctx, list)
	d := profileData{P: p, System: sysKey(p.GetSystem()), Schedule: scheduleWords(h.pages.msgs, p.GetSchedule()),
		Readiness: h.readiness(ctx, list)[0], Last: runs[0], RunsFailed: runsErr != nil}
	if d.Last != nil {
		d.LastState, d.LastClass = runState(d.Last.GetState())
	}
	if hs := p.GetHarvestStart(); hs != nil {
		f := formOf(p)
		d.HarvestStart = strings.TrimSpace(f.HarvestDate + " " + f.HarvestTime)
	}
	h.render(w, r, http.StatusOK, "profile", d)
}

func (h *Handler) editProfile(w http.ResponseWriter, r *http.Request) {
	if !h.can(r, "ProfileService/UpdateIntegrationProfile") {
		h.fail(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	ctx, cancel := h.call(r)
	defer cancel()
	p, err := h.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: profilesCollection + r.PathValue("code")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.renderProfileForm(w, r, http.StatusOK, profileFormData{Code: p.GetCode(), F: formOf(p), Etag: p.GetEtag(),
		KeySet: p.GetApiKeySet(), ReceiptSet: p.GetReceiptPasswordSet(), SystemFixed: p.GetSystem() != typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED})
}

// updateProfile sends the fields on the form (update_mask) with the etag the form was
// loaded with, so a change made meanwhile by someone else is refused, not overwritten.
func (h *Handler) updateProfile(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	f := readProfileForm(r)
	f.Code = code
	d := profileFormData{Code: code, F: f, Etag: r.PostFormValue("etag"),
		KeySet: r.PostFormValue("api_key_set") != "", ReceiptSet: r.PostFormValue("receipt_password_set") != "",
		SystemFixed: r.PostFormValue("system_fixed") != "", Retype: f.apiKey != "" || f.receiptPassword != ""}
	if r.PostFormValue("action") == "system" {
		h.renderProfileForm(w, r, http.StatusOK, d)
		return
	}
	p, bad := f.profile()
	if len(bad) > 0 {
		h.renderProfileForm(w, r, http.StatusBadRequest, h.localProblem(d, bad))
		return
	}
	p.Name, p.Etag = profilesCollection+code, d.Etag
	if r.PostFormValue("action") == "test" {
		h.testConnection(r, &d, p)
		h.renderProfileForm(w, r, http.StatusOK, d)
		return
	}
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: f.updateMask()}})
	if err != nil {
		d.P = problemOf(err)
		h.renderProfileForm(w, r, d.P.HTTP, d)
		return
	}
	redirect(w, r, "/profiles/"+code, "flash.profile_saved")
}

// setProfileActive activates or deactivates a profile, with the etag of the page.
func (h *Handler) setProfileActive(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	active := r.PostFormValue("active") == "true"
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: profilesCollection + code, Active: active, Etag: r.PostFormValue("etag")},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"active"}}})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	flash := "flash.profile_deactivated"
	if active {
		flash = "flash.profile_activated"
	}
	redirect(w, r, "/profiles/"+code, flash)
}

// deleteProfile deletes a profile as the page showed it (its etag).
func (h *Handler) deleteProfile(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.profiles.DeleteIntegrationProfile(ctx, &profilesv1.DeleteIntegrationProfileRequest{
		Name: profilesCollection + r.PathValue("code"), Etag: r.PostFormValue("etag")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/profiles", "flash.profile_deleted")
}
