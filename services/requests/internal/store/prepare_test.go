package store

import (
	"context"
	"testing"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// TestPreparedAheadOfOtherWrites: a batch prepared before another batch creates one of
// its requests (as the service prepares the next batch while applying the current one)
// applies as if unprepared: the request is updated, not created twice, and every index
// entry and count is exact.
func TestPreparedAheadOfOtherWrites(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		between time.Time // the last-modified time of the write in between
		want    string
	}{
		{"older write in between", t0.Add(-time.Hour), "UPDATED CREATED"},
		{"same version in between", t0, "UNCHANGED CREATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			prepared := s.Prepare([]*requestsv1.IngestItem{
				item("1", t0, func(it *requestsv1.IngestItem) { it.Bibliographic.Title = "Hemsöborna" }),
				item("2", t0),
			})
			apply(t, s, t0.Add(time.Minute), item("1", tc.between))
			res, err := s.ApplyPrepared(ctx, "runs/7", prepared, t0.Add(2*time.Minute))
			noErr(t, err)
			if got := outcomes(res); got != tc.want {
				t.Errorf("outcomes %s, want %s", got, tc.want)
			}
			checkIndexes(t, s)
			// The prepared title is searchable exactly when the update took it.
			got, _, err := s.List(Filter{Words: QueryWords("Hemsöborna")}, nil, 10, 0)
			noErr(t, err)
			if updated := tc.between.Before(t0); updated != (len(got) == 1) || len(got) > 1 ||
				updated && got[0].GetName() != res[0].GetBorrowingRequest() {
				t.Errorf("search finds %d requests (updated: %v)", len(got), updated)
			}
		})
	}
}
