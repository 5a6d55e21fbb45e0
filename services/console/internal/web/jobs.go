package web

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

// operationsRoutes registers the pages staff watch imports and work requests on: import
// jobs, job history and reports, parked items, the request queue and a request's page.
func (h *Handler) operationsRoutes() {
	h.mux.Handle("GET /jobs", h.authed(h.listJobs))
	h.mux.Handle("POST /jobs/{code}/run", h.authed(h.runNow))
	h.runRoutes()
	h.mux.Handle("GET /parked", h.authed(h.listParked))
	h.mux.Handle("POST /parked/retry", h.authed(h.retryParked))
	h.requestRoutes()
}

// profileCode is the code of `integrationProfiles/{code}`.
func profileCode(name string) string { return strings.TrimPrefix(name, profilesCollection) }

// profileList is every profile, for filters and for naming profiles in lists. It reads
// at most a few pages: an installation has a handful of profiles.
func (h *Handler) profileList(ctx context.Context) ([]*profilesv1.IntegrationProfile, error) {
	var out []*profilesv1.IntegrationProfile
	tok := ""
	for range 5 {
		resp, err := h.profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageSize: 200, PageToken: tok})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetIntegrationProfiles()...)
		if tok = resp.GetNextPageToken(); tok == "" {
			break
		}
	}
	return out, nil
}

type jobRow struct {
	Job       *harvesterv1.ScheduledJob
	Code      string
	Name      string // the profile's display name, else its code
	SystemKey string
	Schedule  string
	NextUTC   string // the next due time in UTC, and in the profile's zone
	NextLocal string
	Last      *runView // the latest run, if any
}

type jobsData struct {
	Jobs []jobRow
	Next string
}

func (h *Handler) listJobs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	resp, err := h.harvester.ListScheduledJobs(ctx, &harvesterv1.ListScheduledJobsRequest{PageSize: 50, PageToken: r.URL.Query().Get("page_token")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	profiles, err := h.profileList(ctx)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	byName := map[string]*profilesv1.IntegrationProfile{}
	for _, p := range profiles {
		byName[p.GetName()] = p
	}
	d := jobsData{}
	for _, j := range resp.GetScheduledJobs() {
		row := jobRow{Job: j, Code: profileCode(j.GetProfile()), Name: profileCode(j.GetProfile()), SystemKey: systemKey(j.GetSystem())}
		if p := byName[j.GetProfile()]; p != nil {
			row.Name = cmp.Or(p.GetDisplayName(), row.Name)
			row.Schedule = scheduleWords(h.pages.msgs, p.GetSchedule())
		}
		if t := j.GetNextRunTime(); t.IsValid() && t.GetSeconds() != 0 {
			row.NextUTC = t.AsTime().UTC().Format("2006-01-02 15:04 MST")
			row.NextLocal = localTime(j.GetNextRunLocalTime(), j.GetTimeZone())
		}
		if j.GetLastRun() != "" {
			// A vanished run (pruned, or a restored store) leaves the column empty.
			if run, err := h.harvester.GetRun(ctx, &harvesterv1.GetRunRequest{Name: j.GetLastRun()}); err == nil {
				v := h.runView(run)
				row.Last = &v
			}
		}
		d.Jobs = append(d.Jobs, row)
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/jobs", "page_token", t))
	}
	h.render(w, r, http.StatusOK, "jobs", d)
}

// localTime formats the harvester's RFC 3339 wall-clock time in the profile's zone as
// "2006-01-02 15:04 Europe/Stockholm"; what does not parse is shown as it came.
func localTime(rfc3339, zone string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.Format("2006-01-02 15:04") + " " + cmp.Or(zone, "UTC")
}

// runNow starts a profile's import job now and shows the run. A run already active is
// no error to the person who asked: they are taken to it.
func (h *Handler) runNow(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	profile := profilesCollection + r.PathValue("code")
	run, err := h.harvester.StartRun(ctx, &harvesterv1.StartRunRequest{Profile: profile})
	if err != nil {
		if problemOf(err).Reason == "RUN_IN_PROGRESS" {
			if runs, lerr := h.harvester.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: profile, PageSize: 1}); lerr == nil && len(runs.GetRuns()) == 1 {
				redirect(w, r, "/"+runs.GetRuns()[0].GetName(), "flash.run_already_active")
				return
			}
		}
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/"+run.GetName(), "flash.run_started")
}
