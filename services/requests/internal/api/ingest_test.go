package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// TestIngestStream sends several batches on one stream before reading: each is answered
// once, in order, item by item.
func TestIngestStream(t *testing.T) {
	f := newFixture(t)
	lm := t0.Add(-time.Hour)
	newer := func(it *requestsv1.IngestItem) {
		it.ExternalReference.LastModifiedTime.Seconds++
		it.ExternalStatus = stSent
	}
	resps, err := f.send(t,
		batch("b1", item("LIB", "A", lm), item("LIB", "B", lm)),
		batch("b2", item("LIB", "A", lm, newer), item("LIB", "C", lm), item("LIB", "B", lm)),
		batch("b3", item("LIB", "D", lm, func(it *requestsv1.IngestItem) { it.Owner = "" }), item("LIB", "D", lm), item("LIB", "D", lm)),
		batch("b4"), // an empty batch is answered too
		batch("b5", item("LIB", "B", lm.Add(-time.Hour))),
	)
	noErr(t, err)
	want := []struct{ id, outcomes string }{
		{"b1", "A:CREATED B:CREATED"},
		{"b2", "A:UPDATED C:CREATED B:UNCHANGED"},
		{"b3", "D:REJECTED D:CREATED D:REJECTED"},
		{"b4", ""},
		{"b5", "B:UNCHANGED"},
	}
	if len(resps) != len(want) {
		t.Fatalf("%d answers, want %d", len(resps), len(want))
	}
	for i, w := range want {
		if resps[i].BatchId != w.id || outcomes(resps[i]) != w.outcomes {
			t.Errorf("answer %d: %s %q, want %s %q", i, resps[i].BatchId, outcomes(resps[i]), w.id, w.outcomes)
		}
	}
	b2, b3 := resps[1].Results, resps[2].Results
	if b2[0].BorrowingRequest != "borrowingRequests/1" || b2[1].BorrowingRequest != "borrowingRequests/3" || b2[2].BorrowingRequest != "borrowingRequests/2" {
		t.Errorf("names in b2: %v", b2)
	}
	if !strings.HasPrefix(b3[0].Reason, "owner:") || !strings.Contains(b3[2].Reason, "duplicate of items[1]") || b3[0].BorrowingRequest != "" {
		t.Errorf("rejections in b3: %v", b3)
	}
	got, err := f.requests.GetBorrowingRequest(t.Context(), &requestsv1.GetBorrowingRequestRequest{Name: "borrowingRequests/1"})
	noErr(t, err)
	if got.Status != stSent {
		t.Errorf("A after its newer version: %v", got.Status)
	}
}

// TestIngestMalformedBatch: a malformed batch ends the stream with INVALID_ARGUMENT and
// applies nothing; the batches answered before it stay applied.
func TestIngestMalformedBatch(t *testing.T) {
	tooMany := make([]*requestsv1.IngestItem, store.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = item("LIB", fmt.Sprint("big-", i), t0)
	}
	for _, tc := range []struct {
		name   string
		batch  *requestsv1.IngestBorrowingRequestsRequest
		fields []string
	}{
		{"too many items", batch("big", tooMany...), []string{"items"}},
		{"no batch id", batch("", item("LIB", "x", t0)), []string{"batch_id"}},
		{"batch id too long", batch(strings.Repeat("b", 129), item("LIB", "x", t0)), []string{"batch_id"}},
		{"run not a run", &requestsv1.IngestBorrowingRequestsRequest{BatchId: "b", Run: "7", Items: []*requestsv1.IngestItem{item("LIB", "x", t0)}}, []string{"run"}},
		{"everything", &requestsv1.IngestBorrowingRequestsRequest{Run: "runs/", Items: tooMany}, []string{"batch_id", "run", "items"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			resps, err := f.send(t, batch("ok", item("LIB", "first", t0)), tc.batch, batch("after", item("LIB", "late", t0)))
			servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
			if len(resps) != 1 || outcomes(resps[0]) != "first:CREATED" {
				t.Errorf("answers before the error: %v", resps)
			}
			list, err := f.requests.ListBorrowingRequests(t.Context(), &requestsv1.ListBorrowingRequestsRequest{PageSize: 1000})
			noErr(t, err)
			if len(list.BorrowingRequests) != 1 {
				t.Errorf("%d requests stored, want only the first batch's", len(list.BorrowingRequests))
			}
		})
	}
}
