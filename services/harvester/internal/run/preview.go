package run

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// Bounds of a preview: requests fetched and predicted per call.
const (
	DefaultPreviewItems = 50
	MaxPreviewItems     = resolveMax // one ingest batch, so the ledger decides them at once
)

// preview collects what a previewing execution would record.
type preview struct {
	max      int
	full     bool // the window holds more than max requests
	items    []*harvesterv1.PreviewItem
	counters *harvesterv1.RunCounters
}

// errPreviewFull stops the fetch once the preview holds max requests.
var errPreviewFull = errors.New("preview full")

// add records the fates a batch reached, as recordBatch would record them.
func (p *preview) add(batch []*pending) {
	for _, pd := range batch {
		e, r := pd.event, pd.req
		item := &harvesterv1.PreviewItem{ExternalId: e.GetExternalId(), Outcome: e.GetOutcome(), ReasonCode: e.GetReasonCode(),
			Reason: e.GetReason(), BorrowingRequest: e.GetBorrowingRequest(), Warnings: e.GetWarnings(), Title: r.Bibliographic.GetTitle()}
		switch e.GetReasonCode() {
		case reasonPartnerUnknown:
			item.UnresolvedCode = r.Lender
		case reasonLibraryUnmapped:
			item.UnresolvedCode = r.PickupLibrary
		}
		p.items = append(p.items, item)
		count(p.counters, e.GetOutcome())
	}
}

// Preview predicts what the next run of a profile would do with at most max requests
// of window w (nil: the window the next run would fetch). It runs a run's own steps —
// pre-checks, window, fetch, validation, resolution and the ledger's decision — and
// stops short of every write: the ledger decides the batch validate_only, and nothing
// is recorded in the harvester's store (no run, event, retry entry, parked item or
// cursor). What would end the run FAILED is answered as an alert; a profile that does
// not exist is a *ProfileError, a window out of bounds an argument error.
func (r *Runner) Preview(ctx context.Context, profileName string, w *connector.Window, max int) (*harvesterv1.PreviewImportResponse, error) {
	code, err := resource.ParseName("profile", profileName, ProfilesCollection)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = DefaultPreviewItems
	}
	max = min(max, MaxPreviewItems)
	ctx, stop := context.WithTimeoutCause(ctx, r.d.RunTimeout, errRunTimeout)
	defer stop()
	x := &execution{r: r, ctx: ctx, code: code, seen: map[string]bool{}, refreshes: map[string]bool{}, ledger: map[string]string{},
		preview: &preview{max: max, counters: &harvesterv1.RunCounters{}}}
	resp := &harvesterv1.PreviewImportResponse{}
	err = x.previewWindow(w, resp)
	if berr := x.stopPipeline(); err == nil {
		err = berr
	}
	if x.ingestCancel != nil {
		x.ingestCancel(nil)
	}
	resp.Items, resp.Counters, resp.Truncated = x.preview.items, x.preview.counters, x.preview.full
	var f *failure
	switch {
	case err == nil:
	case errors.As(err, &f) && f.code == harvesterv1.AlertCode_ALERT_CODE_PROFILE_NOT_FOUND:
		return nil, &ProfileError{Profile: profileName, Err: status.Error(codes.NotFound, f.msg)}
	case errors.Is(context.Cause(ctx), errRunTimeout):
		resp.Alerts = append(resp.Alerts, alert(r.d.Now(), harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED,
			"the preview took longer than %s, the bound on one run (--run-timeout)", r.d.RunTimeout))
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &f):
		resp.Alerts = append(resp.Alerts, alert(r.d.Now(), f.code, "%s", f.msg))
	default:
		return nil, err // an argument error, or the harvester's own storage
	}
	return resp, nil
}

// previewWindow is execution.run for a preview: the same pre-checks, window and fetch,
// ending after the window (the retry set, the refresh and the inbox are not previewed)
// or once max requests were fetched.
func (x *execution) previewWindow(w *connector.Window, resp *harvesterv1.PreviewImportResponse) error {
	d := x.r.d
	if err := x.precheck(); err != nil {
		return err
	}
	parked, err := d.Store.ParkedIDs(x.code)
	if err != nil {
		return err
	}
	x.parked = parked
	next, err := x.window()
	if err != nil {
		return err
	}
	if w != nil {
		today := next.To
		switch {
		case !w.Valid():
			return apierr.Invalid("start_date", "must be a date on or before end_date")
		case today.Before(w.To):
			return apierr.Invalid("end_date", "must not be after today in the profile's time zone (%s)", today)
		}
		next = *w
	}
	start, end := windowTimes(next, zoneOf(x.profile))
	resp.Window = &harvesterv1.Window{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}

	sctx, cancel := context.WithCancelCause(x.ctx)
	x.ingestCtx, x.ingestCancel = sctx, cancel
	stream, err := d.Ingest.IngestBorrowingRequests(sctx)
	if err != nil {
		return x.ledgerFailure(err)
	}
	x.ingest = stream
	x.startPipeline()
	for _, c := range next.Chunks(d.ChunkDays) {
		visit := x.chunkVisit(c)
		err := x.conn.Fetch(x.ctx, c, func(req *connector.Request) error {
			if req.ExternalID != "" && x.seen[req.ExternalID] {
				return nil
			}
			if x.handled >= x.preview.max {
				x.preview.full = true
				return errPreviewFull
			}
			return visit(req)
		})
		if errors.Is(err, errPreviewFull) {
			break
		}
		if err != nil {
			return x.connectorFailure(err, "fetching "+c.String())
		}
	}
	if err := x.flush(); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return x.ledgerFailure(err)
	}
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return x.ledgerFailure(err)
	}
	return nil
}
