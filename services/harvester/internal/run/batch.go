package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// pending is one fetched request on its way through a batch.
type pending struct {
	req   *connector.Request
	event *harvesterv1.RunEvent // set once its fate is known
	item  *requestsv1.IngestItem
}

// The batches of a run go through a pipeline of two goroutines besides the fetch, so
// that the fetch's decoding, the harvester's resolution and recording and the ledger's
// commits overlap instead of taking turns:
//
//	fetch ──dispatch──► sender: validate, resolve, Send ──► recorder: Recv, record events
//
// The sender puts a batch on the stream while the ledger still commits the one before it
// (at most ledgerAhead batches sent and not answered), so the ledger does not wait for the
// harvester between two batches; the recorder writes a batch's events while the ledger
// commits the next. Batches reach the ledger and the harvester's store one at a time and
// in order, on the run's one stream. A failure at a batch stops the pipeline there:
// batches before it are still answered and recorded, none after it is recorded, the
// sender sends no more, and the fetch stops at its next dispatch.
type pipeline struct {
	batches chan []*pending // dispatch → sender
	sent    chan sentBatch  // sender → recorder, in the order sent
	slots   chan struct{}   // one per batch sent and not answered yet
	busy    sync.WaitGroup  // batches dispatched and not yet recorded (or dropped)
	ended   sync.WaitGroup  // the two goroutines
	halted  chan struct{}   // closed at the first failure: send and dispatch no more
	once    sync.Once
	// err is the first failure in batch order, set by the recorder; others read it once
	// busy is done.
	err error
}

// ledgerAhead is how many batches may be on the stream without an answer: one being
// committed by the ledger and the next one waiting behind it.
const ledgerAhead = 2

// sentBatch is a batch on its way from the sender to the recorder. id is set when some of
// its requests were sent to the ledger (owners, in the order of the items); err is the
// sender's failure at this batch; drop marks a batch after a failure, neither sent nor to
// be recorded.
type sentBatch struct {
	batch  []*pending
	owners []*pending
	id     string
	err    error
	drop   bool
}

// startPipeline starts the sender and the recorder on the run's ingest stream.
func (x *execution) startPipeline() {
	p := &pipeline{batches: make(chan []*pending), sent: make(chan sentBatch, ledgerAhead), slots: make(chan struct{}, ledgerAhead),
		halted: make(chan struct{})}
	x.pipe = p
	p.ended.Add(2)
	go func() {
		defer p.ended.Done()
		defer close(p.sent)
		for batch := range p.batches {
			sb := x.sendBatch(batch)
			if sb.err != nil {
				p.halt()
			}
			p.sent <- sb
		}
	}()
	go func() {
		defer p.ended.Done()
		for sb := range p.sent {
			if p.err == nil && !sb.drop {
				if err := x.recordBatch(sb); err != nil {
					p.err = err
					p.halt()
				}
			} else if sb.id != "" {
				<-p.slots // sent after the failure: its answer is not awaited
			}
			p.busy.Done()
		}
	}()
}

func (p *pipeline) halt() { p.once.Do(func() { close(p.halted) }) }

func (p *pipeline) isHalted() bool {
	select {
	case <-p.halted:
		return true
	default:
		return false
	}
}

// flush ingests the collected batch (dispatch) and waits until every batch dispatched
// is ingested and recorded.
func (x *execution) flush() error {
	if err := x.dispatch(); err != nil {
		return err
	}
	return x.wait()
}

// dispatch hands the collected batch to the pipeline; the fetch goes on decoding the next
// one meanwhile. Once a batch failed it returns that failure, so the fetch stops.
func (x *execution) dispatch() error {
	p := x.pipe
	if p.isHalted() {
		return x.wait()
	}
	if len(x.batch) == 0 {
		return nil
	}
	batch := make([]*pending, len(x.batch))
	for i, req := range x.batch {
		batch[i] = &pending{req: req}
	}
	x.batch = x.batch[:0]
	p.busy.Add(1)
	select {
	case p.batches <- batch:
		return nil
	case <-p.halted:
		p.busy.Done()
		return x.wait()
	}
}

// wait waits until every batch dispatched is recorded or dropped, and returns the
// pipeline's first failure.
func (x *execution) wait() error {
	if x.pipe == nil {
		return nil
	}
	x.pipe.busy.Wait()
	return x.pipe.err
}

// stopPipeline waits for the batches dispatched, ends the pipeline's goroutines and
// returns its first failure. The run calls it once, at its end.
func (x *execution) stopPipeline() error {
	p := x.pipe
	if p == nil {
		return nil
	}
	close(p.batches)
	p.ended.Wait()
	return p.err
}

// sendBatch validates and resolves a batch and puts its ingest items on the stream. After
// a failure the batch is passed on to be dropped.
func (x *execution) sendBatch(batch []*pending) sentBatch {
	p := x.pipe
	if p.isHalted() {
		return sentBatch{batch: batch, drop: true}
	}
	for _, pd := range batch {
		x.validate(pd)
	}
	if err := x.resolve(batch); err != nil {
		return sentBatch{batch: batch, err: err}
	}
	sb := sentBatch{batch: batch}
	var items []*requestsv1.IngestItem
	for _, pd := range batch {
		if pd.item != nil {
			items = append(items, pd.item)
			sb.owners = append(sb.owners, pd)
		}
	}
	if len(items) == 0 {
		return sb
	}
	select {
	case p.slots <- struct{}{}:
	case <-p.halted:
		return sentBatch{batch: batch, drop: true}
	case <-x.ingestCtx.Done():
		return sentBatch{batch: batch, err: x.ledgerFailure(context.Cause(x.ingestCtx))}
	}
	x.batchNo++
	sb.id = cmp.Or(x.name, "preview") + "/batches/" + strconv.Itoa(x.batchNo)
	// A ledger that takes no more of the stream must not hold the run forever.
	watchdog := time.AfterFunc(x.r.d.BatchTimeout, func() { x.ingestCancel(errBatchTimeout) })
	// A preview's batches are decided by the ledger and rolled back (validate_only).
	err := x.ingest.Send(&requestsv1.IngestBorrowingRequestsRequest{BatchId: sb.id, Run: x.name, Items: items, ValidateOnly: x.preview != nil})
	watchdog.Stop()
	// io.EOF: the ledger ended the stream, and the recorder learns why from Recv.
	if err != nil && !errors.Is(err, io.EOF) {
		sb.err = x.ledgerFailure(err)
	}
	return sb
}

// recordBatch takes the ledger's answer to a sent batch, turns it into events and records
// them, with the counters and retry-set changes, in one transaction of the harvester's
// store.
func (x *execution) recordBatch(sb sentBatch) error {
	if sb.id != "" {
		err := sb.err
		if err == nil {
			err = x.receive(sb)
		}
		<-x.pipe.slots
		if err != nil {
			return err
		}
	}
	if sb.err != nil {
		return sb.err
	}
	b := x.batchOf(nil)
	for _, pd := range sb.batch {
		e := pd.event
		b.Events = append(b.Events, e)
		id := e.GetExternalId()
		switch {
		case imported(e.GetOutcome()):
			b.Done = append(b.Done, id)
		case id != "":
			// Not imported and fetchable by id: later runs try again, or it is parked.
			b.Retry = append(b.Retry, x.retryEntry(e))
		}
		if x.refreshes[id] {
			b.Refreshed = append(b.Refreshed, id)
		}
	}
	if x.preview != nil {
		// A preview stops here, short of every write: what the run would record.
		x.preview.add(sb.batch)
		return nil
	}
	return x.commit(b)
}

// batchOf is the store batch of this run recording events.
func (x *execution) batchOf(events []*harvesterv1.RunEvent) store.Batch {
	return store.Batch{RunID: x.id, Now: x.r.d.Now(), Profile: x.code, Events: events, ParkAfter: max(x.r.d.ParkAfter, 0)}
}

// retryEntry is the retry-set change for event e of a request not imported. A request
// parked before stays parked: its event says so and counts as skipped, not as a fresh
// failure, since staff already have it in the parked list.
func (x *execution) retryEntry(e *harvesterv1.RunEvent) store.RetryEntry {
	id, code := e.GetExternalId(), e.GetReasonCode()
	entry := store.RetryEntry{ExternalID: id, Reason: code, Message: e.GetReason(), Parkable: parkable(code)}
	if x.parked[id] {
		e.Outcome = harvesterv1.Outcome_OUTCOME_SKIPPED
		e.Reason += "; the request is parked, so runs do not retry it until staff retry it (RetryParkedItem)"
	}
	return entry
}

// parkable reports whether a failure with this reason code parks a request once it has
// happened ParkAfter runs in a row. Waiting for a patron's approval is no failure: the
// request is checked on every run until the approval comes.
func parkable(code string) bool {
	return code != reasonNotApproved && code != reasonExternalGone
}

// commit records b with the run's counters for its events, and wakes the run's watchers.
func (x *execution) commit(b store.Batch) error {
	b.Update = func(run *harvesterv1.Run) {
		for _, e := range b.Events {
			count(run.Counters, e.GetOutcome())
			if e.GetParked() {
				run.Counters.Parked++
			}
		}
		run.Progress.Handled = run.Counters.Fetched
	}
	_, err := x.r.d.Store.RecordBatch(b)
	x.r.notify(x.id)
	return err
}

// count adds one handled request with outcome o to the counters.
func count(c *harvesterv1.RunCounters, o harvesterv1.Outcome) {
	c.Fetched++
	switch o {
	case harvesterv1.Outcome_OUTCOME_CREATED:
		c.Created++
	case harvesterv1.Outcome_OUTCOME_UPDATED:
		c.Updated++
	case harvesterv1.Outcome_OUTCOME_UNCHANGED:
		c.Unchanged++
	case harvesterv1.Outcome_OUTCOME_SKIPPED:
		c.Skipped++
	default:
		c.Failed++
	}
}

func imported(o harvesterv1.Outcome) bool {
	return o == harvesterv1.Outcome_OUTCOME_CREATED || o == harvesterv1.Outcome_OUTCOME_UPDATED || o == harvesterv1.Outcome_OUTCOME_UNCHANGED
}

// validate decides what the harvester alone can: unusable data and unapproved patrons.
func (x *execution) validate(p *pending) {
	r := p.req
	switch {
	case r.Problem != "":
		p.event = x.event(r.ExternalID, harvesterv1.Outcome_OUTCOME_FAILED, reasonInvalid, r.Problem, "")
	case r.ExternalID == "":
		p.event = x.event("", harvesterv1.Outcome_OUTCOME_FAILED, reasonInvalid, "the request has no external id", "")
	case awaitsAuthentication(x.profile.GetRequireAuthentication(), r):
		p.event = x.event(r.ExternalID, harvesterv1.Outcome_OUTCOME_SKIPPED, reasonNotApproved,
			"the profile requires authentication and the external system does not report the patron who placed this request as approved yet; later runs check again", "")
	}
}

// awaitsAuthentication reports whether a request waits for its patron's approval on a
// profile that requires authentication. Approval is asked of the patron who placed the
// request: a request staff entered themselves has no such patron, and one that has
// already gone past the point where approval decides anything (the lender shipped it, or
// it was received, returned, completed, cancelled, rejected or expired) is imported, so
// staff can follow what is under way.
func awaitsAuthentication(required bool, r *connector.Request) bool {
	return required && r.PatronInitiated && !r.PatronApproved && !pastApproval(r.Status)
}

// pastApproval reports whether a request in status s has gone past its patron's
// approval: the lender has shipped it, or it has ended.
func pastApproval(s requestsv1.Status) bool {
	switch s {
	case requestsv1.Status_STATUS_UNSPECIFIED, requestsv1.Status_STATUS_CREATED, requestsv1.Status_STATUS_READY_TO_SEND,
		requestsv1.Status_STATUS_REQUEST_SENT, requestsv1.Status_STATUS_WILL_SUPPLY:
		return false
	}
	return true
}

// resolve maps the batch's lender, rota and pickup codes in one call each, and builds the
// ingest items of the requests that can be imported.
func (x *execution) resolve(batch []*pending) error {
	var partnerCodes, libraryCodes []string
	seenP, seenL := map[string]bool{}, map[string]bool{}
	for _, p := range batch {
		if p.event != nil {
			continue
		}
		codes := []string{p.req.Lender}
		for _, e := range p.req.Rota {
			codes = append(codes, e.Code)
		}
		for _, c := range codes {
			if c != "" && !seenP[c] {
				seenP[c] = true
				partnerCodes = append(partnerCodes, c)
			}
		}
		if c := p.req.PickupLibrary; c != "" && !seenL[c] {
			seenL[c] = true
			libraryCodes = append(libraryCodes, c)
		}
	}
	partners := map[string]*mappingv1.Partner{}
	for chunk := range slices.Chunk(partnerCodes, resolveMax) {
		var res *mappingv1.ResolvePartnerCodesResponse
		err := x.call(func(ctx context.Context) (err error) {
			res, err = x.r.d.Mapping.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: chunk})
			return err
		})
		if err != nil {
			return x.serviceFailure("mapping", err)
		}
		for _, r := range res.GetResolutions() {
			if r.GetFound() {
				partners[r.GetCode()] = r.GetPartner()
			}
		}
	}
	libraries := map[string]string{}
	for chunk := range slices.Chunk(libraryCodes, resolveMax) {
		var res *mappingv1.ResolveLibraryCodesResponse
		err := x.call(func(ctx context.Context) (err error) {
			res, err = x.r.d.Mapping.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: x.profile.GetSystem(), ExternalCodes: chunk})
			return err
		})
		if err != nil {
			return x.serviceFailure("mapping", err)
		}
		for _, r := range res.GetResolutions() {
			if r.GetFound() {
				libraries[r.GetExternalCode()] = r.GetLocalLibraryCode()
			}
		}
	}
	for _, p := range batch {
		if p.event != nil {
			continue
		}
		r := p.req
		partner := ""
		if r.Lender != "" {
			pt, ok := partners[r.Lender]
			if !ok {
				p.event = x.event(r.ExternalID, harvesterv1.Outcome_OUTCOME_SKIPPED, reasonPartnerUnknown,
					fmt.Sprintf("lender %q is not a partner; create partners/%s and a later run imports this request", r.Lender, r.Lender), "")
				continue
			}
			partner = pt.GetName()
		}
		pickup := x.owner
		if r.PickupLibrary != "" {
			local, ok := libraries[r.PickupLibrary]
			if !ok {
				p.event = x.event(r.ExternalID, harvesterv1.Outcome_OUTCOME_SKIPPED, reasonLibraryUnmapped,
					fmt.Sprintf("pickup library %q has no %s library mapping; add one and a later run imports this request", r.PickupLibrary, external.Name(x.profile.GetSystem())), "")
				continue
			}
			pickup = local
		}
		rota := make([]*requestsv1.RotaEntry, len(r.Rota))
		for i, e := range r.Rota {
			rota[i] = &requestsv1.RotaEntry{PartnerCode: e.Code, Partner: partners[e.Code].GetName(), Active: e.Active, Response: e.Response}
		}
		p.item = &requestsv1.IngestItem{
			ExternalReference: &requestsv1.ExternalReference{
				System:            x.profile.GetSystem(),
				Profile:           x.profile.GetName(),
				ExternalId:        r.ExternalID,
				ExternalRequestId: r.ExternalRequestID,
				StatusRaw:         r.StatusRaw,
				LastModifiedTime:  timestamppb.New(r.LastModified),
			},
			ExternalStatus: r.Status,
			Owner:          x.owner,
			Partner:        partner,
			Rota:           rota,
			Bibliographic:  proto.CloneOf(r.Bibliographic),
			Format:         r.Format,
			Media:          r.Media,
			Requester:      &requestsv1.Requester{PatronId: r.PatronID, Name: r.PatronName, Approved: r.PatronApproved},
			PickupLocation: pickup,
			Note:           r.Note,
			Warnings:       r.Warnings,
		}
	}
	return nil
}

// receive waits for the ledger's answer to a sent batch and turns it into events.
func (x *execution) receive(sb sentBatch) error {
	// A ledger that accepts a batch and never answers must not hold the run forever.
	watchdog := time.AfterFunc(x.r.d.BatchTimeout, func() { x.ingestCancel(errBatchTimeout) })
	resp, err := x.ingest.Recv()
	watchdog.Stop()
	if err != nil {
		return x.ledgerFailure(err)
	}
	if resp.GetBatchId() != sb.id || len(resp.GetResults()) != len(sb.owners) {
		return fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger answered batch %s with %d results for %d items", resp.GetBatchId(), len(resp.GetResults()), len(sb.owners))
	}
	for i, res := range resp.GetResults() {
		p := sb.owners[i]
		id := p.req.ExternalID
		var e *harvesterv1.RunEvent
		switch res.GetOutcome() {
		case requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED:
			e = x.event(id, harvesterv1.Outcome_OUTCOME_CREATED, "", "", res.GetBorrowingRequest())
		case requestsv1.IngestOutcome_INGEST_OUTCOME_UPDATED:
			e = x.event(id, harvesterv1.Outcome_OUTCOME_UPDATED, "", "", res.GetBorrowingRequest())
		case requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED:
			e = x.event(id, harvesterv1.Outcome_OUTCOME_UNCHANGED, "", "", res.GetBorrowingRequest())
		default:
			e = x.event(id, harvesterv1.Outcome_OUTCOME_FAILED, reasonLedgerRejected, "the ledger refused the request: "+res.GetReason(), "")
		}
		if imported(e.GetOutcome()) {
			// The ledger answers with the warnings it stored: the connector's and its own.
			e.Warnings = res.GetWarnings()
			if len(e.Warnings) == 0 {
				e.Warnings = p.item.GetWarnings()
			}
			if len(e.Warnings) > 0 {
				e.ReasonCode, e.Reason = reasonExternalWarning, connector.WarningText(e.Warnings)
				x.warned = true
			}
		}
		p.event = e
	}
	return nil
}

func (x *execution) ledgerFailure(err error) error {
	if x.ctx.Err() != nil {
		return x.ctx.Err()
	}
	if x.ingestCtx != nil && errors.Is(context.Cause(x.ingestCtx), errBatchTimeout) {
		return fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger did not answer a batch within %s", x.r.d.BatchTimeout)
	}
	return fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger failed during ingest (%s): %s", status.Code(err), status.Convert(err).Message())
}
