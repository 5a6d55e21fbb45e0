package api_test

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/api"
	"github.com/interloan/interloan/services/requests/internal/store"
)

const (
	invalidArgument = "INVALID_ARGUMENT"

	stCreated   = requestsv1.Status_STATUS_CREATED
	stSent      = requestsv1.Status_STATUS_REQUEST_SENT
	stShipped   = requestsv1.Status_STATUS_SHIPPED_PHYSICALLY
	stCompleted = requestsv1.Status_STATUS_COMPLETED
	stCancelled = requestsv1.Status_STATUS_CANCELLED_BY_STAFF
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type fixture struct {
	requests requestsv1.RequestServiceClient
	ingest   requestsv1.IngestServiceClient
	store    *store.Store
	svc      *api.Service
	conn     *grpc.ClientConn
	clock    *fakeClock
}

// newFixture serves a fresh ledger over bufconn, with the production interceptors, a real
// bbolt file and a clock that moves one second per reading, so every batch has its own
// update time.
func newFixture(t testing.TB, o ...store.Options) fixture {
	t.Helper()
	var opts store.Options
	if len(o) > 0 {
		opts = o[0]
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "requests.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // registered first, so it runs after the server stops
	clk := &fakeClock{t: t0}
	svc := api.New(st, clk.now)
	conn := servertest.Dial(t, func(s *grpc.Server) {
		requestsv1.RegisterRequestServiceServer(s, svc)
		requestsv1.RegisterIngestServiceServer(s, svc)
	})
	return fixture{requests: requestsv1.NewRequestServiceClient(conn), ingest: requestsv1.NewIngestServiceClient(conn), store: st, svc: svc, conn: conn, clock: clk}
}

// fakeClock moves one second per reading; advance jumps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// item is a valid item of integrationProfiles/{profile}, changed by mods.
func item(profile, ext string, lm time.Time, mods ...func(*requestsv1.IngestItem)) *requestsv1.IngestItem {
	it := &requestsv1.IngestItem{
		ExternalReference: &requestsv1.ExternalReference{
			System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, Profile: "integrationProfiles/" + profile,
			ExternalId: ext, StatusRaw: "Beställd", LastModifiedTime: timestamppb.New(lm),
		},
		ExternalStatus: stCreated,
		Owner:          "GUB",
		Partner:        "partners/A",
		Bibliographic:  &requestsv1.Bibliographic{Title: "Röda rummet"},
		Requester:      &requestsv1.Requester{PatronId: "P1", Name: "Ada"},
	}
	for _, m := range mods {
		m(it)
	}
	return it
}

// send runs one stream: it sends every batch before reading any answer (as a pipelining
// harvester would), then returns the answers and the error that ended the stream (nil
// for a clean end).
func (f fixture) send(t testing.TB, batches ...*requestsv1.IngestBorrowingRequestsRequest) ([]*requestsv1.IngestBorrowingRequestsResponse, error) {
	t.Helper()
	stream, err := f.ingest.IngestBorrowingRequests(t.Context())
	noErr(t, err)
	for _, b := range batches {
		if err := stream.Send(b); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	noErr(t, stream.CloseSend())
	var out []*requestsv1.IngestBorrowingRequestsResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, resp)
	}
}

// ingest applies items as batches of one (each with its own update time), in order.
func (f fixture) ingestEach(t *testing.T, items ...*requestsv1.IngestItem) {
	t.Helper()
	var batches []*requestsv1.IngestBorrowingRequestsRequest
	for i, it := range items {
		batches = append(batches, batch(fmt.Sprint(i), it))
	}
	resps, err := f.send(t, batches...)
	noErr(t, err)
	for _, r := range resps {
		if o := r.Results[0].Outcome; o == requestsv1.IngestOutcome_INGEST_OUTCOME_REJECTED {
			t.Fatalf("batch %s rejected: %v", r.BatchId, r.Results[0])
		}
	}
}

func batch(id string, items ...*requestsv1.IngestItem) *requestsv1.IngestBorrowingRequestsRequest {
	return &requestsv1.IngestBorrowingRequestsRequest{BatchId: id, Run: "runs/7", Items: items}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGetBorrowingRequest(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	in := item("LIB", "42", t0.Add(-time.Hour))
	f.ingestEach(t, in)

	got, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: "borrowingRequests/1"})
	noErr(t, err)
	if got.Name != "borrowingRequests/1" || got.Status != stCreated || !proto.Equal(got.ExternalReference, in.ExternalReference) ||
		!got.CreateTime.AsTime().Equal(t0.Add(time.Second)) || got.Etag == "" {
		t.Errorf("got %v", got)
	}

	_, err = f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: "borrowingRequests/2"})
	servertest.RequireError(t, err, codes.NotFound, "BORROWING_REQUEST_NOT_FOUND")
	for _, name := range []string{"", "borrowingRequests/", "borrowingRequests/0", "borrowingRequests/01", "borrowingRequests/-1",
		"borrowingRequests/x", "borrowingRequests/1/events/1", "partners/1", "1", "borrowingRequests/18446744073709551616"} {
		_, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "name")
	}
}

// TestStorageFailureIsUnavailable closes the bbolt file under the running service:
// callers get UNAVAILABLE, not INTERNAL or a crash.
func TestStorageFailureIsUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.ingestEach(t, item("LIB", "1", t0))
	noErr(t, f.store.Close())
	_, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: "borrowingRequests/1"})
	servertest.RequireError(t, err, codes.Unavailable, "STORAGE_UNAVAILABLE")
	_, err = f.requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{})
	servertest.RequireError(t, err, codes.Unavailable, "STORAGE_UNAVAILABLE")
	resps, err := f.send(t, batch("b", item("LIB", "2", t0)))
	servertest.RequireError(t, err, codes.Unavailable, "STORAGE_UNAVAILABLE")
	if len(resps) != 0 {
		t.Errorf("answers after a storage failure: %v", resps)
	}
}

func outcomes(r *requestsv1.IngestBorrowingRequestsResponse) string {
	var out []string
	for _, res := range r.GetResults() {
		out = append(out, res.GetExternalId()+":"+strings.TrimPrefix(res.GetOutcome().String(), "INGEST_OUTCOME_"))
	}
	return strings.Join(out, " ")
}
