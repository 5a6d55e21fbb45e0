package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/rpc"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// Limits of the action methods.
const (
	maxNote          = 4096 // characters of a staff note or a flag's reason
	maxBatchTargets  = 1000 // named requests per batch action
	maxAnonymize     = 1000 // requests one bulk anonymization call changes
	maxOlderThanDays = 36500
)

// action is one lifecycle action call: the fields every action request has.
type action struct {
	name, etag, note string
	cmd              store.Command
	check            func(v *apierr.Violations) // extra fields of the method
}

// act validates and applies one action. Bad input changes nothing and lists every
// violation; then the store checks the etag and the transition table in the transaction
// that applies the change.
func (s *Service) act(ctx context.Context, a action) (*requestsv1.BorrowingRequest, error) {
	var v apierr.Violations
	id := nameID(&v, "name", a.name)
	// The note requirement is the action's (a receive picks its action later, and
	// neither receive needs a note).
	checkNote(&v, "note", a.note, lifecycle.NoteRequired(a.cmd.Action))
	if a.check != nil {
		a.check(&v)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	a.cmd.Note, a.cmd.Actor = a.note, auth.Caller(ctx)
	r, err := s.store.Act(id, a.etag, a.cmd, s.now())
	if err != nil {
		return nil, storeError(err, a.name)
	}
	return forCaller(ctx, r), nil
}

func checkNote(v *apierr.Violations, field, note string, required bool) {
	if required && strings.TrimSpace(note) == "" {
		v.Add(field, "is required")
		return
	}
	validate.Text(v, field, note, maxNote, true)
}

func cmd(a requestsv1.Action) store.Command { return store.Command{Action: a} }

// MarkReadyToSend: CREATED → READY_TO_SEND.
func (s *Service) MarkReadyToSend(ctx context.Context, req *requestsv1.MarkReadyToSendRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.MarkReadyToSend)})
}

// SendBorrowingRequest sends the request to its partner, or to the partner given.
func (s *Service) SendBorrowingRequest(ctx context.Context, req *requestsv1.SendBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	c := cmd(lifecycle.Send)
	c.Partner = req.GetPartner()
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: c,
		check: func(v *apierr.Violations) {
			if p := req.GetPartner(); p != "" {
				validate.CodeName(v, "partner", p, store.PartnersCollection)
			}
		}})
}

// ReceiveBorrowingRequest records receipt; without a format, the store picks it from the
// request (what was shipped, else its format).
func (s *Service) ReceiveBorrowingRequest(ctx context.Context, req *requestsv1.ReceiveBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	var c store.Command
	switch req.GetFormat() {
	case requestsv1.Format_FORMAT_PHYSICAL:
		c = cmd(lifecycle.ReceivePhysically)
	case requestsv1.Format_FORMAT_DIGITAL:
		c = cmd(lifecycle.ReceiveDigitally)
	default:
		c.Choose = lifecycle.ReceiveFor
	}
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: c,
		check: func(v *apierr.Violations) { validate.Enum(v, "format", req.GetFormat(), false) }})
}

// LoanToPatron: RECEIVED_PHYSICALLY → LOANED_TO_PATRON.
func (s *Service) LoanToPatron(ctx context.Context, req *requestsv1.LoanToPatronRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.LoanToPatron)})
}

// ReturnByPatron: LOANED_TO_PATRON → RETURNED_BY_PATRON.
func (s *Service) ReturnByPatron(ctx context.Context, req *requestsv1.ReturnByPatronRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.ReturnByPatron)})
}

// ReturnToPartner: → RETURNED_TO_PARTNER.
func (s *Service) ReturnToPartner(ctx context.Context, req *requestsv1.ReturnToPartnerRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.ReturnToPartner)})
}

// CompleteBorrowingRequest: → COMPLETED.
func (s *Service) CompleteBorrowingRequest(ctx context.Context, req *requestsv1.CompleteBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.Complete)})
}

// DeclareItemLost: SHIPPED_PHYSICALLY, RECEIVED_PHYSICALLY, LOANED_TO_PATRON or
// RETURNED_BY_PATRON → COMPLETED, with a note saying what happened.
func (s *Service) DeclareItemLost(ctx context.Context, req *requestsv1.DeclareItemLostRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.DeclareLost)})
}

// CancelBorrowingRequest: → CANCELLED_BY_STAFF (the default) or CANCELLED_BY_PATRON.
func (s *Service) CancelBorrowingRequest(ctx context.Context, req *requestsv1.CancelBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	c := cmd(lifecycle.CancelByStaff)
	if req.GetCancelledBy() == requestsv1.CancelledBy_CANCELLED_BY_PATRON {
		c = cmd(lifecycle.CancelByPatron)
	}
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: c,
		check: func(v *apierr.Violations) { validate.Enum(v, "cancelled_by", req.GetCancelledBy(), false) }})
}

// RejectBorrowingRequest: → REJECTED_BY_PARTNER.
func (s *Service) RejectBorrowingRequest(ctx context.Context, req *requestsv1.RejectBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.Reject)})
}

// ExpireBorrowingRequest: → EXPIRED.
func (s *Service) ExpireBorrowingRequest(ctx context.Context, req *requestsv1.ExpireBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.Expire)})
}

// ReactivateBorrowingRequest reopens a closed request.
func (s *Service) ReactivateBorrowingRequest(ctx context.Context, req *requestsv1.ReactivateBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.Reactivate)})
}

// AddBorrowingRequestNote adds a note to the audit trail.
func (s *Service) AddBorrowingRequestNote(ctx context.Context, req *requestsv1.AddBorrowingRequestNoteRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.AddNote)})
}

// ResolveBorrowingRequestAttention clears needs_attention.
func (s *Service) ResolveBorrowingRequestAttention(ctx context.Context, req *requestsv1.ResolveBorrowingRequestAttentionRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.ResolveAttention)})
}

// AnonymizeBorrowingRequest removes personal data from a closed request.
func (s *Service) AnonymizeBorrowingRequest(ctx context.Context, req *requestsv1.AnonymizeBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	return s.act(ctx, action{name: req.GetName(), etag: req.GetEtag(), note: req.GetNote(), cmd: cmd(lifecycle.Anonymize)})
}

// ListAllowedActions lists what the request allows now.
func (s *Service) ListAllowedActions(ctx context.Context, req *requestsv1.ListAllowedActionsRequest) (*requestsv1.ListAllowedActionsResponse, error) {
	r, err := s.get(req.GetName())
	if err != nil {
		return nil, err
	}
	out := &requestsv1.ListAllowedActionsResponse{Status: r.GetStatus(), Etag: r.GetEtag()}
	for _, a := range lifecycle.AllowedFor(r) {
		to, err := lifecycle.Check(r, a)
		if err != nil {
			return nil, err // AllowedFor and Check disagree: a bug, reported as INTERNAL
		}
		out.AllowedActions = append(out.AllowedActions, &requestsv1.AllowedAction{
			Action: a, ToStatus: to, Method: lifecycle.Method(a), NoteRequired: lifecycle.NoteRequired(a)})
	}
	return forCaller(ctx, out), nil
}

// AnonymizeBorrowingRequests anonymizes closed requests not changed for older_than_days.
func (s *Service) AnonymizeBorrowingRequests(ctx context.Context, req *requestsv1.AnonymizeBorrowingRequestsRequest) (*requestsv1.AnonymizeBorrowingRequestsResponse, error) {
	var v apierr.Violations
	if d := req.GetOlderThanDays(); d < 1 || d > maxOlderThanDays {
		v.Add("older_than_days", "must be between 1 and %d (got %d)", maxOlderThanDays, d)
	}
	if o := req.GetOwner(); o != "" {
		validate.Code(&v, "owner", o)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	cutoff := now.Add(-time.Duration(req.GetOlderThanDays()) * 24 * time.Hour)
	names, more, err := s.store.AnonymizeOld(cutoff, req.GetOwner(), maxAnonymize, auth.Caller(ctx), now, req.GetValidateOnly())
	if err != nil {
		return nil, err
	}
	return forCaller(ctx, &requestsv1.AnonymizeBorrowingRequestsResponse{BorrowingRequests: names, More: more}), nil
}

// BatchActBorrowingRequests applies one action to named requests or to those matching a
// filter, in one transaction, with a result per request.
func (s *Service) BatchActBorrowingRequests(ctx context.Context, req *requestsv1.BatchActBorrowingRequestsRequest) (*requestsv1.BatchActBorrowingRequestsResponse, error) {
	var v apierr.Violations
	validate.Enum(&v, "action", req.GetAction(), true)
	checkNote(&v, "note", req.GetNote(), lifecycle.NoteRequired(req.GetAction()))
	targets, filter := req.GetTargets(), req.GetFilter()
	switch {
	case len(targets) > 0 && filter != nil:
		v.Add("filter", "must not be set together with targets")
	case len(targets) == 0 && filter == nil:
		v.Add("targets", "are required, or a filter")
	case len(targets) > maxBatchTargets:
		v.Add("targets", "must be at most %d (got %d); split the batch", maxBatchTargets, len(targets))
	}
	var ts []store.Target
	seen := map[uint64]int{}
	for i, t := range targets[:min(len(targets), maxBatchTargets)] {
		field := fmt.Sprintf("targets[%d].name", i)
		id := nameID(&v, field, t.GetName())
		if j, dup := seen[id]; dup && id != 0 {
			v.Add(field, "repeats targets[%d]: each request at most once", j)
		}
		seen[id] = i
		ts = append(ts, store.Target{ID: id, Etag: t.GetEtag()})
	}
	var f store.Filter
	if filter != nil {
		f = filterOf(&v, "filter.", filterInput{
			status: filter.GetStatus(), owner: filter.GetOwner(), partner: filter.GetPartner(), profile: filter.GetProfile(),
			openOnly: filter.GetOpenOnly(), needsAttention: filter.GetNeedsAttention(), query: filter.GetQuery(),
			updatedAfter: filter.GetUpdatedAfter(), updatedBefore: filter.GetUpdatedBefore(),
		})
		if isEmpty(f) {
			v.Add("filter", "must set at least one field (e.g. open_only): an empty filter would act on the whole ledger")
		}
	} else if req.GetPageToken() != "" || req.GetPageSize() != 0 {
		v.Add("page_token", "and page_size are only for a filter")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	c := store.Command{Action: req.GetAction(), Note: req.GetNote(), Actor: auth.Caller(ctx)}
	now, dry := s.now(), req.GetValidateOnly()
	var results []store.ActResult
	out := &requestsv1.BatchActBorrowingRequestsResponse{}
	var err error
	if filter == nil {
		results, err = s.store.ActBatch(ts, c, now, dry)
	} else {
		key := append(filterKey("batchAct", f), req.GetAction().String(), strconv.FormatBool(dry))
		results, out.NextPageToken, err = paging.List(req.GetPageSize(), req.GetPageToken(), key,
			func(after []byte, limit int) ([]store.ActResult, []byte, error) {
				return s.store.ActFilter(f, after, limit, scanBudget(limit), c, now, dry)
			})
	}
	if err != nil {
		return nil, storeError(err, "")
	}
	for _, r := range results {
		out.Results = append(out.Results, batchResult(ctx, r))
	}
	return forCaller(ctx, out), nil
}

// isEmpty reports whether a batch filter selects everything.
func isEmpty(f store.Filter) bool {
	return f.Status == requestsv1.Status_STATUS_UNSPECIFIED && f.Owner == "" && f.Partner == "" && f.Profile == "" &&
		!f.OpenOnly && !f.NeedsAttention && len(f.Words) == 0 && f.UpdatedAfter.IsZero() && f.UpdatedBefore.IsZero()
}

// batchResult is one request's outcome; its error is the google.rpc.Status the
// single-request method would have answered, made by the same mapping the rpc edge
// applies (code, message, ErrorInfo and, for invalid input, BadRequest).
func batchResult(ctx context.Context, r store.ActResult) *requestsv1.BatchActResult {
	name := store.Name(r.ID)
	out := &requestsv1.BatchActResult{Name: name, Status: r.Request.GetStatus()}
	if r.Err == nil {
		out.Succeeded, out.Etag = true, r.Request.GetEtag()
		return out
	}
	// store.ActBatch admits only per-request domain errors here (anything else fails the
	// whole call), so the mapping never meets an internal error it would log.
	out.Error = status.Convert(rpc.ToStatus(ctx, slog.Default(), storeError(r.Err, name))).Proto()
	return out
}
