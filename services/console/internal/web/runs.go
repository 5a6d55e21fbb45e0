package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

func (h *Handler) runRoutes() {
	h.mux.Handle("GET /runs", h.authed(h.listRuns))
	h.mux.Handle("GET /runs/{id}", h.authed(h.showRun))
	h.mux.Handle("GET /runs/{id}/progress", h.authed(h.runProgress))
	h.mux.Handle("POST /runs/{id}/cancel", h.authed(h.cancelRun))
	h.mux.Handle("GET /runs/{id}/events", h.authed(h.runEvents))
}

// runView is a run as the pages show it.
type runView struct {
	*harvesterv1.Run
	ID       string // the id in `runs/{id}`
	Code     string // the profile's code
	StateKey string
	Trigger  string
	Running  bool
	Tone     string // ok, warn or bad: the state's colour
	Duration string
	Alerts   []coded
}

func (h *Handler) runView(r *harvesterv1.Run) runView {
	v := runView{
		Run: r, ID: strings.TrimPrefix(r.GetName(), runsCollection), Code: profileCode(r.GetProfile()),
		StateKey: runStateKey(r.GetState()), Trigger: triggerKey(r.GetTrigger()), Running: running(r),
		Tone: stateTone(r.GetState()),
	}
	if start := r.GetStartTime(); start.IsValid() && start.GetSeconds() != 0 {
		end := time.Now()
		if e := r.GetEndTime(); e.IsValid() && e.GetSeconds() != 0 {
			end = e.AsTime()
		}
		v.Duration = duration(end.Sub(start.AsTime()))
	}
	for _, a := range r.GetAlerts() {
		v.Alerts = append(v.Alerts, alertText(a))
	}
	return v
}

// stateTone is the colour a run's state is shown in.
func stateTone(s harvesterv1.RunState) string {
	switch s {
	case harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS:
		return "ok"
	case harvesterv1.RunState_RUN_STATE_FAILED, harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS:
		return "bad"
	case harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS, harvesterv1.RunState_RUN_STATE_ABORTED:
		return "warn"
	}
	return ""
}

// duration is d rounded to what a person reads: 42s, 3m 05s, 2h 07m.
func duration(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
}

// runStates are the states the history can be filtered by, in the enum's order.
var runStates = enumValues[harvesterv1.RunState](harvesterv1.RunState_name)

type option struct {
	Value, Key, Text string // Key is a catalog key; Text is shown as it is when Key is empty
	Selected         bool
}

type runsData struct {
	Runs     []runView
	Profiles []option
	States   []option
	After    string // the submitted range as typed, YYYY-MM-DD
	Before   string
	Problem  *problem
	Next     string
}

// listRuns is the job history: newest first, filtered by profile, state and the day
// range (in UTC) the runs were submitted in.
func (h *Handler) listRuns(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	d := runsData{After: q.Get("after"), Before: q.Get("before"), Problem: &problem{Fields: map[string]string{}}}
	req := &harvesterv1.ListRunsRequest{PageSize: 50, PageToken: q.Get("page_token")}
	if code := q.Get("profile"); code != "" {
		req.Profile = profilesCollection + code
	}
	state := q.Get("state")
	if v, ok := harvesterv1.RunState_value["RUN_STATE_"+strings.ToUpper(state)]; ok && v != 0 {
		req.State = harvesterv1.RunState(v)
	}
	for _, s := range runStates {
		slug := strings.ToLower(strings.TrimPrefix(s.String(), "RUN_STATE_"))
		d.States = append(d.States, option{Value: slug, Key: runStateKey(s), Selected: s == req.GetState()})
	}
	var err error
	if req.SubmittedAfter, err = day(d.After, 0); err != nil {
		d.Problem.Fields["after"] = h.pages.msgs.T("runs.bad_date")
	}
	if req.SubmittedBefore, err = day(d.Before, 1); err != nil {
		d.Problem.Fields["before"] = h.pages.msgs.T("runs.bad_date")
	}
	profiles, err := h.profileList(ctx)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d.Profiles = profileOptions(profiles, q.Get("profile"))
	if len(d.Problem.Fields) > 0 {
		d.Problem.Key = "error.invalid"
		h.render(w, r, http.StatusBadRequest, "runs", d)
		return
	}
	resp, err := h.harvester.ListRuns(ctx, req)
	if err != nil {
		p := problemOf(err)
		if p.HTTP != http.StatusBadRequest {
			h.apiFail(w, r, err)
			return
		}
		d.Problem = p
		h.render(w, r, p.HTTP, "runs", d)
		return
	}
	for _, run := range resp.GetRuns() {
		d.Runs = append(d.Runs, h.runView(run))
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/runs", "page_token", t, "profile", q.Get("profile"), "state", state, "after", d.After, "before", d.Before))
	}
	d.Problem = nil
	h.render(w, r, http.StatusOK, "runs", d)
}

// day reads a YYYY-MM-DD day as the UTC instant of its start, plus addDays days (an
// inclusive end day is the start of the next); empty is no bound.
func day(s string, addDays int) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, err
	}
	return timestamppb.New(t.AddDate(0, 0, addDays)), nil
}

func profileOptions(profiles []*profilesv1.IntegrationProfile, selected string) []option {
	out := make([]option, 0, len(profiles))
	for _, p := range profiles {
		code := profileCode(p.GetName())
		out = append(out, option{Value: code, Text: p.GetDisplayName() + " (" + code + ")", Selected: code == selected})
	}
	return out
}

type runData struct {
	Run runView
}

// showRun is a run's report; while it runs, the page follows its progress.
func (h *Handler) showRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	run, err := h.harvester.GetRun(ctx, &harvesterv1.GetRunRequest{Name: runsCollection + r.PathValue("id")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "run", runData{Run: h.runView(run)})
}

func (h *Handler) cancelRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	run, err := h.harvester.CancelRun(ctx, &harvesterv1.CancelRunRequest{Name: runsCollection + r.PathValue("id")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/"+run.GetName(), "flash.run_cancelled")
}

// Bounds of a progress stream: a comment this often keeps proxies from closing a quiet
// one, and the browser reconnects by itself after the longest.
const (
	progressHeartbeat = 15 * time.Second
	progressMaxStream = 30 * time.Minute
)

// Bounds of the progress streams open at once. Each holds a call to the harvester open,
// and the console reaches the harvester over one connection whose concurrent calls the
// harvester bounds (100): unbounded, one person's script could take them all and leave
// every page's calls waiting. A person's pages need a few (one per running job shown).
const (
	maxProgressPerPerson = 16
	maxProgressStreams   = 64
)

// streamCount counts the progress streams open, in all and by person.
type streamCount struct {
	mu       sync.Mutex
	total    int
	byPerson map[string]int
}

// acquire counts a new stream of person; false when a bound is reached.
func (c *streamCount) acquire(person string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= maxProgressStreams || c.byPerson[person] >= maxProgressPerPerson {
		return false
	}
	if c.byPerson == nil {
		c.byPerson = map[string]int{}
	}
	c.total++
	c.byPerson[person]++
	return true
}

func (c *streamCount) release(person string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byPerson[person]--; c.byPerson[person] <= 0 {
		delete(c.byPerson, person)
	}
}

// progressOf is what the live progress of a run fills in: the keys are the data-field
// names of the run's progress elements.
func (h *Handler) progressOf(run *harvesterv1.Run) map[string]any {
	c, p := run.GetCounters(), run.GetProgress()
	return map[string]any{
		"state": h.pages.msgs.T(runStateKey(run.GetState())), "phase": p.GetPhase(), "percent": p.GetPercent(),
		"handled": p.GetHandled(), "fetched": c.GetFetched(), "created": c.GetCreated(), "updated": c.GetUpdated(),
		"unchanged": c.GetUnchanged(), "skipped": c.GetSkipped(), "failed": c.GetFailed(), "parked": c.GetParked(),
	}
}

// runProgress follows a run as server-sent events: `progress` with the run's state and
// counters (progressOf) on every change, then `done` when it has ended. It ends when the
// run does, when the browser goes away, or after progressMaxStream.
func (h *Handler) runProgress(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.streams.acquire(s.Identity.Principal) {
		// The page still works without live figures; EventSource gives up on a 429.
		http.Error(w, h.pages.msgs.T("error.busy"), http.StatusTooManyRequests)
		return
	}
	defer h.streams.release(s.Identity.Principal)
	ctx, cancel := context.WithTimeout(r.Context(), progressMaxStream)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Credential())
	stream, err := h.harvester.WatchRun(ctx, &harvesterv1.WatchRunRequest{Name: runsCollection + r.PathValue("id")})
	var first *harvesterv1.Run
	if err == nil {
		first, err = stream.Recv()
	}
	if err != nil {
		// Anything but 200 makes EventSource give up rather than retry.
		p := problemOf(err)
		http.Error(w, h.pages.msgs.T(p.Key), p.HTTP)
		return
	}
	runs := make(chan *harvesterv1.Run)
	ended := make(chan error, 1)
	go func() {
		for {
			run, err := stream.Recv()
			if err != nil {
				ended <- err
				return
			}
			select {
			case runs <- run:
			case <-ctx.Done():
				ended <- ctx.Err()
				return
			}
		}
	}()

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		data, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("progress", h.progressOf(first)) {
		return
	}
	heartbeat := time.NewTicker(progressHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case run := <-runs:
			if !send("progress", h.progressOf(run)) {
				return
			}
		case err := <-ended:
			if errors.Is(err, io.EOF) {
				// WatchRun ends only once the run has: the page reloads into the report.
				send("done", map[string]any{})
			}
			return
		case <-heartbeat.C:
			if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

type eventRow struct {
	*harvesterv1.RunEvent
	OutcomeKey string
	Reason     coded
	Request    string // the ledger request's id, when there is one
}

type eventsData struct {
	Run      runView
	Events   []eventRow
	Outcomes []option
	Reason   string
	Problem  *problem
	Next     string
}

// runEvents is a run's event report: what happened to each external request, filtered
// by outcome and reason code, each linked to its ledger request.
func (h *Handler) runEvents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	name := runsCollection + r.PathValue("id")
	run, err := h.harvester.GetRun(ctx, &harvesterv1.GetRunRequest{Name: name})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := eventsData{Run: h.runView(run), Reason: strings.ToUpper(strings.TrimSpace(q.Get("reason")))}
	req := &harvesterv1.ListRunEventsRequest{Parent: name, PageSize: 100, PageToken: q.Get("page_token"), ReasonCode: d.Reason}
	outcome := q.Get("outcome")
	if v, ok := harvesterv1.Outcome_value["OUTCOME_"+strings.ToUpper(outcome)]; ok && v != 0 {
		req.Outcome = harvesterv1.Outcome(v)
	}
	for _, o := range enumValues[harvesterv1.Outcome](harvesterv1.Outcome_name) {
		d.Outcomes = append(d.Outcomes, option{Value: strings.ToLower(strings.TrimPrefix(o.String(), "OUTCOME_")), Key: outcomeKey(o), Selected: o == req.GetOutcome()})
	}
	resp, err := h.harvester.ListRunEvents(ctx, req)
	if err != nil {
		p := problemOf(err)
		if p.HTTP != http.StatusBadRequest {
			h.apiFail(w, r, err)
			return
		}
		d.Problem = p
		h.render(w, r, p.HTTP, "events", d)
		return
	}
	for _, e := range resp.GetRunEvents() {
		d.Events = append(d.Events, eventRow{RunEvent: e, OutcomeKey: outcomeKey(e.GetOutcome()),
			Reason: reasonText(e.GetReasonCode(), e.GetReason()), Request: strings.TrimPrefix(e.GetBorrowingRequest(), requestsCollection)})
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/"+name+"/events", "page_token", t, "outcome", outcome, "reason", d.Reason))
	}
	h.render(w, r, http.StatusOK, "events", d)
}
