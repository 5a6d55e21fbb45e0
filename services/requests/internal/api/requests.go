package api

import (
	"context"
	"strconv"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// A List call examines at most max(minScan, scanPerItem × page size) index entries, so
// no page walks the whole ledger: a filter combination that matches rarely gets a short
// page and a token instead (AIP-158 allows short pages).
const (
	minScan     = 1000
	scanPerItem = 20
)

func scanBudget(limit int) int { return max(minScan, scanPerItem*limit) }

// GetBorrowingRequest returns one borrowing request.
func (s *Service) GetBorrowingRequest(_ context.Context, req *requestsv1.GetBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	id, err := parseName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := s.store.Get(id)
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	return r, nil
}

// ListBorrowingRequests lists requests matching every filter given, most recently updated
// first. The page token is bound to the filters: replayed with others it is refused. A
// request updated while a client pages moves ahead of the token: it is listed at most
// once, and not at all if it moved before its page was read.
func (s *Service) ListBorrowingRequests(_ context.Context, req *requestsv1.ListBorrowingRequestsRequest) (*requestsv1.ListBorrowingRequestsResponse, error) {
	var v apierr.Violations
	validate.Enum(&v, "status", req.GetStatus(), false)
	if o := req.GetOwner(); o != "" {
		validate.Code(&v, "owner", o)
	}
	if p := req.GetPartner(); p != "" {
		validate.CodeName(&v, "partner", p, store.PartnersCollection)
	}
	if p := req.GetProfile(); p != "" {
		validate.CodeName(&v, "profile", p, store.ProfilesCollection)
	}
	if e := req.GetExternalId(); e != "" {
		validate.Token(&v, "external_id", e, store.MaxExternalID)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f := store.Filter{
		Status: req.GetStatus(), Owner: req.GetOwner(), Partner: req.GetPartner(),
		Profile: req.GetProfile(), ExternalID: req.GetExternalId(), OpenOnly: req.GetOpenOnly(),
	}
	filter := []string{store.CollectionID, strconv.Itoa(int(f.Status)), f.Owner, f.Partner, f.Profile, f.ExternalID, strconv.FormatBool(f.OpenOnly)}
	items, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), filter,
		func(after []byte, limit int) ([]*requestsv1.BorrowingRequest, []byte, error) {
			return s.store.List(f, after, limit, scanBudget(limit))
		})
	if err != nil {
		return nil, storeError(err, "")
	}
	return &requestsv1.ListBorrowingRequestsResponse{BorrowingRequests: items, NextPageToken: next}, nil
}

// parseName returns the ID in a `borrowingRequests/{id}` name.
func parseName(field, name string) (uint64, error) {
	id, err := resource.ParseName(field, name, store.CollectionID)
	if err != nil {
		return 0, err
	}
	n, ok := store.ParseID(id)
	if !ok {
		return 0, apierr.Invalid(field, "the ID in %s/{id} must be a positive decimal number without leading zeros", store.CollectionID)
	}
	return n, nil
}
