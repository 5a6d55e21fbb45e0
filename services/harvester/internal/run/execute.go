package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// execution is the state of one run while it executes.
type execution struct {
	r       *Runner
	ctx     context.Context // the run's: ends on CancelRun or shutdown
	id      uint64
	name    string
	code    string // profile code
	profile *profilesv1.IntegrationProfile
	owner   string // the profile's resource-sharing library: owner of what it imports
	conn    connector.Connector

	ingest       requestsv1.IngestService_IngestBorrowingRequestsClient
	ingestCtx    context.Context
	ingestCancel context.CancelCauseFunc

	seen      map[string]bool   // external ids handled in this run
	refreshes map[string]bool   // external ids fetched by the open-request refresh
	parked    map[string]bool   // the profile's parked external ids when the window fetch began
	parkedEnd int               // how many the profile has when the run ends: its standing warning
	ledger    map[string]string // external id → ledger request, of the requests the refresh reads
	openList  *openList         // the open ledger requests for the refresh, listed in the background
	batch     []*connector.Request
	batchNo   int
	// pipe ingests and records the dispatched batches in the background (batch.go). Its
	// sender alone touches batchNo and sends on the ingest stream, its recorder alone
	// receives from it and sets warned, until the pipeline stops.
	pipe    *pipeline
	warned  bool
	acked   bool                 // the whole window was fetched and acknowledged
	alerts  []*harvesterv1.Alert // non-fatal alerts (a phase after the window failed)
	handled int                  // distinct requests added in this run (Deps.MaxRunItems)
	preview *preview             // set when previewing: decide everything, write nothing
}

var errBatchTimeout = errors.New("ledger batch timeout")

// errRunTimeout is the cause of a run's context ending at Deps.RunTimeout.
var errRunTimeout = errors.New("run timeout")

// execute runs the pre-checks, the window, the retry set and the refresh, and records
// the final state. Every exit path ends the run; a hung upstream is cut off by the call
// and batch timeouts, so nothing stays RUNNING while the process lives.
func (r *Runner) execute(ctx context.Context, id uint64, code string) {
	ctx, stop := context.WithTimeoutCause(ctx, r.d.RunTimeout, errRunTimeout)
	defer stop()
	x := &execution{r: r, ctx: ctx, id: id, name: store.RunName(id), code: code, seen: map[string]bool{}, refreshes: map[string]bool{},
		ledger: map[string]string{}}
	log := r.d.Log.With("run", x.name, "profile", code)
	now := r.d.Now()
	if _, err := x.update(func(run *harvesterv1.Run) {
		run.State = harvesterv1.RunState_RUN_STATE_RUNNING
		run.StartTime = timestamppb.New(now)
		run.Progress = &harvesterv1.Progress{Phase: "pre-checks"}
	}); err != nil {
		log.Error("run could not start", "error", err)
		return
	}
	log.Info("run started")

	window, err := x.run()
	// A run cut short (a fetch failure, a cancel) may leave batches in flight: they end
	// before the run does, so their events are recorded and the stream is no longer used.
	if berr := x.stopPipeline(); err == nil {
		err = berr
	}
	if x.ingestCancel != nil {
		x.ingestCancel(nil)
	}
	if x.overBound(err) {
		x.acked = false // a run stopped at a bound leaves the cursor: the next run tries it all again
	}
	fp := ""
	if x.profile != nil {
		fp = fingerprint(x.profile)
	}
	// finish runs inside the store's write transaction, so the parked list is counted
	// before it.
	if n, perr := r.d.Store.ParkedCount(code); perr == nil {
		x.parkedEnd = n
	} else {
		log.Error("parked requests not counted", "error", perr)
	}
	final, ferr := r.d.Store.FinishRun(id, code, x.acked, window.To.Time(), fp, func(run *harvesterv1.Run) {
		x.finish(run, err)
	})
	r.notify(id)
	if ferr != nil {
		log.Error("run end not recorded", "error", ferr)
		return
	}
	runMetrics.record(ctx, code, final)
	if r.d.Ended != nil {
		r.d.Ended(code, final)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("interloan.run.state", final.GetState().String()))
	c := final.GetCounters()
	log.Info("run ended", "state", final.GetState().String(), "fetched", c.GetFetched(), "created", c.GetCreated(),
		"updated", c.GetUpdated(), "unchanged", c.GetUnchanged(), "skipped", c.GetSkipped(), "failed", c.GetFailed())
}

// update changes the stored run and wakes its watchers.
func (x *execution) update(change func(*harvesterv1.Run)) (*harvesterv1.Run, error) {
	run, err := x.r.d.Store.UpdateRun(x.id, func(run *harvesterv1.Run) error { change(run); return nil })
	x.r.notify(x.id)
	return run, err
}

// finish sets the final state from the counters and the error that ended the run. A run
// that imported nothing because of an error is FAILED, never a success.
func (x *execution) finish(run *harvesterv1.Run, err error) {
	now := x.r.d.Now()
	run.EndTime = timestamppb.New(now)
	phase := run.GetProgress().GetPhase()
	run.Progress.Phase = "done"
	if x.acked {
		run.Progress.Percent = 100
	}
	run.Alerts = append(run.Alerts, x.alerts...)
	c := run.GetCounters()
	var f *failure
	var by *cancelledBy
	switch {
	case err == nil:
	case errors.As(context.Cause(x.ctx), &by):
		run.State = harvesterv1.RunState_RUN_STATE_ABORTED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_CANCELLED,
			"%s; the %d requests acknowledged before stay imported, the cursor is unchanged", by.Error(), c.GetCreated()+c.GetUpdated()+c.GetUnchanged()))
		return
	case errors.Is(context.Cause(x.ctx), errRunTimeout):
		run.State = harvesterv1.RunState_RUN_STATE_FAILED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED,
			"the run took longer than %s, the bound on one run (--run-timeout), and was stopped while %s%s", x.r.d.RunTimeout, phase, boundKept))
		return
	case x.ctx.Err() != nil:
		run.State = harvesterv1.RunState_RUN_STATE_ABORTED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED, interruptedText))
		return
	case errors.As(err, &f):
		run.State = harvesterv1.RunState_RUN_STATE_FAILED
		run.Alerts = append(run.Alerts, alert(now, f.code, "%s", f.msg))
		return
	default:
		x.r.d.Log.Error("run failed on the harvester's own storage", "run", x.name, "error", err)
		run.State = harvesterv1.RunState_RUN_STATE_FAILED
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_INTERNAL, "the harvester's storage failed; see its logs"))
		return
	}
	if n := c.GetSkipped() + c.GetFailed(); n > 0 {
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_REQUESTS_NOT_IMPORTED,
			"%d of %d requests handled were not imported (%d skipped, %d failed); the run's events give each reason, and later runs retry those whose reason can change",
			n, c.GetFetched(), c.GetSkipped(), c.GetFailed()))
	}
	// Parked requests are a standing warning on every run of the profile, not an error
	// of each: the run that parked them reported their failures.
	if x.parkedEnd > 0 {
		run.Alerts = append(run.Alerts, alert(now, harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED,
			"%d requests of this profile are parked after failing to import run after run; runs no longer retry them until staff retry them (ListParkedItems, RetryParkedItem)",
			x.parkedEnd))
	}
	switch {
	case len(x.alerts) > 0 || c.GetFailed() > 0:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS
	case c.GetFetched() == 0 && x.parkedEnd == 0:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS
	case c.GetSkipped() > 0 || x.warned || x.parkedEnd > 0:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
	default:
		run.State = harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS
	}
}

// run does the work. The window counts as acknowledged (x.acked) once every chunk was
// fetched and ingested; the retry and refresh phases after it may still fail.
func (x *execution) run() (connector.Window, error) {
	d := x.r.d
	if err := x.precheck(); err != nil {
		return connector.Window{}, err
	}
	parked, err := d.Store.ParkedIDs(x.code)
	if err != nil {
		return connector.Window{}, err
	}
	x.parked = parked
	w, err := x.window()
	if err != nil {
		return w, err
	}
	start, end := windowTimes(w, zoneOf(x.profile))
	if _, err := x.update(func(run *harvesterv1.Run) {
		run.Window = &harvesterv1.Window{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
	}); err != nil {
		return w, err
	}

	sctx, cancel := context.WithCancelCause(x.ctx)
	x.ingestCtx, x.ingestCancel = sctx, cancel
	stream, err := d.Ingest.IngestBorrowingRequests(sctx)
	if err != nil {
		return w, x.ledgerFailure(err)
	}
	x.ingest = stream
	x.startPipeline()
	x.listOpen()

	chunks := w.Chunks(d.ChunkDays)
	for i, c := range chunks {
		if _, err := x.update(func(run *harvesterv1.Run) { run.Progress.Phase = "fetching " + c.String() }); err != nil {
			return w, err
		}
		if err := x.conn.Fetch(x.ctx, c, x.chunkVisit(c)); err != nil {
			return w, x.connectorFailure(err, "fetching "+c.String())
		}
		if err := x.flush(); err != nil {
			return w, err
		}
		done := int32((i + 1) * 100 / len(chunks))
		if _, err := x.update(func(run *harvesterv1.Run) { run.Progress.Percent = min(done, 99) }); err != nil {
			return w, err
		}
	}
	// Pushed messages (Netpunkt receipts) go through the same path as fetched requests.
	if err := x.drainInbox(); err != nil {
		return w, err
	}
	x.acked = true
	if err := x.retry(); err != nil {
		return w, err
	}
	if err := x.refresh(); err != nil {
		return w, err
	}
	if err := stream.CloseSend(); err != nil {
		return w, x.ledgerFailure(err)
	}
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return w, x.ledgerFailure(err)
	}
	return w, nil
}

// call runs one unary call to another service under the call timeout.
func (x *execution) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(x.ctx, x.r.d.CallTimeout)
	defer cancel()
	return f(ctx)
}

// precheck loads the profile and its credential, checks it is complete, that its
// resource-sharing library exists and that its own library code is mapped, and builds
// the connector. A run that fails any of these checks ends FAILED having fetched nothing.
// sealedKey returns the API key creds carry for p, or why it may not be sent: it was
// entered for another origin than p's base URL's. Profiles hands out a key only for the
// origin it was entered for; checking again here also covers the profile changing
// between reading it and its credential. Without a key, a credential origin other than
// p's says the key was entered for another address.
func sealedKey(p *profilesv1.IntegrationProfile, creds *profilesv1.ProfileCredentials) (key, why string) {
	origin, oerr := external.Origin(external.Settings(p).BaseURL)
	switch {
	case creds.GetApiKey() == "" && (creds.GetOrigin() == "" || creds.GetOrigin() == origin):
		return "", ""
	case oerr != nil || creds.GetOrigin() != origin:
		return "", fmt.Sprintf("its API key was entered for %q, not for the origin of its base URL %q; enter the key again for the new address — nothing was sent", creds.GetOrigin(), origin)
	}
	return creds.GetApiKey(), ""
}

func (x *execution) precheck() error {
	d := x.r.d
	name := ProfilesCollection + "/" + x.code
	var p *profilesv1.IntegrationProfile
	err := x.call(func(ctx context.Context) (err error) {
		p, err = d.Profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: name})
		return err
	})
	if status.Code(err) == codes.NotFound {
		return fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_NOT_FOUND, "profile %s was deleted before the run started", name)
	}
	if err != nil {
		return x.serviceFailure("profiles", err)
	}
	x.profile = p
	// A profile whose one gap is its credential (none stored, or one entered for another
	// origin) goes on to ask for it: the refusal says which it is.
	if missing := p.GetReadiness().GetMissingFields(); !p.GetReadiness().GetRunnable() && !slices.Equal(missing, []string{"api_key"}) {
		return fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "profile %s is incomplete: missing %s", name, strings.Join(missing, ", "))
	}
	var creds *profilesv1.ProfileCredentials
	err = x.call(func(ctx context.Context) (err error) {
		creds, err = d.Credentials.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: name})
		return err
	})
	if status.Code(err) == codes.FailedPrecondition {
		return fail(harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, "profile %s has no usable API key: %s", name, status.Convert(err).Message())
	}
	if err != nil {
		return x.serviceFailure("profiles", err)
	}
	key, why := sealedKey(p, creds)
	switch {
	case why != "":
		return fail(harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, "profile %s: %s", name, why)
	case key == "":
		return fail(harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, "profile %s has no API key; set api_key on the profile", name)
	}
	set := external.Settings(p)
	x.owner = p.GetResourceSharingLibrary()
	err = x.call(func(ctx context.Context) error {
		_, err := d.Mapping.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: "libraries/" + x.owner})
		return err
	})
	if status.Code(err) == codes.NotFound {
		return fail(harvesterv1.AlertCode_ALERT_CODE_LIBRARY_MISSING,
			"the profile's resource-sharing library %q does not exist; create libraries/%s or change the profile — nothing was imported", x.owner, x.owner)
	}
	if err != nil {
		return x.serviceFailure("mapping", err)
	}
	code := set.LibraryCode
	var res *mappingv1.ResolveLibraryCodesResponse
	err = x.call(func(ctx context.Context) (err error) {
		res, err = d.Mapping.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: p.GetSystem(), ExternalCodes: []string{code}})
		return err
	})
	if err != nil {
		return x.serviceFailure("mapping", err)
	}
	if rs := res.GetResolutions(); len(rs) != 1 || !rs[0].GetFound() {
		return fail(harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING,
			"the profile's library code %q has no %s library mapping; create one (libraryMappings) before importing — nothing was imported",
			code, external.Name(p.GetSystem()))
	}
	if u, err := url.Parse(set.BaseURL); err == nil && u.Scheme == "http" && !loopback(u.Hostname()) {
		x.r.d.Log.Warn("the profile's base URL is plain http: its API key crosses the network unencrypted", "profile", name)
	}
	conn, err := d.Connect(p, creds.GetApiKey())
	if err != nil {
		return fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "profile %s cannot be used: %s", name, err)
	}
	x.conn = conn
	return nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// window is [cursor − overlap, today] in the profile's zone; without a cursor for the
// profile's current source it starts at the harvest start. It never starts before the
// harvest start nor after today. The harvest start is where staff chose to begin, so a
// profile without one is incomplete (its readiness says so) rather than given a default.
func (x *execution) window() (connector.Window, error) {
	today := connector.DayOf(x.r.d.Now().In(zoneOf(x.profile)))
	start, hasStart := harvestStart(x.profile)
	if !hasStart {
		return connector.Window{}, fail(harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "the profile has no harvest start date; set one — nothing was imported")
	}
	cur, ok, err := x.r.d.Store.Cursor(x.code, fingerprint(x.profile))
	if err != nil {
		return connector.Window{}, err
	}
	from := start
	if ok {
		from = connector.DayOf(cur).AddDays(-x.r.d.OverlapDays)
	}
	if from.Before(start) {
		from = start
	}
	if today.Before(from) {
		from = today
	}
	return connector.Window{From: from, To: today}, nil
}

// chunkVisit is the visit of chunk c's fetch: add, after at most MaxChunkItems requests
// (repeats included), so an answer that never ends ends the run.
func (x *execution) chunkVisit(c connector.Window) func(*connector.Request) error {
	visits := 0
	return func(req *connector.Request) error {
		if visits++; visits > x.r.d.MaxChunkItems {
			return fail(harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED,
				"%s sent more than %d requests for %s, the bound on one window chunk (--run-max-chunk-items)%s",
				external.Name(x.profile.GetSystem()), x.r.d.MaxChunkItems, c, boundKept)
		}
		return x.add(req)
	}
}

// add collects one fetched request into the current batch, flushing full batches. A
// request past MaxRunItems ends the run instead: it is neither ingested nor recorded, so
// no run writes more events than the bound.
func (x *execution) add(req *connector.Request) error {
	if req.ExternalID != "" && x.seen[req.ExternalID] {
		return nil // the same request twice in one run: handled once
	}
	if x.handled >= x.r.d.MaxRunItems {
		return fail(harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED,
			"%s sent more than %d requests in this run, the bound on one run (--run-max-items)%s",
			external.Name(x.profile.GetSystem()), x.r.d.MaxRunItems, boundKept)
	}
	x.handled++
	if req.ExternalID != "" {
		x.seen[req.ExternalID] = true
	}
	x.batch = append(x.batch, req)
	if len(x.batch) >= x.r.d.BatchSize {
		return x.dispatch()
	}
	return nil
}

// fetchOne fetches one request by id for the retry and refresh phases. A failure of
// that one request becomes its FAILED event (it stays in the retry set); an auth
// failure or an unreachable system ends the phase, since every further fetch would fail
// the same way.
func (x *execution) fetchOne(id, phase string) (stop bool, err error) {
	if err := x.r.d.Sleep(x.ctx, x.r.d.RefreshDelay); err != nil {
		return true, err
	}
	req, found, err := x.conn.Get(x.ctx, id)
	switch kind := connector.KindOf(err); {
	case err == nil && found:
		return false, x.add(req)
	case err == nil:
		x.seen[id] = true
		return x.gone(id, phase)
	case x.ctx.Err() != nil:
		return true, x.ctx.Err()
	case kind == connector.KindAuth, isLimit(err):
		return true, x.connectorFailure(err, phase)
	case kind == connector.KindUnreachable:
		x.alerts = append(x.alerts, alert(x.r.d.Now(), harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE,
			"%s stopped: %s; the rest waits for the next run", phase, err))
		return true, nil
	default:
		x.seen[id] = true
		e := x.event(id, harvesterv1.Outcome_OUTCOME_FAILED, reasonFetchFailed, err.Error(), "")
		b := x.batchOf([]*harvesterv1.RunEvent{e})
		b.Retry = []store.RetryEntry{x.retryEntry(e)}
		return false, x.record(b, id)
	}
}

// gone handles a request the external system answers not-found for. Its ledger request,
// if the ledger holds one, is flagged for attention with the reason and linked from the
// event; the request leaves the retry set and joins the profile's gone set, which the
// refresh skips: it is read once, not on every run (importing it again, should it come
// back, takes it out). When the ledger cannot flag it, the phase stops with an alert
// and the request stays as it was, so the next run tries again.
func (x *execution) gone(id, phase string) (stop bool, err error) {
	br, err := x.ledgerRequest(id)
	if err == nil && br != "" {
		err = x.call(func(ctx context.Context) error {
			_, err := x.r.d.Ingest.FlagBorrowingRequest(ctx, &requestsv1.FlagBorrowingRequestRequest{
				Name: br, ReasonCode: reasonExternalGone, Reason: external.Name(x.profile.GetSystem()) + " no longer knows this request (" + id +
					"): it may have been deleted there; check it and close or resolve it here"})
			return err
		})
		if status.Code(err) == codes.NotFound {
			br, err = "", nil // deleted from the ledger meanwhile: nothing to flag
		}
	}
	if err != nil {
		if x.ctx.Err() != nil {
			return true, x.ctx.Err()
		}
		x.alerts = append(x.alerts, alert(x.r.d.Now(), harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE,
			"%s stopped: %s no longer knows %s, and the ledger could not flag it (%s): %s; the next run tries again",
			phase, external.Name(x.profile.GetSystem()), id, status.Code(err), status.Convert(err).Message()))
		return true, nil
	}
	reason := "the external system no longer knows this request; nothing in the ledger to flag, and later runs no longer fetch it"
	if br != "" {
		reason = "the external system no longer knows this request; its ledger request is flagged for attention, and later runs no longer re-read it"
	}
	b := x.batchOf([]*harvesterv1.RunEvent{x.event(id, harvesterv1.Outcome_OUTCOME_SKIPPED, reasonExternalGone, reason, br)})
	b.Gone = []store.Gone{{ExternalID: id, BorrowingRequest: br}}
	return false, x.record(b, id)
}

// ledgerRequest is the ledger request of external id, "" when the ledger holds none.
// The refresh knows it from its listing; a retry-set entry is looked up.
func (x *execution) ledgerRequest(id string) (string, error) {
	if br, ok := x.ledger[id]; ok {
		return br, nil
	}
	var resp *requestsv1.ListBorrowingRequestsResponse
	err := x.call(func(ctx context.Context) (err error) {
		resp, err = x.r.d.Requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{
			Profile: x.profile.GetName(), ExternalId: id, PageSize: 1})
		return err
	})
	if err != nil || len(resp.GetBorrowingRequests()) == 0 {
		return "", err
	}
	return resp.GetBorrowingRequests()[0].GetName(), nil
}

// record stores events that did not go through an ingest batch (one-by-one fetch
// outcomes). refreshed names a request whose refresh this was.
func (x *execution) record(b store.Batch, refreshed string) error {
	if x.refreshes[refreshed] {
		b.Refreshed = []string{refreshed}
	}
	return x.commit(b)
}

// retry fetches, one by one and least recently tried first, the requests of the retry
// set this run's window did not contain, so a request skipped once (unknown partner, …)
// is imported once it can be, even after it left the window.
func (x *execution) retry() error {
	entries, err := x.r.d.Store.Retry(x.code)
	if err != nil {
		return err
	}
	var ids []string
	for _, e := range entries {
		if x.seen[e.ExternalID] {
			continue
		}
		if len(ids) == x.r.d.MaxRetryFetches {
			break // the rest waits for the next run; the least recently tried go first then
		}
		ids = append(ids, e.ExternalID)
	}
	return x.fetchEach(ids, "retrying requests not imported before", "retrying ")
}

// fetchEach fetches ids one by one (fetchOne) and ingests what they bring; it stops
// early when a fetch ends the phase, still flushing what was collected before. The
// run's progress names the phase with "n of m" (at most once a second: each update is
// a write), so a watcher sees a slow phase advance.
func (x *execution) fetchEach(ids []string, phase, what string) error {
	var last time.Time
	for i, id := range ids {
		if now := x.r.d.Now(); i == 0 || now.Sub(last) >= time.Second {
			last = now
			if _, err := x.update(func(run *harvesterv1.Run) {
				run.Progress.Phase = fmt.Sprintf("%s: %d of %d", phase, i, len(ids))
			}); err != nil {
				return err
			}
		}
		stop, err := x.fetchOne(id, what+id)
		if err != nil || stop {
			if ferr := x.flush(); err == nil {
				err = ferr
			}
			return err
		}
	}
	return x.flush()
}

// openRequest is an open ledger request of the profile: its external id and its name.
type openRequest struct{ id, name string }

// openList is the listing of the profile's open ledger requests for the refresh, made in
// the background while the window is fetched (listOpen).
type openList struct {
	done chan struct{}
	open []openRequest
	err  error
}

// openFields are the fields of an open request the refresh uses (a read mask): whole
// requests would carry titles, rota and patron data to be encoded, sent and decoded
// for nothing.
var openFields = &fieldmaskpb.FieldMask{Paths: []string{"name", "external_reference.external_id"}}

// listOpen starts listing the profile's open ledger requests for the refresh after the
// window. The list is taken while the window is fetched rather than after it, so the ledger's reads overlap the fetch instead of adding to the
// run: a request the window brings is left out by the refresh anyway (seen), one that
// closes meanwhile is at worst re-read once, and one that staff change while the pages
// are read may move past them and wait for the next run's refresh.
func (x *execution) listOpen() {
	d := x.r.d
	if d.RefreshLimit < 0 || d.Requests == nil {
		return
	}
	l := &openList{done: make(chan struct{})}
	x.openList = l
	go func() {
		defer close(l.done)
		token := ""
		for {
			var resp *requestsv1.ListBorrowingRequestsResponse
			err := x.call(func(ctx context.Context) (err error) {
				resp, err = d.Requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{
					Profile: x.profile.GetName(), OpenOnly: true, PageSize: 1000, PageToken: token, ReadMask: openFields})
				return err
			})
			if err != nil {
				l.err = err
				return
			}
			for _, br := range resp.GetBorrowingRequests() {
				l.open = append(l.open, openRequest{id: br.GetExternalReference().GetExternalId(), name: br.GetName()})
			}
			if token = resp.GetNextPageToken(); token == "" {
				return
			}
		}
	}()
}

// refresh re-reads open ledger requests of this profile that the window did not contain
// (Libris lists requests by order date, so a later status change of an older request
// only arrives this way), least recently refreshed first, at most RefreshLimit per run.
func (x *execution) refresh() error {
	d := x.r.d
	if x.openList == nil {
		return nil
	}
	if _, err := x.update(func(run *harvesterv1.Run) { run.Progress.Phase = "refreshing open requests" }); err != nil {
		return err
	}
	// Requests the external system no longer knows were flagged once; re-reading them
	// would only say so again.
	gone, err := d.Store.GoneIDs(x.code)
	if err != nil {
		return err
	}
	select {
	case <-x.openList.done:
	case <-x.ctx.Done():
		return x.ctx.Err()
	}
	if err := x.openList.err; err != nil {
		return x.serviceFailure("requests", err)
	}
	var open []string
	for _, o := range x.openList.open {
		if !x.seen[o.id] && !gone[o.id] {
			open = append(open, o.id)
			x.ledger[o.id] = o.name
		}
	}
	last, err := d.Store.Refreshed(x.code)
	if err != nil {
		return err
	}
	slices.SortStableFunc(open, func(a, b string) int { return last[a].Compare(last[b]) })
	open = open[:min(len(open), d.RefreshLimit)]
	for _, id := range open {
		x.refreshes[id] = true
	}
	return x.fetchEach(open, "refreshing open requests", "refreshing ")
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
		return f // from visit: our own failure, already classified
	}
	var le *connector.LimitError
	if errors.As(err, &le) {
		return fail(harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED, "%s (%s; while %s)%s", le, limitFlags[le.Bound], what, boundKept)
	}
	var ce *connector.Error
	if !errors.As(err, &ce) {
		return err // from visit: the store
	}
	code := harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE
	switch ce.Kind {
	case connector.KindAuth:
		code = harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED
	case connector.KindUnreachable:
		code = harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE
	}
	return fail(code, "%s (while %s)", ce.Error(), what)
}

// boundKept ends the message of a run stopped at a bound: what it keeps and leaves.
const boundKept = "; the requests acknowledged before stay imported, the cursor is unchanged, and the next run tries again"

// limitFlags names the harvester flags that set each connector bound.
var limitFlags = map[connector.Bound]string{
	connector.BoundCallTimeout: "--external-call-timeout",
	connector.BoundMinRate:     "--external-min-rate, --external-slow-grace",
	connector.BoundMaxBytes:    "--run-max-read-mib",
}

func isLimit(err error) bool {
	var le *connector.LimitError
	return errors.As(err, &le)
}

// overBound reports whether the run ended at one of its bounds (RUN_LIMIT_EXCEEDED).
func (x *execution) overBound(err error) bool {
	var f *failure
	return errors.Is(context.Cause(x.ctx), errRunTimeout) ||
		errors.As(err, &f) && f.code == harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED
}

// serviceFailure reports another Interloan service failing the run.
func (x *execution) serviceFailure(service string, err error) error {
	if x.ctx.Err() != nil {
		return x.ctx.Err()
	}
	code := harvesterv1.AlertCode_ALERT_CODE_SERVICE_UNAVAILABLE
	if service == "requests" {
		code = harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE
	}
	return fail(code, "the %s service failed (%s): %s", service, status.Code(err), status.Convert(err).Message())
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
