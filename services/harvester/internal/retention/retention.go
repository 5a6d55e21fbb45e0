// Package retention prunes the harvester's run events once they are past their
// retention; run summaries stay, so the job history keeps every run.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Store deletes the events of runs that ended before a time, saying how many
// (store.Store).
type Store interface {
	PruneEvents(before time.Time) (int, error)
}

// Run deletes the run events older than retention now and then every interval until
// ctx ends. A retention of zero or less keeps every event. A failed pass is logged and
// the next one tries again.
func Run(ctx context.Context, st Store, retention, interval time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := st.PruneEvents(time.Now().Add(-retention)); err != nil {
			log.Error("pruning run events", "error", err)
		} else if n > 0 {
			log.Info("pruned run events past retention", "events", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
