package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

func (h *Handler) requestRoutes() {
	h.mux.Handle("GET /requests", h.authed(h.listRequests))
	h.mux.Handle("POST /requests/batch", h.authed(h.batchRequests))
	h.mux.Handle("GET /requests/{id}", h.authed(h.showRequest))
	h.mux.Handle("POST /requests/{id}/actions/{action}", h.authed(h.actOnRequest))
}

// requestRow is a request in the queue.
type requestRow struct {
	*requestsv1.BorrowingRequest
	ID        string
	StatusKey string
	Partner   string // the partner's code
	Profile   string // the importing profile's code
}

func newRequestRow(b *requestsv1.BorrowingRequest) requestRow {
	return requestRow{BorrowingRequest: b, ID: strings.TrimPrefix(b.GetName(), requestsCollection), StatusKey: statusKey(b.GetStatus()),
		Partner: strings.TrimPrefix(b.GetPartner(), partnersCollection), Profile: profileCode(b.GetExternalReference().GetProfile())}
}

// queueFilter is the queue's filter as the URL carries it.
type queueFilter struct {
	Status, Partner, Profile, Q string
	Attention, Open             bool
}

func (f queueFilter) link(status string, open, attention bool) template.URL {
	return link("/requests", "status", status, "open", open, "attention", attention, "partner", f.Partner, "profile", f.Profile, "q", f.Q)
}

type tab struct {
	Key     string
	Status  string // a status tab's catalog key comes from its status
	Count   int64
	Href    template.URL
	Current bool
}

type requestsData struct {
	Rows     []requestRow
	Tabs     []tab
	Filter   queueFilter
	Statuses []option
	Partners []option
	Profiles []option
	Batch    []option // the actions a selection can take
	Back     string   // this page, to return to after a batch action
	Problem  *problem
	Next     string
}

// batchActions are the actions the queue offers on a selection: those that need no
// choice beyond an optional note.
var batchActions = []requestsv1.Action{
	requestsv1.Action_ACTION_MARK_READY_TO_SEND, requestsv1.Action_ACTION_SEND,
	requestsv1.Action_ACTION_RECEIVE_PHYSICALLY, requestsv1.Action_ACTION_RECEIVE_DIGITALLY,
	requestsv1.Action_ACTION_LOAN_TO_PATRON, requestsv1.Action_ACTION_RETURN_BY_PATRON,
	requestsv1.Action_ACTION_RETURN_TO_PARTNER, requestsv1.Action_ACTION_COMPLETE,
	requestsv1.Action_ACTION_CANCEL_BY_STAFF, requestsv1.Action_ACTION_REJECT, requestsv1.Action_ACTION_EXPIRE,
	requestsv1.Action_ACTION_ADD_NOTE, requestsv1.Action_ACTION_RESOLVE_ATTENTION,
}

// listRequests is the request queue, the console's start page: counts per status as
// tabs, the filters ListBorrowingRequests takes, and batch actions on a selection.
func (h *Handler) listRequests(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	f := queueFilter{Status: q.Get("status"), Partner: q.Get("partner"), Profile: q.Get("profile"),
		Q: strings.TrimSpace(q.Get("q")), Attention: q.Get("attention") != "", Open: q.Get("open") != ""}
	req := &requestsv1.ListBorrowingRequestsRequest{PageSize: 50, PageToken: q.Get("page_token"), Query: f.Q,
		NeedsAttention: f.Attention, OpenOnly: f.Open}
	if v, ok := requestsv1.Status_value["STATUS_"+strings.ToUpper(f.Status)]; ok && v != 0 {
		req.Status = requestsv1.Status(v)
	} else {
		f.Status = ""
	}
	if f.Partner != "" {
		req.Partner = partnersCollection + f.Partner
	}
	if f.Profile != "" {
		req.Profile = profilesCollection + f.Profile
	}
	d := requestsData{Filter: f, Back: string(f.link(f.Status, f.Open, f.Attention))}

	counts, err := h.requests.CountBorrowingRequests(ctx, &requestsv1.CountBorrowingRequestsRequest{})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	plain := f.Status == "" && !f.Open && !f.Attention
	d.Tabs = []tab{
		{Key: "requests.tab.all", Count: counts.GetTotal(), Href: f.link("", false, false), Current: plain},
		{Key: "requests.tab.open", Count: counts.GetOpen(), Href: f.link("", true, false), Current: f.Open && f.Status == "" && !f.Attention},
		{Key: "requests.tab.attention", Count: counts.GetNeedsAttention(), Href: f.link("", false, true), Current: f.Attention && f.Status == "" && !f.Open},
	}
	for _, c := range counts.GetStatusCounts() {
		slug := strings.ToLower(strings.TrimPrefix(c.GetStatus().String(), "STATUS_"))
		if c.GetCount() == 0 && slug != f.Status {
			continue
		}
		d.Tabs = append(d.Tabs, tab{Status: statusKey(c.GetStatus()), Count: c.GetCount(), Href: f.link(slug, false, false),
			Current: slug == f.Status && !f.Open && !f.Attention})
	}
	for _, s := range enumValues[requestsv1.Status](requestsv1.Status_name) {
		slug := strings.ToLower(strings.TrimPrefix(s.String(), "STATUS_"))
		d.Statuses = append(d.Statuses, option{Value: slug, Key: statusKey(s), Selected: slug == f.Status})
	}
	for _, a := range batchActions {
		d.Batch = append(d.Batch, option{Value: actionSlug(a), Key: actionKey(a)})
	}
	if d.Partners, err = h.partnerOptions(ctx, f.Partner); err != nil {
		h.apiFail(w, r, err)
		return
	}
	profiles, err := h.profileList(ctx)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d.Profiles = profileOptions(profiles, f.Profile)

	resp, err := h.requests.ListBorrowingRequests(ctx, req)
	if err != nil {
		p := problemOf(err)
		if p.HTTP != http.StatusBadRequest {
			h.apiFail(w, r, err)
			return
		}
		d.Problem = p
		h.render(w, r, p.HTTP, "requests", d)
		return
	}
	for _, b := range resp.GetBorrowingRequests() {
		d.Rows = append(d.Rows, newRequestRow(b))
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/requests", "page_token", t, "status", f.Status, "open", f.Open, "attention", f.Attention,
			"partner", f.Partner, "profile", f.Profile, "q", f.Q))
	}
	h.render(w, r, http.StatusOK, "requests", d)
}

// partnerOptions lists the partners for the queue's filter (the first 1000: the filter
// also takes a code typed into the URL).
func (h *Handler) partnerOptions(ctx context.Context, selected string) ([]option, error) {
	resp, err := h.mapping.ListPartners(ctx, &mappingv1.ListPartnersRequest{PageSize: 1000})
	if err != nil {
		return nil, err
	}
	var out []option
	for _, p := range resp.GetPartners() {
		code := strings.TrimPrefix(p.GetName(), partnersCollection)
		out = append(out, option{Value: code, Text: p.GetDisplayName() + " (" + code + ")", Selected: code == selected})
	}
	return out, nil
}

type batchRow struct {
	*requestsv1.BatchActResult
	ID        string
	StatusKey string
}

type batchData struct {
	ActionKey string
	Rows      []batchRow
	Succeeded int
	Failed    int
	Back      string
}

// maxBatch is the most requests one batch action may name (the service's bound).
const maxBatch = 1000

// batchRequests applies one action to the requests ticked in the queue and shows what
// became of each.
func (h *Handler) batchRequests(w http.ResponseWriter, r *http.Request) {
	back := localPath(r.PostFormValue("back"))
	if !strings.HasPrefix(back, "/requests") {
		back = "/requests"
	}
	ids := r.PostForm["target"]
	if len(ids) == 0 {
		redirect(w, r, back, "flash.batch_empty")
		return
	}
	action, ok := actionOfSlug(r.PostFormValue("action"))
	if !ok || len(ids) > maxBatch {
		h.fail(w, r, http.StatusBadRequest, "error.invalid")
		return
	}
	req := &requestsv1.BatchActBorrowingRequestsRequest{Action: action, Note: r.PostFormValue("note")}
	for _, id := range ids {
		req.Targets = append(req.Targets, &requestsv1.BatchActTarget{Name: requestsCollection + id, Etag: r.PostFormValue("etag_" + id)})
	}
	ctx, cancel := h.call(r)
	defer cancel()
	resp, err := h.requests.BatchActBorrowingRequests(ctx, req)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d := batchData{ActionKey: actionKey(action), Back: back}
	for _, res := range resp.GetResults() {
		if res.GetSucceeded() {
			d.Succeeded++
		} else {
			d.Failed++
		}
		d.Rows = append(d.Rows, batchRow{BatchActResult: res, ID: strings.TrimPrefix(res.GetName(), requestsCollection), StatusKey: statusKey(res.GetStatus())})
	}
	h.render(w, r, http.StatusOK, "batch", d)
}

// actionView is one allowed action as a button.
type actionView struct {
	Slug, Key, ToStatusKey string
	NoteRequired, Danger   bool
}

// dangerous actions end or strip a request: the page asks before sending them.
var dangerous = map[requestsv1.Action]bool{
	requestsv1.Action_ACTION_CANCEL_BY_STAFF: true, requestsv1.Action_ACTION_CANCEL_BY_PATRON: true,
	requestsv1.Action_ACTION_REJECT: true, requestsv1.Action_ACTION_EXPIRE: true,
	requestsv1.Action_ACTION_ANONYMIZE: true, requestsv1.Action_ACTION_DECLARE_LOST: true,
}

type requestEventView struct {
	*requestsv1.RequestEvent
	ActionKey string
	FromKey   string // empty when there was no status before (an import)
	ToKey     string
	RunID     string
}

type requestData struct {
	Req           requestRow
	FormatKey     string
	MediaKey      string
	SystemKey     string
	ClosedFromKey string
	Anonymized    bool
	Etag          string
	Actions       []actionView
	CanNote       bool // the status allows a note and resolving attention (every status does)
	CanResolve    bool
	Events        []requestEventView
	EventsNext    string
	Problem       *problem // a refused action, shown by its form (Failed: its slug)
	Failed        string
	Note          string // the note typed with the refused action
}

func (h *Handler) showRequest(w http.ResponseWriter, r *http.Request) {
	h.requestPage(w, r, http.StatusOK, nil, "", "")
}

// requestPage renders a request's page; after a refused action, with the refusal beside
// the action's form and the note typed into it.
func (h *Handler) requestPage(w http.ResponseWriter, r *http.Request, code int, p *problem, failed, note string) {
	ctx, cancel := h.call(r)
	defer cancel()
	name := requestsCollection + r.PathValue("id")
	b, err := h.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	allowed, err := h.requests.ListAllowedActions(ctx, &requestsv1.ListAllowedActionsRequest{Name: name})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	events, err := h.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: name, PageSize: 200, PageToken: r.URL.Query().Get("events_page")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d := requestData{
		Req: newRequestRow(b), FormatKey: formatKey(b.GetFormat()), MediaKey: mediaKey(b.GetMedia()),
		SystemKey: systemKey(b.GetExternalReference().GetSystem()), Anonymized: b.GetAnonymizeTime() != nil,
		Etag: allowed.GetEtag(), Problem: p, Failed: failed, Note: note,
	}
	if s := b.GetClosedFromStatus(); s != requestsv1.Status_STATUS_UNSPECIFIED {
		d.ClosedFromKey = statusKey(s)
	}
	for _, a := range allowed.GetAllowedActions() {
		switch a.GetAction() {
		case requestsv1.Action_ACTION_ADD_NOTE:
			d.CanNote = true
		case requestsv1.Action_ACTION_RESOLVE_ATTENTION:
			d.CanResolve = b.GetNeedsAttention()
		default:
			d.Actions = append(d.Actions, actionView{Slug: actionSlug(a.GetAction()), Key: actionKey(a.GetAction()),
				ToStatusKey: statusKey(a.GetToStatus()), NoteRequired: a.GetNoteRequired(), Danger: dangerous[a.GetAction()]})
		}
	}
	for _, e := range events.GetRequestEvents() {
		v := requestEventView{RequestEvent: e, ActionKey: eventActionKey(e.GetAction()), ToKey: statusKey(e.GetToStatus()),
			RunID: strings.TrimPrefix(e.GetRun(), runsCollection)}
		if e.GetFromStatus() != requestsv1.Status_STATUS_UNSPECIFIED {
			v.FromKey = statusKey(e.GetFromStatus())
		}
		d.Events = append(d.Events, v)
	}
	if t := events.GetNextPageToken(); t != "" {
		d.EventsNext = string(link("/"+name, "events_page", t)) + "#trail"
	}
	h.render(w, r, code, "request", d)
}

// actionCall performs one action on request name.
type actionCall func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error

// actionCalls is each action's RPC, the one table the request page's forms go through.
var actionCalls = map[requestsv1.Action]actionCall{
	requestsv1.Action_ACTION_MARK_READY_TO_SEND: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.MarkReadyToSend(ctx, &requestsv1.MarkReadyToSendRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_SEND: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.SendBorrowingRequest(ctx, &requestsv1.SendBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_RECEIVE_PHYSICALLY: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: name, Etag: etag, Note: note, Format: requestsv1.Format_FORMAT_PHYSICAL})
		return err
	},
	requestsv1.Action_ACTION_RECEIVE_DIGITALLY: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: name, Etag: etag, Note: note, Format: requestsv1.Format_FORMAT_DIGITAL})
		return err
	},
	requestsv1.Action_ACTION_LOAN_TO_PATRON: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.LoanToPatron(ctx, &requestsv1.LoanToPatronRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_RETURN_BY_PATRON: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ReturnByPatron(ctx, &requestsv1.ReturnByPatronRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_RETURN_TO_PARTNER: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ReturnToPartner(ctx, &requestsv1.ReturnToPartnerRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_COMPLETE: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_CANCEL_BY_STAFF: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: name, Etag: etag, Note: note, CancelledBy: requestsv1.CancelledBy_CANCELLED_BY_STAFF})
		return err
	},
	requestsv1.Action_ACTION_CANCEL_BY_PATRON: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: name, Etag: etag, Note: note, CancelledBy: requestsv1.CancelledBy_CANCELLED_BY_PATRON})
		return err
	},
	requestsv1.Action_ACTION_REJECT: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.RejectBorrowingRequest(ctx, &requestsv1.RejectBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_EXPIRE: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ExpireBorrowingRequest(ctx, &requestsv1.ExpireBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_REACTIVATE: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ReactivateBorrowingRequest(ctx, &requestsv1.ReactivateBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_ADD_NOTE: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_RESOLVE_ATTENTION: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.ResolveBorrowingRequestAttention(ctx, &requestsv1.ResolveBorrowingRequestAttentionRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_ANONYMIZE: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.AnonymizeBorrowingRequest(ctx, &requestsv1.AnonymizeBorrowingRequestRequest{Name: name, Etag: etag, Note: note})
		return err
	},
	requestsv1.Action_ACTION_DECLARE_LOST: func(ctx context.Context, c requestsv1.RequestServiceClient, name, etag, note string) error {
		_, err := c.DeclareItemLost(ctx, &requestsv1.DeclareItemLostRequest{Name: name, Etag: etag, Note: note})
		return err
	},
}

// actionFlash is the notice after an action worked.
func actionFlash(a requestsv1.Action) string {
	switch a {
	case requestsv1.Action_ACTION_ADD_NOTE:
		return "flash.request_note_added"
	case requestsv1.Action_ACTION_RESOLVE_ATTENTION:
		return "flash.request_attention_resolved"
	}
	return "flash.request_updated"
}

// actOnRequest performs one action from a request's page. A refusal of the request's
// state or input is shown on the page beside the action; one of the person's role, or
// of a request that does not exist, is an error page.
func (h *Handler) actOnRequest(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("action")
	action, ok := actionOfSlug(slug)
	perform := actionCalls[action]
	if !ok || perform == nil {
		h.fail(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	id, note := r.PathValue("id"), r.PostFormValue("note")
	ctx, cancel := h.call(r)
	err := perform(ctx, h.requests, requestsCollection+id, r.PostFormValue("etag"), note)
	cancel()
	if err != nil {
		p := problemOf(err)
		switch p.HTTP {
		case http.StatusBadRequest, http.StatusConflict:
			h.requestPage(w, r, p.HTTP, p, slug, note)
		default:
			h.apiFail(w, r, err)
		}
		return
	}
	redirect(w, r, "/requests/"+url.PathEscape(id), actionFlash(action))
}
