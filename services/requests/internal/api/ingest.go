package api

import (
	"context"
	"errors"
	"io"
	"strings"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/store"
)

const (
	// maxBatchID bounds the caller-chosen batch_id and run name, which are echoed or kept.
	maxBatchID = 128
	// maxReasonCode bounds a flag's reason_code, a machine-readable name.
	maxReasonCode = 63
)

// IngestBorrowingRequests applies the harvester's batches in the order they arrive: each
// in one transaction, answered by one response with a result per item. A malformed batch
// (no batch_id, more than store.MaxBatch items) ends the stream with INVALID_ARGUMENT: the
// caller has a bug, and answering later batches would hide it. Batches answered before it
// stay applied; a storage failure or an ended stream applies nothing of its batch. A
// validate_only batch is decided the same way and rolled back (the harvester's preview).
// The service is the harvester's alone: the auth policy (platform/auth.DefaultPolicy)
// admits only that role to it.
func (s *Service) IngestBorrowingRequests(stream requestsv1.IngestService_IngestBorrowingRequestsServer) error {
	ctx := stream.Context()
	for r := range receiveAhead(ctx, stream, s.store.Prepare) {
		req, err := r.req, r.err
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := checkBatch(req); err != nil {
			return err
		}
		var results []*requestsv1.IngestResult
		if req.GetValidateOnly() {
			results, err = s.store.ValidateBatch(ctx, req.GetItems(), s.now())
		} else {
			results, err = s.store.ApplyPrepared(ctx, req.GetRun(), r.prepared, s.now())
		}
		if err != nil {
			return storeError(err, "")
		}
		if err := stream.Send(forCaller(ctx, &requestsv1.IngestBorrowingRequestsResponse{BatchId: req.GetBatchId(), Results: results})); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// received is one Recv of the ingest stream, its items prepared for the store.
type received struct {
	req      *requestsv1.IngestBorrowingRequestsRequest
	prepared *store.Prepared
	err      error
}

// receiveAhead receives the stream's batches in a goroutine of its own, one ahead of the
// handler: the next batch arrives, is unmarshalled and is prepared (store.Prepare: its
// new requests cleaned and their words split) while the store applies this one. The
// channel ends after the first error (io.EOF included), or when ctx ends, which it does
// once the handler returns.
func receiveAhead(ctx context.Context, stream requestsv1.IngestService_IngestBorrowingRequestsServer,
	prepare func([]*requestsv1.IngestItem) *store.Prepared) <-chan received {
	out := make(chan received, 1)
	go func() {
		defer close(out)
		for {
			req, err := stream.Recv()
			var prepared *store.Prepared
			if err == nil && !req.GetValidateOnly() {
				prepared = prepare(req.GetItems())
			}
			select {
			case out <- received{req, prepared, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// checkBatch validates a batch as a whole; its items are judged one by one by the store.
func checkBatch(req *requestsv1.IngestBorrowingRequestsRequest) error {
	var v apierr.Violations
	if id := req.GetBatchId(); id == "" {
		v.Add("batch_id", "is required")
	} else {
		validate.Text(&v, "batch_id", id, maxBatchID, false)
	}
	if run := req.GetRun(); run != "" {
		id, ok := strings.CutPrefix(run, "runs/")
		if !ok || id == "" || strings.Contains(id, "/") {
			v.Add("run", "must have the form runs/{id}")
		} else {
			validate.Token(&v, "run", run, maxBatchID)
		}
	}
	if n := len(req.GetItems()); n > store.MaxBatch {
		v.Add("items", "must hold at most %d items (got %d); split the batch", store.MaxBatch, n)
	}
	return v.Err()
}

// FlagBorrowingRequest flags a request for staff with the harvester's reason (the
// external system no longer knows it) and records it in the request's history; a repeat
// with the same reason changes nothing. Like the ingest stream, it is the harvester's
// alone (platform/auth.DefaultPolicy).
func (s *Service) FlagBorrowingRequest(ctx context.Context, req *requestsv1.FlagBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	var v apierr.Violations
	id := nameID(&v, "name", req.GetName())
	checkReasonCode(&v, "reason_code", req.GetReasonCode())
	checkNote(&v, "reason", req.GetReason(), true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	r, err := s.store.Flag(id, req.GetReasonCode(), req.GetReason(), auth.Caller(ctx), s.now())
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	return forCaller(ctx, r), nil
}

// checkReasonCode checks a required machine-readable reason such as
// EXTERNAL_REQUEST_GONE: upper-case letters, digits and underscores, starting with a
// letter, as the ErrorInfo reasons and run event reason codes are written.
func checkReasonCode(v *apierr.Violations, field, code string) {
	ok := code != "" && len(code) <= maxReasonCode && code[0] >= 'A' && code[0] <= 'Z'
	for i := 0; ok && i < len(code); i++ {
		c := code[i]
		ok = c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	switch {
	case code == "":
		v.Add(field, "is required")
	case !ok:
		v.Add(field, "must be 1-%d upper-case letters, digits or '_', starting with a letter (e.g. EXTERNAL_REQUEST_GONE)", maxReasonCode)
	}
}
