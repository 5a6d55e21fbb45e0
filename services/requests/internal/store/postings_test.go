package store

import (
	"testing"
	"time"

	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// TestClockSteppingBack: flush skips reading postings newer than the newest stored
// entry. A request created at t, then changed after the clock stepped back, leaves its
// create-time entry newer than every update time; a request created at t again must
// join that posting, not replace it.
func TestClockSteppingBack(t *testing.T) {
	s := newStore(t)
	t5 := t0.Add(5 * time.Hour)
	apply(t, s, t5, item("1", t0))
	do(t, s, 1, Command{Action: lifecycle.MarkReadyToSend}, t0.Add(3*time.Hour))
	apply(t, s, t5, item("2", t0))
	checkIndexes(t, s)
	if got, _, _ := listAll(t, s, Filter{Order: CreatedNewestFirst}, 10, 0); len(got) != 2 {
		t.Errorf("by create time: %v, want both", got)
	}
}
