package api

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// parkedClient serves the API over a store where profile "a" has n parked requests P-1 …
// P-n, parked in that order, and profile "b" one.
func parkedClient(t *testing.T, n int) (harvesterv1.HarvesterServiceClient, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	park := func(profile string, ids []string, at time.Time) {
		r, _, err := st.CreateRun(profile, "", func(id uint64) *harvesterv1.Run {
			return &harvesterv1.Run{Name: store.RunName(id), Counters: &harvesterv1.RunCounters{}, Progress: &harvesterv1.Progress{}}
		})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := run.ParseRunName(r.GetName())
		b := store.Batch{RunID: id, Profile: profile, Now: at, ParkAfter: 1}
		for _, x := range ids {
			b.Events = append(b.Events, &harvesterv1.RunEvent{ExternalId: x, ReasonCode: "PARTNER_UNKNOWN"})
			b.Retry = append(b.Retry, store.RetryEntry{ExternalID: x, Reason: "PARTNER_UNKNOWN", Message: "lender unknown", Parkable: true})
		}
		if _, err := st.RecordBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		park("a", []string{fmt.Sprintf("P-%d", i)}, t0.Add(time.Duration(i)*time.Minute))
	}
	park("b", []string{"Q-1"}, t0)
	svc := New(nil, st, nil)
	return harvesterv1.NewHarvesterServiceClient(servertest.Dial(t, func(s *grpc.Server) { harvesterv1.RegisterHarvesterServiceServer(s, svc) })), st
}

func TestListParkedItemsPaged(t *testing.T) {
	c, _ := parkedClient(t, 5)
	ctx := context.Background()
	var got []string
	token := ""
	for {
		resp, err := c.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: "integrationProfiles/a", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.GetParkedItems() {
			got = append(got, p.GetExternalId())
			if p.GetName() != "integrationProfiles/a/parkedItems/"+p.GetExternalId() || p.GetAttempts() != 1 || p.GetReasonCode() != "PARTNER_UNKNOWN" {
				t.Errorf("item %v", p)
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[P-1 P-2 P-3 P-4 P-5]" {
		t.Fatalf("parked items %v, want longest parked first", got)
	}
	first, _ := c.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: "integrationProfiles/a", PageSize: 1})
	_, err := c.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: "integrationProfiles/b", PageSize: 1, PageToken: first.GetNextPageToken()})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
	for _, bad := range []string{"", "integrationProfiles/", "profiles/a", "integrationProfiles/a/parkedItems"} {
		_, err := c.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: bad})
		servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "parent")
	}
	empty, err := c.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: "integrationProfiles/none"})
	if err != nil || len(empty.GetParkedItems()) != 0 {
		t.Fatalf("profile without parked items: %v, %v", empty, err)
	}
}

func TestRetryParkedItem(t *testing.T) {
	c, st := parkedClient(t, 2)
	ctx := context.Background()
	p, err := c.RetryParkedItem(ctx, &harvesterv1.RetryParkedItemRequest{Name: "integrationProfiles/a/parkedItems/P-2"})
	if err != nil || p.GetExternalId() != "P-2" {
		t.Fatalf("RetryParkedItem = %v, %v", p, err)
	}
	retry, _ := st.Retry("a")
	if len(retry) != 1 || retry[0].ExternalID != "P-2" || retry[0].Attempts != 0 {
		t.Fatalf("retry set %+v", retry)
	}
	_, err = c.RetryParkedItem(ctx, &harvesterv1.RetryParkedItemRequest{Name: "integrationProfiles/a/parkedItems/P-2"})
	servertest.RequireError(t, err, codes.NotFound, reasonParkedItemNotFound)
	_, err = c.RetryParkedItem(ctx, &harvesterv1.RetryParkedItemRequest{Name: "integrationProfiles/b/parkedItems/P-1"})
	servertest.RequireError(t, err, codes.NotFound, reasonParkedItemNotFound)
	for _, bad := range []string{"", "integrationProfiles/a", "integrationProfiles/a/parkedItems/", "integrationProfiles//parkedItems/P-1",
		"profiles/a/parkedItems/P-1", "integrationProfiles/a/runs/P-1"} {
		_, err := c.RetryParkedItem(ctx, &harvesterv1.RetryParkedItemRequest{Name: bad})
		servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	}
	if n, _ := st.ParkedCount("a"); n != 1 {
		t.Fatalf("%d parked after a retry and refused calls, want 1", n)
	}
}
