package web

import (
	"html/template"
	"net/http"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

// Trying a profile before trusting it: the form's "Test connection" (the profile as
// typed, key included, through the harvester's TestConnection) and a profile's "Preview
// next import" (PreviewImport), neither of which writes anything.
func (h *Handler) profileTryRoutes() {
	h.mux.Handle("GET /profiles/{code}/preview", h.authed(h.previewProfile))
}

// connCheck is one step of a connection test as the form shows it.
type connCheck struct {
	Step     string // catalog key
	Passed   bool
	NotRun   bool
	Code     string
	Message  string
	Duration string
}

// connTest is a connection test's result on the form.
type connTest struct {
	Passed bool
	Checks []connCheck
}

// testConnection tests the profile on the form: as typed, with the typed key; on the
// edit form without a typed key, the saved profile with its stored key. A refusal of
// the form's values comes back as the service's problem beside the fields.
func (h *Handler) testConnection(r *http.Request, d *profileFormData, p *profilesv1.IntegrationProfile) {
	ctx, cancel := h.call(r)
	defer cancel()
	req := &harvesterv1.TestConnectionRequest{IntegrationProfile: p}
	if !d.Creating && p.GetApiKey() == "" {
		req = &harvesterv1.TestConnectionRequest{Name: profilesCollection + d.Code}
		d.TestedSaved = true
	}
	resp, err := h.harvester.TestConnection(ctx, req)
	if err != nil {
		d.P = problemOf(err)
		return
	}
	t := &connTest{Passed: resp.GetPassed()}
	for _, c := range resp.GetChecks() {
		t.Checks = append(t.Checks, connCheck{Step: stepKey(c.GetStep()), Passed: c.GetPassed(), NotRun: c.GetCode() == "NOT_RUN",
			Code: c.GetCode(), Message: c.GetMessage(), Duration: c.GetDuration().AsDuration().Round(time.Millisecond).String()})
	}
	d.Test = t
}

// previewRow is one predicted request with its fix, where one exists.
type previewRow struct {
	It      *harvesterv1.PreviewItem
	Outcome string // catalog key
	Class   string // ok, warn or bad
	FixKey  string // catalog key of the fix's words; "" when none
	Fix     template.URL
	FixCan  string // the method the fix calls (view.Can)
}

type previewData struct {
	P       *profilesv1.IntegrationProfile
	Resp    *harvesterv1.PreviewImportResponse
	Rows    []previewRow
	Summary string
}

// previewProfile predicts the next import of a profile (PreviewImport) and offers the
// fix of each request that would not be imported, where one exists.
func (h *Handler) previewProfile(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	p, err := h.profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: profilesCollection + r.PathValue("code")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	resp, err := h.harvester.PreviewImport(ctx, &harvesterv1.PreviewImportRequest{Profile: p.GetName()})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	_, sys := libraryCode(p)
	d := previewData{P: p, Resp: resp, Summary: h.previewSummary(resp.GetCounters())}
	for _, it := range resp.GetItems() {
		row := previewRow{It: it}
		row.Outcome, row.Class = outcomeWords(it.GetOutcome())
		switch it.GetReasonCode() {
		case "PARTNER_UNKNOWN":
			row.FixKey, row.FixCan = "profiles.preview.fix_partner", "MappingService/CreatePartner"
			row.Fix = link("/partners/new", "code", it.GetUnresolvedCode(), "system", sys)
		case "LIBRARY_UNMAPPED":
			row.FixKey, row.FixCan = "profiles.preview.fix_mapping", "MappingService/CreateLibraryMapping"
			row.Fix = link("/mappings/new", "system", sys, "external_code", it.GetUnresolvedCode(), "local_library_code", p.GetResourceSharingLibrary())
		}
		d.Rows = append(d.Rows, row)
	}
	h.render(w, r, http.StatusOK, "profile_preview", d)
}

// outcomeWords is an outcome's catalog key and colour class.
func outcomeWords(o harvesterv1.Outcome) (key, class string) {
	switch o {
	case harvesterv1.Outcome_OUTCOME_CREATED, harvesterv1.Outcome_OUTCOME_UPDATED, harvesterv1.Outcome_OUTCOME_UNCHANGED:
		class = "ok"
	case harvesterv1.Outcome_OUTCOME_SKIPPED:
		class = "warn"
	default:
		class = "bad"
	}
	return outcomeKey(o), class
}

// previewSummary is a preview's counters in one line, carried on the activate form.
func (h *Handler) previewSummary(c *harvesterv1.RunCounters) string {
	return h.pages.msgs.T("profiles.preview.summary", c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
}
