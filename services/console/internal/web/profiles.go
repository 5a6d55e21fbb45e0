package web

import (
	"net/http"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

func (h *Handler) profileRoutes() {
	h.mux.Handle("GET /profiles", h.authed(h.listProfiles))
}

type profilesData struct {
	Profiles []*profilesv1.IntegrationProfile
	Next     string
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
	d := profilesData{Profiles: resp.GetIntegrationProfiles()}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/profiles", "page_token", t))
	}
	h.render(w, r, http.StatusOK, "profiles", d)
}
