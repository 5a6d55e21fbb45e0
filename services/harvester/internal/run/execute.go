package run

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/harvester/internal/connector"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// execution is the state of one run while it executes.
type execution struct {
	r       *Runner
	ctx     context.Context
	id      uint64
	name    string
	code    string // profile code
	profile *profilesv1.IntegrationProfile
	owner   string // local library code of the profile's own library
	conn    connector.Connector
	ingest  requestsv1.IngestService_IngestBorrowingRequestsClient
	seen    map[string]bool // external ids handled in this run
	batch   []*connector.Request
	batchNo int
	warned  bool
}

// execute runs the pre-checks, the window and the retry set, and records the final
// state. Every exit path ends the run: nothing stays RUNNING unless the process dies.
func (r *Runner) execute(id uint64, code string) {
	x := &execution{r: r, ctx: r.ctx, id: id, name: store.RunName(id), code: code, seen: map[string]bool{}}
	log := r.d.Log.With("run", x.name, "profile", code)
	now := r.d.Now()
	if _, err := r.d.Store.UpdateRun(id, func(run *harvesterv1.Run) error {
		run.State = harvesterv1.RunState_RUN_STATE_RUNNING
		run.StartTime = timestamppb.New(now)
		run.Progress = &harvesterv1.Progress{Phase: "pre-checks"}
		return nil
	}); err != nil {
		log.Error("run could not start", "error", err)
		return
	}
	log.Info("run started")

	window, err := x.run()
	final, ferr := r.d.Store.FinishRun(id, code, err == nil, window.To.Time(), func(run *harvesterv1.Run) {
		x.finish(run, err)
	})
	if ferr != nil {
		log.Error("run end not recorded", "error", ferr)
		return
	}
	c := final.GetCounters()
	log.Info("run ended", "state", final.GetState().String(), "fetched", c.GetFetched(), "created", c.GetCreated(),
		"updated", c.GetUpdated(), "unchanged", c.GetUnchanged(), "skipped", c.GetSkipped(), "failed", c.GetFailed())
}

// finish sets the final state from the counters and the error that ended the run. A run
// that imported nothing because of an error is FAILED, never a success.
func (x *execution) finish(run *harvesterv1.Run, err error) {
	now := x.r.d.Now()
	run.EndTime = timestamppb.New(now)
	run.Progress.Phase = "done"
	c := run.GetCounters()
	var f *failure
	switch {
	case err == nil:
	case errors.As(err, &f):
		run.State = harvesterv1.RunState_RUN_STATE_FAILED
		run.Alerts = append(run.Alerts, alert(now, f.code, "%s", f.msg))
		return
	case x.ctx.Err() != nil:
		run.State = harvesterv1.RunState_RUN_STATE_ABORTED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED,
			"the harvester stopped before this run ended; the next run imports the same window again"))
		return
	default:
		run.State = harvesterv1.RunState_RUN_STATE_FAILED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "%s", err.Error()))
		return
	}
	if n := c.GetSkipped() + c.GetFailed(); n > 0 {
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_REQUESTS_NOT_IMPORTED,
			"%d of %d fetched requests were not imported (%d skipped, %d failed); see the run's events, later runs retry them",
			n, c.GetFetched(), c.GetSkipped(), c.GetFailed()))
	}
	switch {
	case c.GetFetched() == 0:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS
	case c.GetFailed() > 0:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS
	case c.GetSkipped() > 0 || x.warned:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
	default:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS
	}
}

// run does the work; a nil error means the whole window was fetched and acknowledged.
func (x *execution) run() (connector.Window, error) {
	d := x.r.d
	if err := x.precheck(); err != nil {
		return connector.Window{}, err
	}
	w, err := x.window()
	if err != nil {
		return w, err
	}
	start, end := windowTimes(w, zoneOf(x.profile))
	if _, err := d.Store.UpdateRun(x.id, func(run *harvesterv1.Run) error {
		run.Window = &harvesterv1.Window{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
		run.Progress.Phase = "fetching " + w.String()
		return nil
	}); err != nil {
		return w, err
	}

	stream, err := d.Ingest.IngestBorrowingRequests(x.ctx)
	if err != nil {
		return w, fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger did not accept the ingest stream: %s", status.Convert(err).Message())
	}
	x.ingest = stream
	defer func() { _ = stream.CloseSend() }()

	if err := x.conn.Fetch(x.ctx, w, x.add); err != nil {
		return w, x.connectorFailure(err, "fetching "+w.String())
	}
	if err := x.flush(); err != nil {
		return w, err
	}
	if err := x.retry(); err != nil {
		return w, err
	}
	if err := stream.CloseSend(); err != nil {
		return w, fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "closing the ingest stream: %s", err)
	}
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return w, fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger ended the ingest stream with an error: %s", status.Convert(err).Message())
	}
	return w, nil
}

// precheck loads the profile and its credential, checks it is complete and that its own
// library code is mapped (DESIGN §4.2), and builds the connector.
func (x *execution) precheck() error {
	d := x.r.d
	p, err := d.Profiles.GetIntegrationProfile(x.ctx, &profilesv1.GetIntegrationProfileRequest{Name: profileName(x.code)})
	if err != nil {
		return x.serviceFailure("profiles", err)
	}
	x.profile = p
	if !p.GetReadiness().GetRunnable() {
		return fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "profile %s is incomplete: missing %s", p.GetName(), trimJoin(p.GetReadiness().GetMissingFields()))
	}
	creds, err := d.Credentials.GetProfileCredentials(x.ctx, &profilesv1.GetProfileCredentialsRequest{Name: p.GetName()})
	if status.Code(err) == codes.FailedPrecondition || (err == nil && creds.GetApiKey() == "") {
		return fail(harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, "profile %s has no API key; set api_key on the profile", p.GetName())
	}
	if err != nil {
		return x.serviceFailure("profiles", err)
	}
	code := libraryCode(p)
	res, err := d.Mapping.ResolveLibraryCodes(x.ctx, &mappingv1.ResolveLibraryCodesRequest{System: p.GetSystem(), ExternalCodes: []string{code}})
	if err != nil {
		return x.serviceFailure("mapping", err)
	}
	if rs := res.GetResolutions(); len(rs) != 1 || !rs[0].GetFound() {
		return fail(harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING,
			"the profile's library code %q has no %s library mapping; create one (libraryMappings) before importing — nothing was imported",
			code, systemName(p.GetSystem()))
	}
	x.owner = p.GetResourceSharingLibrary()
	conn, err := d.Connect(p, creds.GetApiKey())
	if err != nil {
		return fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "profile %s cannot be used: %s", p.GetName(), err)
	}
	x.conn = conn
	return nil
}

// window is [cursor − overlap, today] in the profile's zone; without a cursor it starts at
// the profile's harvest start, or yesterday (as existing Libris clients do). It never
// starts before the harvest start nor after today.
func (x *execution) window() (connector.Window, error) {
	today := connector.DayOf(x.r.d.Now().In(zoneOf(x.profile)))
	from := today.AddDays(-1)
	cur, ok, err := x.r.d.Store.Cursor(x.code)
	if err != nil {
		return connector.Window{}, err
	}
	start, hasStart := harvestStart(x.profile)
	switch {
	case ok:
		from = connector.DayOf(cur).AddDays(-x.r.d.OverlapDays)
	case hasStart:
		from = start
	}
	if hasStart && from.Before(start) {
		from = start
	}
	if today.Before(from) {
		from = today
	}
	return connector.Window{From: from, To: today}, nil
}

// add collects one fetched request into the current batch, flushing full batches.
func (x *execution) add(req *connector.Request) error {
	if req.ExternalID != "" {
		if x.seen[req.ExternalID] {
			return nil // the same request twice in one response: handled once
		}
		x.seen[req.ExternalID] = true
	}
	x.batch = append(x.batch, req)
	if len(x.batch) >= x.r.d.BatchSize {
		return x.flush()
	}
	return nil
}

// retry fetches, one by one, the requests of the retry set this run's window did not
// contain, so a request skipped once (unknown partner, …) is imported once it can be.
func (x *execution) retry() error {
	entries, err := x.r.d.Store.Retry(x.code)
	if err != nil {
		return err
	}
	fetched := 0
	var gone []string
	for _, e := range entries {
		if x.seen[e.ExternalID] {
			continue
		}
		if fetched == x.r.d.MaxRetryFetches {
			break // the rest waits for the next run
		}
		fetched++
		req, found, err := x.conn.Get(x.ctx, e.ExternalID)
		if err != nil {
			return x.connectorFailure(err, "fetching "+e.ExternalID)
		}
		if !found {
			gone = append(gone, e.ExternalID)
			continue
		}
		if err := x.add(req); err != nil {
			return err
		}
	}
	if err := x.flush(); err != nil {
		return err
	}
	if len(gone) == 0 {
		return nil
	}
	events := make([]*harvesterv1.RunEvent, len(gone))
	for i, id := range gone {
		events[i] = x.event(id, harvesterv1.Outcome_OUTCOME_SKIPPED, reasonExternalGone,
			"the external system no longer knows this request; it leaves the retry set", "")
	}
	_, err = x.r.d.Store.RecordBatch(store.Batch{RunID: x.id, Events: events, Profile: x.code, Done: gone,
		Update: func(run *harvesterv1.Run) {
			run.Counters.Fetched += int64(len(gone))
			run.Counters.Skipped += int64(len(gone))
		}})
	return err
}

func (x *execution) event(externalID string, o harvesterv1.Outcome, code, reason, br string) *harvesterv1.RunEvent {
	return &harvesterv1.RunEvent{ExternalId: externalID, Outcome: o, ReasonCode: code, Reason: reason, BorrowingRequest: br, Time: timestamppb.New(x.r.d.Now())}
}

// connectorFailure turns a connector error into the run's alert.
func (x *execution) connectorFailure(err error, what string) error {
	if x.ctx.Err() != nil {
		return x.ctx.Err()
	}
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var ce *connector.Error
	if !errors.As(err, &ce) {
		return err // our own failure (the ledger, the store), already classified
	}
	code := harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE
	switch ce.Kind {
	case connector.KindAuth:
		code = harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED
	case connector.KindUnreachable:
		code = harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE
	}
	return fail(code, "%s while %s", ce.Error(), what)
}

func (x *execution) serviceFailure(service string, err error) error {
	if x.ctx.Err() != nil {
		return x.ctx.Err()
	}
	return fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the %s service failed: %s", service, status.Convert(err).Message())
}

func profileName(code string) string { return profilesCollection + "/" + code }

func systemName(s interface{ String() string }) string {
	switch s.String() {
	case "EXTERNAL_SYSTEM_LIBRIS":
		return "Libris"
	case "EXTERNAL_SYSTEM_NETPUNKT":
		return "Netpunkt"
	}
	return s.String()
}

// zoneOf is the profile's schedule zone; dates of the external system are read in it.
func zoneOf(p *profilesv1.IntegrationProfile) *time.Location {
	if tz := p.GetSchedule().GetTimeZone(); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}

// harvestStart is the profile's harvest start day. Libris windows are whole days, so a
// SECOND-granular start counts from its day (re-reading a few hours is harmless: idempotent).
func harvestStart(p *profilesv1.IntegrationProfile) (connector.Day, bool) {
	d := p.GetHarvestStart().GetDate()
	if d == nil || d.GetYear() == 0 {
		return connector.Day{}, false
	}
	return connector.Day{Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay())}, true
}

// windowTimes is the first and last instant of w's days in loc.
func windowTimes(w connector.Window, loc *time.Location) (time.Time, time.Time) {
	start := time.Date(w.From.Year, w.From.Month, w.From.Day, 0, 0, 0, 0, loc)
	end := time.Date(w.To.Year, w.To.Month, w.To.Day, 0, 0, 0, 0, loc).AddDate(0, 0, 1).Add(-time.Second)
	return start, end
}
