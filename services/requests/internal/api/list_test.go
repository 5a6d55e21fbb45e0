package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/server/servertest"
)

// key names a request in expectations: profile code and external id, e.g. "P1:7".
func key(r *requestsv1.BorrowingRequest) string {
	ref := r.GetExternalReference()
	return strings.TrimPrefix(ref.GetProfile(), "integrationProfiles/") + ":" + ref.GetExternalId()
}

// listFixture stores eight requests, each created a second after the previous, then
// updates P2:3, so the newest-update-first order is:
//
//	P2:3 (SENT KB A), P2:1 (CREATED GUB B), P1:7 (CANCELLED KB A), P2:6 (SENT GUB A),
//	P1:5 (SHIPPED KB B), P2:4 (COMPLETED GUB -), P1:2 (SENT GUB B), P1:1 (CREATED GUB A)
func listFixture(t *testing.T) fixture {
	f := newFixture(t)
	spec := func(profile, ext string, status requestsv1.Status, owner, partner string) *requestsv1.IngestItem {
		return item(profile, ext, t0, func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Owner, it.Partner = status, owner, partner
		})
	}
	p23 := spec("P2", "3", stCreated, "KB", "partners/A")
	f.ingestEach(t,
		spec("P1", "1", stCreated, "GUB", "partners/A"),
		spec("P1", "2", stSent, "GUB", "partners/B"),
		p23,
		spec("P2", "4", stCompleted, "GUB", ""),
		spec("P1", "5", stShipped, "KB", "partners/B"),
		spec("P2", "6", stSent, "GUB", "partners/A"),
		spec("P1", "7", stCancelled, "KB", "partners/A"),
		spec("P2", "1", stCreated, "GUB", "partners/B"),
	)
	p23 = proto.CloneOf(p23)
	p23.ExternalStatus = stSent
	p23.ExternalReference.LastModifiedTime.Seconds++
	f.ingestEach(t, p23)
	return f
}

// listAll pages through req with its page size and returns the keys in order, checking
// that no page exceeds the size and, in the default order, that update times never
// increase.
func (f fixture) listAll(t *testing.T, req *requestsv1.ListBorrowingRequestsRequest) []string {
	t.Helper()
	req = proto.CloneOf(req)
	var keys []string
	var prev *requestsv1.BorrowingRequest
	for calls := 0; ; calls++ {
		resp, err := f.requests.ListBorrowingRequests(t.Context(), req)
		noErr(t, err)
		if n := len(resp.BorrowingRequests); n > int(max(req.PageSize, 1)) && req.PageSize != 0 {
			t.Fatalf("page of %d, page_size %d", n, req.PageSize)
		}
		for _, r := range resp.BorrowingRequests {
			if prev != nil && req.OrderBy == "" && r.UpdateTime.AsTime().After(prev.UpdateTime.AsTime()) {
				t.Errorf("%s (updated %v) listed after %s (updated %v)", key(r), r.UpdateTime.AsTime(), key(prev), prev.UpdateTime.AsTime())
			}
			keys, prev = append(keys, key(r)), r
		}
		if req.PageToken = resp.NextPageToken; req.PageToken == "" {
			return keys
		}
		if calls > 10000 {
			t.Fatal("listing does not end")
		}
	}
}

func TestListFilters(t *testing.T) {
	f := listFixture(t)
	for _, tc := range []struct {
		req  *requestsv1.ListBorrowingRequestsRequest
		want string
	}{
		{&requestsv1.ListBorrowingRequestsRequest{}, "P2:3 P2:1 P1:7 P2:6 P1:5 P2:4 P1:2 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Status: stSent}, "P2:3 P2:6 P1:2"},
		{&requestsv1.ListBorrowingRequestsRequest{Status: stCreated}, "P2:1 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "GUB"}, "P2:1 P2:6 P2:4 P1:2 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "KB"}, "P2:3 P1:7 P1:5"},
		{&requestsv1.ListBorrowingRequestsRequest{Partner: "partners/A"}, "P2:3 P1:7 P2:6 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Partner: "partners/B"}, "P2:1 P1:5 P1:2"},
		{&requestsv1.ListBorrowingRequestsRequest{Profile: "integrationProfiles/P1"}, "P1:7 P1:5 P1:2 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Profile: "integrationProfiles/P2"}, "P2:3 P2:1 P2:6 P2:4"},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "1"}, "P2:1 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{OpenOnly: true}, "P2:3 P2:1 P2:6 P1:5 P1:2 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "1", Profile: "integrationProfiles/P1"}, "P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "1", Profile: "integrationProfiles/P1", Owner: "KB"}, ""},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "1", OpenOnly: true, Partner: "partners/B"}, "P2:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "GUB", Partner: "partners/A"}, "P2:6 P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "KB", OpenOnly: true}, "P2:3 P1:5"},
		{&requestsv1.ListBorrowingRequestsRequest{Status: stSent, Owner: "GUB", Profile: "integrationProfiles/P2"}, "P2:6"},
		{&requestsv1.ListBorrowingRequestsRequest{Profile: "integrationProfiles/P1", Partner: "partners/A", OpenOnly: true}, "P1:1"},
		{&requestsv1.ListBorrowingRequestsRequest{Status: stCompleted, OpenOnly: true}, ""},
		{&requestsv1.ListBorrowingRequestsRequest{Status: stCompleted}, "P2:4"},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "NONE"}, ""},
		{&requestsv1.ListBorrowingRequestsRequest{Partner: "partners/Z"}, ""},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "99"}, ""},
	} {
		// Every page size returns every request exactly once, in the same order.
		for size := int32(0); size <= 9; size++ {
			req := proto.CloneOf(tc.req)
			req.PageSize = size
			if got := strings.Join(f.listAll(t, req), " "); got != tc.want {
				t.Errorf("%v page_size %d: got %q, want %q", tc.req, size, got, tc.want)
			}
		}
	}
}

func TestListTokens(t *testing.T) {
	f := listFixture(t)
	ctx := t.Context()
	first, err := f.requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Owner: "GUB", PageSize: 2})
	noErr(t, err)
	if first.NextPageToken == "" {
		t.Fatal("no token")
	}
	for _, req := range []*requestsv1.ListBorrowingRequestsRequest{
		{Owner: "KB", PageToken: first.NextPageToken},
		{PageToken: first.NextPageToken},
		{Owner: "GUB", OpenOnly: true, PageToken: first.NextPageToken},
		{Owner: "GUB", Status: stSent, PageToken: first.NextPageToken},
		{Owner: "GUB", PageToken: "garbage"},
		{Owner: "GUB", PageToken: first.NextPageToken + "x"},
	} {
		_, err := f.requests.ListBorrowingRequests(ctx, req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "page_token")
	}
	// The same filters continue, with any page size.
	next, err := f.requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Owner: "GUB", PageSize: 10, PageToken: first.NextPageToken})
	noErr(t, err)
	var keys []string
	for _, r := range next.BorrowingRequests {
		keys = append(keys, key(r))
	}
	if strings.Join(keys, " ") != "P2:4 P1:2 P1:1" || next.NextPageToken != "" {
		t.Errorf("second page: %v, token %q", keys, next.NextPageToken)
	}
}

func TestListInvalidFilters(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		req    *requestsv1.ListBorrowingRequestsRequest
		fields []string
	}{
		{&requestsv1.ListBorrowingRequestsRequest{Status: 99}, []string{"status"}},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "G UB"}, []string{"owner"}},
		{&requestsv1.ListBorrowingRequestsRequest{Partner: "ABC"}, []string{"partner"}},
		{&requestsv1.ListBorrowingRequestsRequest{Partner: "partners/A/B"}, []string{"partner"}},
		{&requestsv1.ListBorrowingRequestsRequest{Profile: "LIB"}, []string{"profile"}},
		{&requestsv1.ListBorrowingRequestsRequest{Profile: "integrationProfiles/"}, []string{"profile"}},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: "1 2"}, []string{"external_id"}},
		{&requestsv1.ListBorrowingRequestsRequest{ExternalId: strings.Repeat("1", 257)}, []string{"external_id"}},
		{&requestsv1.ListBorrowingRequestsRequest{PageSize: -1}, []string{"page_size"}},
		{&requestsv1.ListBorrowingRequestsRequest{Owner: "\x00", Partner: "x", Profile: "y"}, []string{"owner", "partner", "profile"}},
	} {
		_, err := f.requests.ListBorrowingRequests(t.Context(), tc.req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
	}
}

// TestListScanCap hides two matches behind 1100 requests that the walked index holds but
// the other filter rejects. With page_size 1 a call examines at most 1000 entries, so the
// first page comes back empty with a token, and paging still finds both matches; a page
// size of 100 raises the budget to 2000 entries, enough for one page.
func TestListScanCap(t *testing.T) {
	f := newFixture(t)
	var items []*requestsv1.IngestItem
	add := func(n int, owner string, status requestsv1.Status) {
		for range n {
			items = append(items, item("LIB", fmt.Sprint(len(items)), t0, func(it *requestsv1.IngestItem) {
				it.Owner, it.ExternalStatus = owner, status
			}))
		}
	}
	add(2, "GUB", stSent) // the matches, oldest
	add(1100, "GUB", stCreated)
	add(1100, "KB", stSent)
	var batches []*requestsv1.IngestBorrowingRequestsRequest
	for chunk := range slices.Chunk(items, 1000) {
		batches = append(batches, batch(fmt.Sprint(len(batches)), chunk...))
	}
	_, err := f.send(t, batches...)
	noErr(t, err)

	req := &requestsv1.ListBorrowingRequestsRequest{Owner: "GUB", Status: stSent, PageSize: 1}
	first, err := f.requests.ListBorrowingRequests(t.Context(), req)
	noErr(t, err)
	if len(first.BorrowingRequests) != 0 || first.NextPageToken == "" {
		t.Fatalf("first page: %d requests, token %q; want a short page with a token", len(first.BorrowingRequests), first.NextPageToken)
	}
	if got := f.listAll(t, req); !slices.Equal(got, []string{"LIB:0", "LIB:1"}) {
		t.Errorf("paging past the cap: %v", got)
	}
	req.PageSize = 100
	one, err := f.requests.ListBorrowingRequests(t.Context(), req)
	noErr(t, err)
	if len(one.BorrowingRequests) != 2 || one.NextPageToken != "" {
		t.Errorf("page_size 100: %d requests, token %q", len(one.BorrowingRequests), one.NextPageToken)
	}
}
