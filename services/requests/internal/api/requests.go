package api

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
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

// get reads the request the resource name names, with errors as the API reports them.
func (s *Service) get(name string) (*requestsv1.BorrowingRequest, error) {
	id, err := parseName("name", name)
	if err != nil {
		return nil, err
	}
	r, err := s.store.Get(id)
	if err != nil {
		return nil, storeError(err, name)
	}
	return r, nil
}

// GetBorrowingRequest returns one borrowing request.
func (s *Service) GetBorrowingRequest(ctx context.Context, req *requestsv1.GetBorrowingRequestRequest) (*requestsv1.BorrowingRequest, error) {
	r, err := s.get(req.GetName())
	if err != nil {
		return nil, err
	}
	return forCaller(ctx, r), nil
}

// ListBorrowingRequests lists requests matching every filter given, in the requested
// order. The page token is bound to the filters and order: replayed with others it is
// refused. A request changed while a client pages moves ahead of the token (ordered by
// update time): it is listed at most once, and not at all if it moved before its page
// was read.
func (s *Service) ListBorrowingRequests(ctx context.Context, req *requestsv1.ListBorrowingRequestsRequest) (*requestsv1.ListBorrowingRequestsResponse, error) {
	var v apierr.Violations
	f := filterOf(&v, "", filterInput{
		status: req.GetStatus(), owner: req.GetOwner(), partner: req.GetPartner(), profile: req.GetProfile(),
		externalID: req.GetExternalId(), openOnly: req.GetOpenOnly(), needsAttention: req.GetNeedsAttention(),
		query: req.GetQuery(), createdAfter: req.GetCreatedAfter(), createdBefore: req.GetCreatedBefore(),
		updatedAfter: req.GetUpdatedAfter(), updatedBefore: req.GetUpdatedBefore(),
	})
	f.Order = orderOf(&v, req.GetOrderBy())
	paths := readPaths(&v, req.GetReadMask())
	if err := v.Err(); err != nil {
		return nil, err
	}
	f.Read = topLevel(paths)
	items, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), filterKey(store.CollectionID, f),
		func(after []byte, limit int) ([]*requestsv1.BorrowingRequest, []byte, error) {
			return s.store.List(f, after, limit, scanBudget(limit))
		})
	if err != nil {
		return nil, storeError(err, "")
	}
	if paths != nil {
		return forCallerOwned(ctx, &requestsv1.ListBorrowingRequestsResponse{BorrowingRequests: reduce(items, paths), NextPageToken: next}), nil
	}
	return forCaller(ctx, &requestsv1.ListBorrowingRequestsResponse{BorrowingRequests: items, NextPageToken: next}), nil
}

// filterInput gathers the filter fields that ListBorrowingRequestsRequest and
// BorrowingRequestFilter share, so both are validated by one function.
type filterInput struct {
	status                              requestsv1.Status
	owner, partner, profile, externalID string
	openOnly, needsAttention            bool
	query                               string
	createdAfter, createdBefore         *timestamppb.Timestamp
	updatedAfter, updatedBefore         *timestamppb.Timestamp
}

// filterOf validates in (field paths under prefix, e.g. "filter.") into a store filter.
func filterOf(v *apierr.Violations, prefix string, in filterInput) store.Filter {
	validate.Enum(v, prefix+"status", in.status, false)
	if in.owner != "" {
		validate.Code(v, prefix+"owner", in.owner)
	}
	if in.partner != "" {
		validate.CodeName(v, prefix+"partner", in.partner, store.PartnersCollection)
	}
	if in.profile != "" {
		validate.CodeName(v, prefix+"profile", in.profile, store.ProfilesCollection)
	}
	if in.externalID != "" {
		validate.Token(v, prefix+"external_id", in.externalID, store.MaxExternalID)
	}
	f := store.Filter{
		Status: in.status, Owner: in.owner, Partner: in.partner, Profile: in.profile,
		ExternalID: in.externalID, OpenOnly: in.openOnly, NeedsAttention: in.needsAttention,
	}
	if q := in.query; q != "" {
		before := v.Len()
		validate.Text(v, prefix+"query", q, store.MaxQueryRunes, false)
		if v.Len() == before {
			switch f.Words = store.QueryWords(q); {
			case len(f.Words) == 0:
				v.Add(prefix+"query", "must contain a word (letters or digits)")
			case len(f.Words) > store.MaxQueryWords:
				v.Add(prefix+"query", "must have at most %d words (got %d)", store.MaxQueryWords, len(f.Words))
			}
		}
	}
	f.CreatedAfter, f.CreatedBefore = validate.TimeRange(v, prefix+"created", in.createdAfter, in.createdBefore)
	f.UpdatedAfter, f.UpdatedBefore = validate.TimeRange(v, prefix+"updated", in.updatedAfter, in.updatedBefore)
	return f
}

// orderOf parses an AIP-132 order_by.
func orderOf(v *apierr.Violations, orderBy string) store.Order {
	fields := strings.Fields(orderBy)
	switch {
	case len(fields) == 0:
		return store.UpdatedNewestFirst
	case len(fields) > 2 || (len(fields) == 2 && fields[1] != "desc" && fields[1] != "asc"):
	case fields[0] == "update_time" && len(fields) == 2 && fields[1] == "desc":
		return store.UpdatedNewestFirst
	case fields[0] == "update_time":
		return store.UpdatedOldestFirst
	case fields[0] == "create_time" && len(fields) == 2 && fields[1] == "desc":
		return store.CreatedNewestFirst
	case fields[0] == "create_time":
		return store.CreatedOldestFirst
	}
	if utf8.RuneCountInString(orderBy) > 100 {
		orderBy = apierr.Truncate(orderBy)
	}
	v.Add("order_by", "must be one of `update_time desc` (the default), `update_time`, `create_time desc`, `create_time` (got %q)", orderBy)
	return store.UpdatedNewestFirst
}

// filterKey lists every filter value, so a page token cannot be replayed with others.
func filterKey(scope string, f store.Filter) []string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	return []string{scope, strconv.Itoa(int(f.Status)), f.Owner, f.Partner, f.Profile, f.ExternalID,
		strconv.FormatBool(f.OpenOnly), strconv.FormatBool(f.NeedsAttention), strings.Join(f.Words, " "),
		ts(f.CreatedAfter), ts(f.CreatedBefore), ts(f.UpdatedAfter), ts(f.UpdatedBefore), strconv.Itoa(int(f.Order))}
}

// CountBorrowingRequests answers the dashboard from the counters the store keeps.
func (s *Service) CountBorrowingRequests(ctx context.Context, req *requestsv1.CountBorrowingRequestsRequest) (*requestsv1.CountBorrowingRequestsResponse, error) {
	if o := req.GetOwner(); o != "" {
		var v apierr.Violations
		validate.Code(&v, "owner", o)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	c, err := s.store.Count(req.GetOwner())
	if err != nil {
		return nil, err
	}
	out := &requestsv1.CountBorrowingRequestsResponse{Total: int64(c.Total), Open: int64(c.Open), NeedsAttention: int64(c.NeedsAttention)}
	for _, st := range lifecycle.Statuses() {
		out.StatusCounts = append(out.StatusCounts, &requestsv1.StatusCount{Status: st, Count: int64(c.ByStatus[st])})
	}
	return forCaller(ctx, out), nil
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

// nameID is parseName adding its violation to v, so one response lists every problem.
func nameID(v *apierr.Violations, field, name string) uint64 {
	id, err := parseName(field, name)
	if e, ok := apierr.As(err); ok {
		for _, fv := range e.Violations {
			v.Add(fv.Field, "%s", fv.Description)
		}
	}
	return id
}
