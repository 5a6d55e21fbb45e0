package api

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// newClient serves the API over a store holding runs of two profiles: run i (1-based)
// belongs to profile "a" when odd, "b" when even, and has i events alternating
// CREATED/SKIPPED.
func newClient(t *testing.T, runs int) harvesterv1.HarvesterServiceClient {
	return newClientWithJobs(t, runs, nil)
}

func newClientWithJobs(t *testing.T, runs int, jobs Jobs) harvesterv1.HarvesterServiceClient {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := 1; i <= runs; i++ {
		code := map[bool]string{true: "a", false: "b"}[i%2 == 1]
		r, _, err := st.CreateRun(code, "", func(id uint64) *harvesterv1.Run {
			return &harvesterv1.Run{Name: store.RunName(id), Profile: "integrationProfiles/" + code,
				SubmitTime: timestamppb.New(time.Date(2026, 11, i, 12, 0, 0, 0, time.UTC)),
				State:      harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, Counters: &harvesterv1.RunCounters{}, Progress: &harvesterv1.Progress{}}
		})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := run.ParseRunName(r.GetName())
		var evs []*harvesterv1.RunEvent
		for j := range i {
			o, reason := harvesterv1.Outcome_OUTCOME_CREATED, ""
			if j%2 == 1 {
				o, reason = harvesterv1.Outcome_OUTCOME_SKIPPED, "PARTNER_UNKNOWN"
			}
			evs = append(evs, &harvesterv1.RunEvent{ExternalId: fmt.Sprintf("X-%d", j), Outcome: o, ReasonCode: reason})
		}
		if _, err := st.RecordBatch(store.Batch{RunID: id, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(nil, st, jobs)
	return harvesterv1.NewHarvesterServiceClient(servertest.Dial(t, func(s *grpc.Server) { harvesterv1.RegisterHarvesterServiceServer(s, svc) }))
}

func TestGetRun(t *testing.T) {
	c := newClient(t, 2)
	ctx := context.Background()
	r, err := c.GetRun(ctx, &harvesterv1.GetRunRequest{Name: "runs/2"})
	if err != nil || r.GetProfile() != "integrationProfiles/b" {
		t.Fatalf("GetRun = %v, %v", r, err)
	}
	_, err = c.GetRun(ctx, &harvesterv1.GetRunRequest{Name: "runs/3"})
	servertest.RequireError(t, err, codes.NotFound, reasonRunNotFound)
	for _, bad := range []string{"", "runs/", "runs/0", "runs/01", "runs/x", "jobs/1", "runs/1/events"} {
		_, err = c.GetRun(ctx, &harvesterv1.GetRunRequest{Name: bad})
		servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	}
}

func TestListRunsNewestFirstFilteredAndPaged(t *testing.T) {
	c := newClient(t, 7)
	ctx := context.Background()
	cases := []struct {
		profile string
		want    []string
	}{
		{"", []string{"runs/7", "runs/6", "runs/5", "runs/4", "runs/3", "runs/2", "runs/1"}},
		{"integrationProfiles/a", []string{"runs/7", "runs/5", "runs/3", "runs/1"}},
		{"integrationProfiles/b", []string{"runs/6", "runs/4", "runs/2"}},
		{"integrationProfiles/none", nil},
	}
	for _, tc := range cases {
		for size := int32(1); size <= 8; size++ {
			var got []string
			token := ""
			for {
				resp, err := c.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: tc.profile, PageSize: size, PageToken: token})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range resp.GetRuns() {
					got = append(got, r.GetName())
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("profile %q size %d: %v, want %v", tc.profile, size, got, tc.want)
			}
		}
	}
	resp, _ := c.ListRuns(ctx, &harvesterv1.ListRunsRequest{PageSize: 1})
	_, err := c.ListRuns(ctx, &harvesterv1.ListRunsRequest{PageSize: 1, PageToken: resp.GetNextPageToken(), Profile: "integrationProfiles/a"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
	_, err = c.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: "profiles/a"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "profile")
	_, err = c.ListRuns(ctx, &harvesterv1.ListRunsRequest{State: 99})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "state")
	failed, err := c.ListRuns(ctx, &harvesterv1.ListRunsRequest{State: harvesterv1.RunState_RUN_STATE_FAILED})
	if err != nil || len(failed.GetRuns()) != 0 {
		t.Fatalf("state filter: %v %v", failed, err)
	}
}

func TestListRunEvents(t *testing.T) {
	c := newClient(t, 5)
	ctx := context.Background()
	all, err := c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/5"})
	if err != nil || len(all.GetRunEvents()) != 5 || all.GetRunEvents()[0].GetName() != "runs/5/events/1" {
		t.Fatalf("events = %v, %v", all, err)
	}
	skipped, err := c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/5", Outcome: harvesterv1.Outcome_OUTCOME_SKIPPED, PageSize: 1})
	if err != nil || len(skipped.GetRunEvents()) != 1 || skipped.GetNextPageToken() == "" {
		t.Fatalf("skipped page = %v, %v", skipped, err)
	}
	next, err := c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/5", Outcome: harvesterv1.Outcome_OUTCOME_SKIPPED, PageSize: 1, PageToken: skipped.GetNextPageToken()})
	// A page may end with a token whose next page is empty (AIP-158): the store does not
	// read ahead to see whether a later event matches the filter.
	if err != nil || len(next.GetRunEvents()) != 1 || next.GetRunEvents()[0].GetExternalId() != "X-3" {
		t.Fatalf("second skipped page = %v, %v", next, err)
	}
	last, err := c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/5", Outcome: harvesterv1.Outcome_OUTCOME_SKIPPED, PageSize: 1, PageToken: next.GetNextPageToken()})
	if err != nil || len(last.GetRunEvents()) != 0 || last.GetNextPageToken() != "" {
		t.Fatalf("last skipped page = %v, %v", last, err)
	}
	_, err = c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/9"})
	servertest.RequireError(t, err, codes.NotFound, reasonRunNotFound)
	_, err = c.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: "runs/x"})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "parent")
}

func TestListRunsBySubmitTime(t *testing.T) {
	c := newClient(t, 7)
	resp, err := c.ListRuns(context.Background(), &harvesterv1.ListRunsRequest{
		SubmittedAfter:  timestamppb.New(time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)), // inclusive
		SubmittedBefore: timestamppb.New(time.Date(2026, 11, 6, 12, 0, 0, 0, time.UTC)), // exclusive
	})
	var got []string
	for _, r := range resp.GetRuns() {
		got = append(got, r.GetName())
	}
	if err != nil || fmt.Sprint(got) != "[runs/5 runs/4 runs/3]" {
		t.Fatalf("runs = %v, %v", got, err)
	}
	_, err = c.ListRuns(context.Background(), &harvesterv1.ListRunsRequest{SubmittedAfter: &timestamppb.Timestamp{Seconds: -1 << 62}})
	servertest.RequireError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "submitted_after")
}

func TestListRunEventsByReason(t *testing.T) {
	c := newClient(t, 5)
	resp, err := c.ListRunEvents(context.Background(), &harvesterv1.ListRunEventsRequest{Parent: "runs/5", ReasonCode: "PARTNER_UNKNOWN"})
	if err != nil || len(resp.GetRunEvents()) != 2 {
		t.Fatalf("events = %v, %v", resp, err)
	}
}

func TestListScheduledJobsPaged(t *testing.T) {
	jobs := func() []*harvesterv1.ScheduledJob {
		return []*harvesterv1.ScheduledJob{{Profile: "integrationProfiles/c"}, {Profile: "integrationProfiles/a"}, {Profile: "integrationProfiles/b"}}
	}
	c := newClientWithJobs(t, 0, jobs)
	var got []string
	token := ""
	for {
		resp, err := c.ListScheduledJobs(context.Background(), &harvesterv1.ListScheduledJobsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range resp.GetScheduledJobs() {
			got = append(got, j.GetProfile())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[integrationProfiles/a integrationProfiles/b integrationProfiles/c]" {
		t.Fatalf("jobs = %v", got)
	}
}
