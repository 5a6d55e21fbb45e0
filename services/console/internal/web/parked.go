package web

import (
	"net/http"
	"strings"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

type parkedRow struct {
	*harvesterv1.ParkedItem
	Code   string // the profile's code
	Reason coded
	RunID  string
}

type parkedData struct {
	Items    []parkedRow
	Profiles []option
	Profile  string
	Next     string
}

// listParked lists the requests runs no longer retry: one profile's, paged, or the
// first page of every profile's.
func (h *Handler) listParked(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	profiles, err := h.profileList(ctx)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d := parkedData{Profile: q.Get("profile"), Profiles: profileOptions(profiles, q.Get("profile"))}
	show := profiles
	if d.Profile != "" {
		show = []*profilesv1.IntegrationProfile{{Name: profilesCollection + d.Profile}}
	}
	for _, p := range show {
		resp, err := h.harvester.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: p.GetName(), PageSize: 100, PageToken: q.Get("page_token")})
		if err != nil {
			h.apiFail(w, r, err)
			return
		}
		for _, it := range resp.GetParkedItems() {
			d.Items = append(d.Items, parkedRow{ParkedItem: it, Code: profileCode(p.GetName()),
				Reason: reasonText(it.GetReasonCode(), it.GetReason()), RunID: strings.TrimPrefix(it.GetRun(), runsCollection)})
		}
		if t := resp.GetNextPageToken(); t != "" && d.Profile != "" {
			d.Next = string(link("/parked", "profile", d.Profile, "page_token", t))
		}
	}
	h.render(w, r, http.StatusOK, "parked", d)
}

// retryParked puts a parked request back in its profile's retry set; the next run
// imports it again.
func (h *Handler) retryParked(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	name := r.PostFormValue("name")
	_, err := h.harvester.RetryParkedItem(ctx, &harvesterv1.RetryParkedItemRequest{Name: name})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	code, _, _ := strings.Cut(strings.TrimPrefix(name, profilesCollection), "/")
	redirect(w, r, string(link("/parked", "profile", code)), "flash.parked_retried")
}
