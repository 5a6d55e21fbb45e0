package retention

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/logging/logtest"
)

// fakeStore records each pass's cutoff and answers with the next result.
type fakeStore struct {
	mu      sync.Mutex
	cutoffs []time.Time
	results []error
	pass    chan struct{}
}

func (f *fakeStore) PruneEvents(before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutoffs = append(f.cutoffs, before)
	var err error
	if len(f.results) > 0 {
		err, f.results = f.results[0], f.results[1:]
	}
	select {
	case f.pass <- struct{}{}:
	default:
	}
	if err != nil {
		return 0, err
	}
	return 3, nil
}

// TestRun: events past retention are pruned at once and then every interval, a failed
// pass is logged and retried, ctx ends the loop, and no retention means no pruning.
func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		results   []error
		passes    int    // passes to wait for before ctx ends
		wantLog   string // in the log
	}{
		{name: "prunes now and every interval", retention: time.Hour, passes: 3, wantLog: "pruned run events past retention"},
		{name: "a failed pass is retried", retention: time.Hour, results: []error{errors.New("disk full")}, passes: 2, wantLog: "disk full"},
		{name: "no retention", retention: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{results: tt.results, pass: make(chan struct{})}
			var logs logtest.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			start := time.Now()
			go func() {
				defer close(done)
				Run(ctx, st, tt.retention, time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
			}()
			for range tt.passes {
				select {
				case <-st.pass:
				case <-time.After(10 * time.Second):
					t.Fatal("no pruning pass")
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after ctx ended")
			}
			end := time.Now()
			st.mu.Lock()
			defer st.mu.Unlock()
			if len(st.cutoffs) < tt.passes || (tt.passes == 0 && len(st.cutoffs) != 0) {
				t.Fatalf("%d passes, want %d", len(st.cutoffs), tt.passes)
			}
			for _, c := range st.cutoffs {
				if c.Before(start.Add(-tt.retention)) || c.After(end.Add(-tt.retention)) {
					t.Fatalf("cutoff %v is not retention (%v) before the pass", c, tt.retention)
				}
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Fatalf("log %q lacks %q", logs.String(), tt.wantLog)
			}
		})
	}
}
