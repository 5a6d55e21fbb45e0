package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// flush ingests the collected batch (dispatch) and waits until every batch dispatched
// is ingested and recorded.
func (x *execution) flush() error {
	if err := x.dispatch(); err != nil {
		return err
	}
	return x.wait()
}

// dispatch hands the collected batch to a goroutine that ingests and records it (ingest),
// once the batch before it is done. The fetch meanwhile decodes the next batch, so the
// harvester's decoding and the ledger's commit of the previous batch overlap instead of
// taking turns; batches still reach the ledger one at a time and in order, and at most
// two are held in memory. After a batch failed, every later dispatch and wait returns
// its error, so the fetch stops and nothing after the failure is ingested.
func (x *execution) dispatch() error {
	if err := x.wait(); err != nil {
		return err
	}
	if len(x.batch) == 0 {
		return nil
	}
	batch := make([]*pending, len(x.batch))
	for i, req := range x.batch {
		batch[i] = &pending{req: req}
	}
	x.batch = x.batch[:0]
	done := make(chan error, 1)
	x.inflight = done
	go func() { done <- x.ingestBatch(batch) }()
	return nil
}

// wait waits for the batch in flight, if any, and returns the first batch failure.
func (x *execution) wait() error {
	if x.inflight != nil {
		x.batchErr = <-x.inflight
		x.inflight = nil
	}
	return x.batchErr
}

// ingestBatch validates, resolves and ingests a batch, then records its events, counters
// and retry-set changes in one transaction of the harvester's store.
func (x *execution) ingestBatch(batch []*pending) error {
	for _, p := range batch {
		x.validate(p)
	}
	if err := x.resolve(batch); err != nil {
		return err
	}
	if err := x.send(batch); err != nil {
		return err
	}

	b := x.batchOf(nil)
	for _, p := range batch {
		e := p.event
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
		x.preview.add(batch)
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

// send ingests the batch's items as one ledger batch and turns the answers into events.
func (x *execution) send(batch []*pending) error {
	var items []*requestsv1.IngestItem
	var owners []*pending
	for _, p := range batch {
		if p.item != nil {
			items = append(items, p.item)
			owners = append(owners, p)
		}
	}
	if len(items) == 0 {
		return nil
	}
	x.batchNo++
	batchID := cmp.Or(x.name, "preview") + "/batches/" + strconv.Itoa(x.batchNo)
	// A ledger that accepts a batch and never answers must not hold the run forever.
	watchdog := time.AfterFunc(x.r.d.BatchTimeout, func() { x.ingestCancel(errBatchTimeout) })
	// A preview's batches are decided by the ledger and rolled back (validate_only).
	err := x.ingest.Send(&requestsv1.IngestBorrowingRequestsRequest{BatchId: batchID, Run: x.name, Items: items, ValidateOnly: x.preview != nil})
	var resp *requestsv1.IngestBorrowingRequestsResponse
	if err == nil {
		resp, err = x.ingest.Recv()
	}
	watchdog.Stop()
	if err != nil {
		return x.ledgerFailure(err)
	}
	if resp.GetBatchId() != batchID || len(resp.GetResults()) != len(items) {
		return fail(harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, "the ledger answered batch %s with %d results for %d items", resp.GetBatchId(), len(resp.GetResults()), len(items))
	}
	for i, res := range resp.GetResults() {
		p := owners[i]
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
