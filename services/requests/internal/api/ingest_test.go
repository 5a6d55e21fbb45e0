package api_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
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

// TestIngestDataWarnings: over gRPC, a 10 000-character and a 100 000-character patron
// message are both imported, the first whole, the second cut with the marker and a
// warning that the result and the stored request both carry; an item whose identity is
// unusable is still rejected. The same batch again is UNCHANGED with the same warnings
// and adds no request and no event.
func TestIngestDataWarnings(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tenK, hundredK := strings.Repeat("ä", 10000), strings.Repeat("ö", 100000)
	b := batch("b",
		item("LIB", "10k", t0, func(it *requestsv1.IngestItem) { it.Note = tenK }),
		item("LIB", "100k", t0, func(it *requestsv1.IngestItem) {
			it.Note = hundredK
			it.Warnings = []*typev1.DataWarning{{Field: "bibliographic.year", Code: "UNPARSABLE_DATE", Message: "not a year"}}
		}),
		item("LIB", "no profile", t0, func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "" }),
	)
	var first []*requestsv1.IngestResult
	for round := range 2 {
		resps, err := f.send(t, b)
		noErr(t, err)
		res := resps[0].Results
		want := "10k:CREATED 100k:CREATED no profile:REJECTED"
		if round == 1 {
			want = "10k:UNCHANGED 100k:UNCHANGED no profile:REJECTED"
		}
		if got := outcomes(resps[0]); got != want {
			t.Fatalf("round %d: %s, want %s", round, got, want)
		}
		if len(res[0].Warnings) != 0 || len(res[1].Warnings) != 2 || res[1].Warnings[0].Code != "UNPARSABLE_DATE" ||
			res[1].Warnings[1].Field != "note" || res[1].Warnings[1].Code != "TEXT_TRUNCATED" || !strings.Contains(res[1].Warnings[1].Message, "100000") {
			t.Fatalf("round %d: warnings %v / %v", round, res[0].Warnings, res[1].Warnings)
		}
		if !strings.HasPrefix(res[2].Reason, "external_reference.profile") || res[2].BorrowingRequest != "" {
			t.Errorf("round %d: rejection %v", round, res[2])
		}
		if round == 0 {
			first = res
		} else if !proto.Equal(resps[0], &requestsv1.IngestBorrowingRequestsResponse{BatchId: "b", Results: []*requestsv1.IngestResult{
			{ExternalId: "10k", Outcome: requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED, BorrowingRequest: first[0].BorrowingRequest},
			{ExternalId: "100k", Outcome: requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED, BorrowingRequest: first[1].BorrowingRequest, Warnings: first[1].Warnings},
			first[2],
		}}) {
			t.Errorf("the second import answered %v", resps[0])
		}
	}

	whole, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: first[0].BorrowingRequest})
	noErr(t, err)
	if whole.Note != tenK || len(whole.DataWarnings) != 0 {
		t.Errorf("10k: note of %d characters, warnings %v", len([]rune(whole.Note)), whole.DataWarnings)
	}
	cut, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: first[1].BorrowingRequest})
	noErr(t, err)
	m := regexp.MustCompile(`(?s)^(.*)… \[truncated: (\d+) more characters\]$`).FindStringSubmatch(cut.Note)
	if n := len([]rune(cut.Note)); m == nil || n > store.MaxText {
		t.Fatalf("100k: note of %d characters ending %q", n, cut.Note[len(cut.Note)-50:])
	}
	if kept, more := len([]rune(m[1])), m[2]; !strings.HasPrefix(hundredK, m[1]) || fmt.Sprint(100000-kept) != more {
		t.Errorf("100k: kept %d characters and says %s more", kept, more)
	}
	if len(cut.DataWarnings) != 2 || !proto.Equal(cut.DataWarnings[1], first[1].Warnings[1]) {
		t.Errorf("100k: stored warnings %v", cut.DataWarnings)
	}
	list, err := f.requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{})
	noErr(t, err)
	if len(list.BorrowingRequests) != 2 {
		t.Errorf("%d requests after two imports, want 2", len(list.BorrowingRequests))
	}
	for _, name := range []string{whole.Name, cut.Name} {
		evs, err := f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: name})
		noErr(t, err)
		if len(evs.RequestEvents) != 1 {
			t.Errorf("%s: %d events after two imports, want 1", name, len(evs.RequestEvents))
		}
	}
}
