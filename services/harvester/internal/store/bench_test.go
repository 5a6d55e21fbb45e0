package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// BenchmarkRecordBatch records batches of 1000 imported requests (events, counters, the
// retry set cleared of them), as a run's recorder does after each ledger batch, in a
// profile with 1000 requests in its retry set (others than the batch's).
func BenchmarkRecordBatch(b *testing.B) {
	for _, outcome := range []harvesterv1.Outcome{harvesterv1.Outcome_OUTCOME_CREATED, harvesterv1.Outcome_OUTCOME_UNCHANGED} {
		b.Run(outcome.String(), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "h.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const id = 1
			if _, _, err := s.CreateRun("p", "", newRun); err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
			retry := Batch{RunID: id, Now: now, Profile: "p"}
			for i := range 1000 {
				e := &harvesterv1.RunEvent{ExternalId: fmt.Sprintf("Old-%06d", i), Outcome: harvesterv1.Outcome_OUTCOME_SKIPPED, ReasonCode: "PARTNER_UNKNOWN"}
				retry.Events = append(retry.Events, e)
				retry.Retry = append(retry.Retry, RetryEntry{ExternalID: e.ExternalId, Reason: e.ReasonCode})
			}
			if _, err := s.RecordBatch(retry); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				batch := Batch{RunID: id, Now: now, Profile: "p", Update: func(r *harvesterv1.Run) { r.Counters.Fetched += 1000 }}
				for range 1000 {
					n++
					ext := fmt.Sprintf("Abc-%08d", n)
					batch.Events = append(batch.Events, &harvesterv1.RunEvent{ExternalId: ext, Outcome: outcome,
						BorrowingRequest: fmt.Sprintf("borrowingRequests/%d", n), Time: timestamppb.New(now)})
					batch.Done = append(batch.Done, ext)
				}
				if _, err := s.RecordBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/request")
		})
	}
}
