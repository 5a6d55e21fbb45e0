package store

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// LastRuns is what the import health metrics read of one profile's job history.
type LastRuns struct {
	// Ended is the newest run that reached a final state; nil when none has.
	Ended *harvesterv1.Run
	// Completed is the end time of the newest run that completed its window (Completed);
	// zero when none has.
	Completed time.Time
}

// Completed reports whether a run in state s completed its window: one of the
// COMPLETED_* states, whose window the ledger acknowledged and the cursor passed.
func Completed(s harvesterv1.RunState) bool {
	switch s {
	case harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS,
		harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS, harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS:
		return true
	}
	return false
}

// ended reports whether a run reached a final state.
func ended(s harvesterv1.RunState) bool {
	return s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING
}

// LastRunsByProfile returns every profile's LastRuns. Each profile's history is read
// newest first and only until both are found, then the walk seeks to the next profile,
// so it costs about one or two runs per profile, more only for a profile failing run
// after run. The harvester reads it once at start.
func (s *Store) LastRunsByProfile() (map[string]LastRuns, error) {
	out := map[string]LastRuns{}
	err := s.db.View(func(tx *bolt.Tx) error {
		runs := tx.Bucket(bucketRuns)
		c := tx.Bucket(bucketRunsByProfile).Cursor()
		k, _ := c.First()
		for k != nil {
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				k, _ = c.Next() // not a key this store writes
				continue
			}
			code := string(k[:i])
			prefix := profilePrefix(code)
			var last LastRuns
			for ; k != nil && bytes.HasPrefix(k, prefix) && (last.Ended == nil || last.Completed.IsZero()); k, _ = c.Next() {
				v := runs.Get(k[len(prefix):])
				if v == nil {
					continue
				}
				r := &harvesterv1.Run{}
				if err := proto.Unmarshal(v, r); err != nil {
					return err
				}
				if !ended(r.GetState()) {
					continue
				}
				if last.Ended == nil {
					last.Ended = r
				}
				if last.Completed.IsZero() && Completed(r.GetState()) {
					last.Completed = r.GetEndTime().AsTime()
				}
			}
			out[code] = last
			// The next profile's keys start after code + 0x00 + every id: code + 0x01.
			k, _ = c.Seek(append([]byte(code), 1))
		}
		return nil
	})
	return out, err
}

// Backlog is how many requests a profile has waiting: in its retry set (seen, not
// imported, fetched again by later runs) and parked (no longer retried until staff do).
type Backlog struct {
	Retry, Parked int
}

// Backlogs counts every profile's retry set and parked list in one read transaction. It
// counts keys without decoding a value, so it is cheap enough for each metrics scrape.
func (s *Store) Backlogs() (map[string]Backlog, error) {
	out := map[string]Backlog{}
	err := s.db.View(func(tx *bolt.Tx) error {
		count := func(bucket []byte, add func(*Backlog)) {
			c := tx.Bucket(bucket).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if i := bytes.IndexByte(k, 0); i > 0 {
					b := out[string(k[:i])]
					add(&b)
					out[string(k[:i])] = b
				}
			}
		}
		count(bucketRetry, func(b *Backlog) { b.Retry++ })
		count(bucketParked, func(b *Backlog) { b.Parked++ })
		return nil
	})
	return out, err
}
