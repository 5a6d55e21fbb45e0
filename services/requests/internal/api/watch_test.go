package api_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// watcher reads a watch stream in the background.
type watcher struct {
	cancel context.CancelFunc
	got    chan *requestsv1.WatchBorrowingRequestsResponse
	done   chan error
}

func (f fixture) watch(t *testing.T, req *requestsv1.WatchBorrowingRequestsRequest) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := f.requests.WatchBorrowingRequests(ctx, req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &watcher{cancel: cancel, got: make(chan *requestsv1.WatchBorrowingRequestsResponse, 10000), done: make(chan error, 1)}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				w.done <- err
				return
			}
			w.got <- resp
		}
	}()
	t.Cleanup(cancel)
	return w
}

// next returns the next response, failing after a generous wait (a missing change is a
// bug, not a slow machine).
func (w *watcher) next(t *testing.T) *requestsv1.WatchBorrowingRequestsResponse {
	t.Helper()
	select {
	case r := <-w.got:
		return r
	case err := <-w.done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no change arrived")
	}
	return nil
}

// quiet requires that nothing arrives for a moment.
func (w *watcher) quiet(t *testing.T) {
	t.Helper()
	select {
	case r := <-w.got:
		t.Fatalf("unexpected %v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

// seq is the change number in a response's position ("" for an unparsable one, so a
// comparison fails).
func seq(r *requestsv1.WatchBorrowingRequestsResponse) string {
	p, err := store.ParsePosition(r.Position)
	if err != nil {
		return ""
	}
	return strconv.FormatUint(p.Seq, 10)
}

// TestWatchReconnectMissesNothing: while writers make changes concurrently (ingest
// batches, actions, notes), a client watches from the start, drops its stream at
// arbitrary points and reconnects with the last position it received. Together its
// streams deliver every change exactly once, in order, each with its own event.
func TestWatchReconnectMissesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const writers, perWriter = 4, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				ext := fmt.Sprintf("w%d-%d", w, i)
				resps, err := f.send(t, batch(ext, item("LIB", ext, t0.Add(-time.Hour)), item("LIB", ext+"b", t0.Add(-time.Hour))))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := f.requests.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{
					Name: resps[0].Results[0].BorrowingRequest, Note: ext}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	const total = writers * perWriter * 3
	var got []*requestsv1.WatchBorrowingRequestsResponse
	last := "0"
	for reconnects := 0; len(got) < total; reconnects++ {
		if reconnects > 100 {
			t.Fatalf("no progress: %d of %d changes", len(got), total)
		}
		w := f.watch(t, &requestsv1.WatchBorrowingRequestsRequest{StartAfter: last})
		// Take a few, then drop the connection mid-stream.
		for range 1 + reconnects%17 {
			if len(got) == total {
				break
			}
			r := w.next(t)
			if r.Bookmark {
				continue
			}
			got, last = append(got, r), r.Position
		}
		w.cancel()
	}
	wg.Wait()
	for i, r := range got {
		if seq(r) != fmt.Sprint(i+1) {
			t.Fatalf("change %d has position %s: a change was missed or repeated", i, r.Position)
		}
		if r.Event.GetName() != r.BorrowingRequest.GetName()+"/events/"+seq(r) {
			t.Fatalf("change %s: event %s for %s", r.Position, r.Event.GetName(), r.BorrowingRequest.GetName())
		}
	}
	if p, _ := f.store.Position(); p.Seq != total || p.String() != last {
		t.Errorf("ledger position %v, want %d (%s)", p, total, last)
	}
	// Nothing more comes.
	w := f.watch(t, &requestsv1.WatchBorrowingRequestsRequest{StartAfter: last})
	w.quiet(t)
}

// TestWatchFromNow: without start_after, a stream starts with a bookmark of the latest
// position and then delivers only new changes, live.
func TestWatchFromNow(t *testing.T) {
	f := newFixture(t)
	f.seedOne(t, "1", stSent)
	f.seedOne(t, "2", stSent)
	w := f.watch(t, &requestsv1.WatchBorrowingRequestsRequest{})
	if b := w.next(t); !b.Bookmark || seq(b) != "2" || b.BorrowingRequest != nil || b.Event != nil {
		t.Fatalf("first response %v, want a bookmark at 2", b)
	}
	w.quiet(t)
	_, err := f.requests.RejectBorrowingRequest(t.Context(), &requestsv1.RejectBorrowingRequestRequest{Name: "borrowingRequests/1", Note: "no"})
	noErr(t, err)
	r := w.next(t)
	if seq(r) != "3" || r.Bookmark || r.Event.Action != "reject" || r.Event.Note != "no" || r.BorrowingRequest.Status != stRejected {
		t.Errorf("live change %v", r)
	}
}

// TestWatchFilters: owner and status filters match the state before or after a change;
// a filtered stream bookmarks the changes it skipped once caught up, so a reconnect
// resumes past them.
func TestWatchFilters(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.seedOne(t, "1", stSent)                                                                                                  // 1 GUB sent
	f.seedOne(t, "2", stSent, func(it *requestsv1.IngestItem) { it.Owner = "KB" })                                             // 2 KB sent
	f.seedOne(t, "3", stCreated)                                                                                               // 3 GUB created
	_, err := f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: "borrowingRequests/1"}) // 4 GUB sent → received
	noErr(t, err)
	_, err = f.send(t, batch("m", item("LIB", "3", t0, func(it *requestsv1.IngestItem) { it.Owner = "KB" }))) // 5 GUB → KB, created
	noErr(t, err)

	collect := func(req *requestsv1.WatchBorrowingRequestsRequest) string {
		t.Helper()
		req.StartAfter = "0"
		w := f.watch(t, req)
		var out string
		for {
			r := w.next(t)
			if r.Bookmark {
				out += "b" + seq(r)
			} else {
				out += seq(r)
			}
			if seq(r) == "5" {
				w.quiet(t)
				return out
			}
			out += " "
		}
	}
	for _, tc := range []struct {
		req  *requestsv1.WatchBorrowingRequestsRequest
		want string
	}{
		{&requestsv1.WatchBorrowingRequestsRequest{}, "1 2 3 4 5"},
		{&requestsv1.WatchBorrowingRequestsRequest{Owner: "KB"}, "2 5"},
		{&requestsv1.WatchBorrowingRequestsRequest{Owner: "GUB"}, "1 3 4 5"}, // 5 moved it away from GUB
		{&requestsv1.WatchBorrowingRequestsRequest{Status: stSent}, "1 2 4 b5"},
		{&requestsv1.WatchBorrowingRequestsRequest{Status: stRecPhys}, "4 b5"},
		{&requestsv1.WatchBorrowingRequestsRequest{Status: stRecPhys, Owner: "KB"}, "b5"},
	} {
		if got := collect(tc.req); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.req, got, tc.want)
		}
	}
}

func TestWatchErrors(t *testing.T) {
	f := newFixture(t, store.Options{ChangeRetention: time.Minute})
	var positions []string // of changes 1-5, from a stream that replays them
	for i := range 5 {
		f.seedOne(t, fmt.Sprint(i), stSent) // a second apart by the fixture's clock
	}
	w := f.watch(t, &requestsv1.WatchBorrowingRequestsRequest{StartAfter: "0"})
	for range 5 {
		positions = append(positions, w.next(t).Position)
	}
	w.cancel()
	f.clock.advance(time.Hour)
	f.seedOne(t, "x", stSent) // 6: prunes 1 and 2
	recv := func(req *requestsv1.WatchBorrowingRequestsRequest) (*requestsv1.WatchBorrowingRequestsResponse, error) {
		stream, err := f.requests.WatchBorrowingRequests(t.Context(), req)
		if err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	// Change 2 was pruned: resuming after it cannot be checked.
	_, err := recv(&requestsv1.WatchBorrowingRequestsRequest{StartAfter: positions[1]})
	servertest.RequireError(t, err, codes.FailedPrecondition, "CHANGE_POSITION_EXPIRED")
	if md := errorInfo(t, err).Metadata; md["oldest_change"] != "3" || md["start_after"] != positions[1] {
		t.Errorf("metadata %v", md)
	}
	if r, err := recv(&requestsv1.WatchBorrowingRequestsRequest{StartAfter: positions[2]}); err != nil || seq(r) != "4" {
		t.Errorf("the oldest kept position still resumes: %v %v", r, err)
	}
	// "0" replays what is retained, from the oldest kept change, though 1 and 2 are gone.
	if r, err := recv(&requestsv1.WatchBorrowingRequestsRequest{StartAfter: "0"}); err != nil || seq(r) != "3" {
		t.Errorf("start_after 0 after pruning: %v %v", r, err)
	}
	p5, err := store.ParsePosition(positions[4])
	noErr(t, err)
	ahead := store.Position{Database: p5.Database, Seq: 7, Check: 1}
	_, err = recv(&requestsv1.WatchBorrowingRequestsRequest{StartAfter: ahead.String()})
	servertest.RequireError(t, err, codes.FailedPrecondition, "CHANGE_POSITION_AHEAD")
	// Another database's position, a position whose change differs (as after a restore
	// from a backup) and a bare number from before positions named their database are
	// refused alike, naming this database.
	for _, sa := range []string{
		store.Position{Database: p5.Database + 1, Seq: 5, Check: p5.Check}.String(),
		store.Position{Database: p5.Database, Seq: 5, Check: p5.Check + 1}.String(),
		"5",
	} {
		_, err = recv(&requestsv1.WatchBorrowingRequestsRequest{StartAfter: sa})
		servertest.RequireError(t, err, codes.FailedPrecondition, "CHANGE_POSITION_OTHER_DATABASE")
		if md := errorInfo(t, err).Metadata; md["database_id"] != f.store.DatabaseID() || md["start_after"] != sa {
			t.Errorf("%s: metadata %v", sa, md)
		}
	}
	for _, tc := range []struct {
		req    *requestsv1.WatchBorrowingRequestsRequest
		fields []string
	}{
		{&requestsv1.WatchBorrowingRequestsRequest{StartAfter: "-1"}, []string{"start_after"}},
		{&requestsv1.WatchBorrowingRequestsRequest{StartAfter: positions[0] + "0"}, []string{"start_after"}},
		{&requestsv1.WatchBorrowingRequestsRequest{StartAfter: "x", Owner: "a b", Status: 40}, []string{"start_after", "owner", "status"}},
	} {
		_, err := recv(tc.req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
	}
}

// TestWatchShutdown: closing the service ends open streams with UNAVAILABLE and the
// position to resume after.
func TestWatchShutdown(t *testing.T) {
	f := newFixture(t)
	f.seedOne(t, "1", stSent)
	w := f.watch(t, &requestsv1.WatchBorrowingRequestsRequest{StartAfter: "0"})
	r := w.next(t)
	if seq(r) != "1" {
		t.Fatalf("first %v", r)
	}
	f.svc.Close()
	select {
	case err := <-w.done:
		servertest.RequireError(t, err, codes.Unavailable, "SHUTTING_DOWN")
		if msg := status.Convert(err).Message(); msg != "the ledger is shutting down; reconnect and resume with start_after="+r.Position {
			t.Errorf("message %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived Close")
	}
}
