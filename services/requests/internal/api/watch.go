package api

import (
	"context"
	"strconv"

	"google.golang.org/grpc"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// watchScan is how many change-log entries a watch examines per read transaction: reads
// stay short however far behind a client resumes.
const watchScan = 500

// ListRequestEvents lists a request's audit trail, oldest first.
func (s *Service) ListRequestEvents(ctx context.Context, req *requestsv1.ListRequestEventsRequest) (*requestsv1.ListRequestEventsResponse, error) {
	id, err := parseName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	events, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{store.CollectionID, store.EventsCollection, req.GetParent()},
		func(after []byte, limit int) ([]*requestsv1.RequestEvent, []byte, error) {
			return s.store.Events(id, after, limit)
		})
	if err != nil {
		return nil, storeError(err, req.GetParent())
	}
	return forCaller(ctx, &requestsv1.ListRequestEventsResponse{RequestEvents: events, NextPageToken: next}), nil
}

// WatchBorrowingRequests streams the change log: first what follows start_after (read
// from the log in short transactions), then live changes as they commit (woken by the
// store, read from the log again, so live and replayed changes take one path and none
// is missed or repeated). A stream without start_after begins with a bookmark of the
// latest position; a stream that skipped changes its filter did not match sends a
// bookmark once it has caught up, so a client always resumes near where it stopped.
// start_after "0" replays everything the log still holds.
func (s *Service) WatchBorrowingRequests(req *requestsv1.WatchBorrowingRequestsRequest, stream grpc.ServerStreamingServer[requestsv1.WatchBorrowingRequestsResponse]) error {
	var v apierr.Violations
	var pos store.Position // zero: before the oldest retained change
	legacy := false
	if sa := req.GetStartAfter(); sa != "" && sa != "0" {
		p, err := store.ParsePosition(sa)
		switch {
		case err == nil:
			pos = p
		case isDecimal(sa):
			legacy = true
		default:
			v.Add("start_after", "must be a position from a previous response, \"0\" to replay every retained change, or empty to start from now")
		}
	}
	if o := req.GetOwner(); o != "" {
		validate.Code(&v, "owner", o)
	}
	validate.Enum(&v, "status", req.GetStatus(), false)
	if err := v.Err(); err != nil {
		return err
	}
	if legacy {
		// A bare number is a position from before positions named their database: it
		// cannot be checked against this database, so resuming there is refused like any
		// foreign position, with the same way out.
		return storeError(&store.PositionForeignError{Position: req.GetStartAfter(), Database: s.store.DatabaseID()}, "")
	}
	ctx := stream.Context()
	// send is the stream's only way out, so every change goes through forCaller.
	send := func(r *requestsv1.WatchBorrowingRequestsResponse) error { return stream.Send(forCaller(ctx, r)) }
	bookmark := func(p store.Position) error {
		return send(&requestsv1.WatchBorrowingRequestsResponse{Position: p.String(), Bookmark: true})
	}
	if req.GetStartAfter() == "" {
		var err error
		if pos, err = s.store.Position(); err != nil {
			return err
		}
		if err := bookmark(pos); err != nil {
			return err
		}
	}
	match := func(c store.ChangeInfo) bool {
		owner, status := req.GetOwner(), req.GetStatus()
		return (owner == "" || c.OwnerBefore == owner || c.OwnerAfter == owner) &&
			(status == requestsv1.Status_STATUS_UNSPECIFIED || c.From == status || c.To == status)
	}
	known := pos // the latest position the client has been told
	for {
		wake := s.store.Changed() // before reading, so a change committed after the read wakes us
		changes, last, examined, err := s.store.ReadChanges(pos, watchScan, match)
		if err != nil {
			return storeError(err, "")
		}
		for _, c := range changes {
			err := send(&requestsv1.WatchBorrowingRequestsResponse{
				Position: c.Position.String(), BorrowingRequest: c.Request, Event: c.Event})
			if err != nil {
				return err
			}
			known = c.Position
		}
		pos = last
		if examined == watchScan {
			continue // not caught up yet
		}
		if pos.Seq > known.Seq {
			if err := bookmark(pos); err != nil {
				return err
			}
			known = pos
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			resume := known.String()
			if known == (store.Position{}) {
				resume = "0" // nothing sent yet: a stream from "0" resumes from "0"
			}
			return apierr.Unavailable(reasonShuttingDown, "the ledger is shutting down; reconnect and resume with start_after=%s", resume)
		}
	}
}

// isDecimal reports whether s is a plain decimal number.
func isDecimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
