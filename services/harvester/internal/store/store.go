// Package store keeps the harvester's state in one bbolt file: runs (the job history),
// their events (the event report), each profile's harvest cursor, its retry set and its
// inbox of pushed messages. A batch's events, the run's counters and the retry set change
// in one transaction, so a crash never leaves a counter that disagrees with the events
// behind it.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
)

// The buckets and schema version, declared once. Keys and values:
//
//	runs              ^id (8 bytes, inverted so forward order is newest first) → Run
//	runs_by_profile   profile code + 0x00 + ^id → empty: the job history of one profile
//	run_events        id (8 bytes) + seq (8 bytes) → RunEvent without its name (the key says
//	                  it; older files hold it too), in the order handled
//	cursors           profile code → last acknowledged day "YYYY-MM-DD" + " " + source fingerprint
//	retry             profile code + 0x00 + external id → retryValue (JSON): seen, not imported yet
//	refreshed         profile code + 0x00 + external id → last refresh (8-byte Unix nanoseconds)
//	create_requests(_by_record)  AIP-155 request_id of StartRun → run key
//	inbox             profile code + 0x00 + seq (8 bytes) → InboxItem (JSON): pushed, not drained yet
//	inbox_keys        profile code + 0x00 + message key → receipt time (8-byte Unix nanoseconds):
//	                  the pushed messages taken, so a message sent again is not stored twice
//	parked            profile code + 0x00 + external id → ParkedItem: failed too often, no longer retried
//	parked_by_time    profile code + 0x00 + park time (8-byte Unix nanoseconds) + external id → empty
//	gone              profile code + 0x00 + external id → goneValue (JSON): the external system no
//	                  longer knows it; its ledger request was flagged and the refresh skips it
//
// A request not imported is in at most one of retry and parked; importing it removes it
// from retry, parked and gone.
//
// The cursor carries a fingerprint of what it was harvested from (system, base URL,
// library code, harvest start): a profile pointed elsewhere starts again from its harvest
// start instead of trusting a cursor that belongs to another source.
var (
	bucketRuns          = []byte("runs")
	bucketRunsByProfile = []byte("runs_by_profile")
	bucketRunEvents     = []byte("run_events")
	bucketCursors       = []byte("cursors")
	bucketRetry         = []byte("retry")
	bucketRefreshed     = []byte("refreshed")
	bucketCreateReqs    = []byte("create_requests")
	bucketReqsByRecord  = []byte("create_requests_by_record")
	bucketInbox         = []byte("inbox")
	bucketInboxKeys     = []byte("inbox_keys")
	bucketParked        = []byte("parked")
	bucketParkedByTime  = []byte("parked_by_time")
	bucketGone          = []byte("gone")

	createRequests = boltdb.CreateRequests{ByRequest: bucketCreateReqs, ByRecord: bucketReqsByRecord}

	schema = boltdb.Schema{Service: "harvester", Version: 1, Buckets: [][]byte{
		bucketRuns, bucketRunsByProfile, bucketRunEvents, bucketCursors, bucketRetry, bucketRefreshed,
		bucketCreateReqs, bucketReqsByRecord, bucketInbox, bucketInboxKeys, bucketParked, bucketParkedByTime, bucketGone,
	}}
)

// runsID is the collection of runs; sequenceKey keys the run id counter.
var runsID = resource.Collection((*harvesterv1.Run)(nil))

const sequenceKey = "run_id"

// ErrNotFound is returned when no run has the requested ID.
var ErrNotFound = errors.New("not found")

// Store is the harvester's bbolt file.
type Store struct {
	db         *bolt.DB
	inboxLimit int // MaxInbox; tests lower it
}

// Open opens (creating) the file at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, inboxLimit: MaxInbox}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func runKey(id uint64) []byte { return boltdb.Uint64Key(math.MaxUint64 - id) }

// runID is the id of a runs key (the inverse of runKey).
func runID(k []byte) uint64 { return math.MaxUint64 - decodeUint64(k) }

// profilePrefix starts the keys of one profile in the buckets keyed by profile code + 0x00.
func profilePrefix(profile string) []byte { return append([]byte(profile), 0) }

func profileRunKey(profile string, id uint64) []byte {
	return append(profilePrefix(profile), runKey(id)...)
}

// RunName is `runs/{id}`.
func RunName(id uint64) string { return "runs/" + strconv.FormatUint(id, 10) }

func getRun(tx *bolt.Tx, id uint64) (*harvesterv1.Run, error) {
	v := tx.Bucket(bucketRuns).Get(runKey(id))
	if v == nil {
		return nil, ErrNotFound
	}
	r := &harvesterv1.Run{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode run %d: %w", id, err)
	}
	return r, nil
}

func putRun(tx *bolt.Tx, id uint64, r *harvesterv1.Run) error {
	b, err := proto.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRuns).Put(runKey(id), b)
}

// CreateRun stores a new run built by build from its ID, for profileCode. A repeated
// requestID returns the run it created before (created=false) instead of a new one.
func (s *Store) CreateRun(profileCode, requestID string, build func(id uint64) *harvesterv1.Run) (run *harvesterv1.Run, created bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if requestID != "" {
			r, err := runByRequest(tx, requestID)
			if err != nil || r != nil {
				run = r
				return err
			}
		}
		id, err := tx.Bucket(bucketRuns).NextSequence()
		if err != nil {
			return err
		}
		r := build(id)
		if err := putRun(tx, id, r); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRunsByProfile).Put(profileRunKey(profileCode, id), nil); err != nil {
			return err
		}
		if requestID != "" {
			if err := createRequests.Remember(tx, runsID, requestID, runKey(id)); err != nil {
				return err
			}
		}
		run, created = r, true
		return nil
	})
	return run, created, err
}

func decodeUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// runByRequest returns the run a StartRun with requestID created; nil when none did.
func runByRequest(tx *bolt.Tx, requestID string) (*harvesterv1.Run, error) {
	k := createRequests.Lookup(tx, runsID, requestID)
	if k == nil {
		return nil, nil
	}
	return getRun(tx, runID(k))
}

// RunByRequest returns the run a StartRun with requestID created, if any.
func (s *Store) RunByRequest(requestID string) (run *harvesterv1.Run, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		run, err = runByRequest(tx, requestID)
		return err
	})
	return run, run != nil && err == nil, err
}

// GetRun returns run id.
func (s *Store) GetRun(id uint64) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		r, err = getRun(tx, id)
		return err
	})
	return r, err
}

// UpdateRun applies change to run id and stores the result.
func (s *Store) UpdateRun(id uint64, change func(*harvesterv1.Run) error) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if r, err = getRun(tx, id); err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		return putRun(tx, id, r)
	})
	return r, err
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	ProfileCode     string
	State           harvesterv1.RunState
	SubmittedAfter  time.Time // inclusive; zero: no bound
	SubmittedBefore time.Time // exclusive; zero: no bound
}

func (f RunFilter) match(r *harvesterv1.Run) bool {
	if f.State != harvesterv1.RunState_RUN_STATE_UNSPECIFIED && r.GetState() != f.State {
		return false
	}
	t := r.GetSubmitTime().AsTime()
	if !f.SubmittedAfter.IsZero() && t.Before(f.SubmittedAfter) {
		return false
	}
	return f.SubmittedBefore.IsZero() || t.Before(f.SubmittedBefore)
}

// MaxScan bounds the keys one List call examines, so a filter that matches little never
// walks a whole bucket in one read transaction (a long one keeps bbolt from reusing the
// pages writers free meanwhile); a short page with a token follows instead (AIP-158).
func MaxScan(limit int) int { return max(1000, 20*limit) }

// ListRuns returns up to limit runs newest first after the key `after` (nil: from the
// newest), and the key to resume after when more may follow.
func (s *Store) ListRuns(f RunFilter, after []byte, limit int) (runs []*harvesterv1.Run, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		decode := func(v []byte) (bool, error) {
			r := &harvesterv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return false, err
			}
			if !f.match(r) {
				return false, nil
			}
			runs = append(runs, r)
			return true, nil
		}
		var last []byte
		var more bool
		var err error
		if f.ProfileCode == "" {
			last, more, err = boltdb.PageBounded(tx.Bucket(bucketRuns).Cursor(), nil, after, limit, MaxScan(limit), func(_, v []byte) (bool, error) {
				return decode(v)
			})
		} else {
			prefix := profilePrefix(f.ProfileCode)
			runsB := tx.Bucket(bucketRuns)
			last, more, err = boltdb.PageBounded(tx.Bucket(bucketRunsByProfile).Cursor(), prefix, after, limit, MaxScan(limit), func(k, _ []byte) (bool, error) {
				v := runsB.Get(k[len(prefix):])
				if v == nil {
					return false, nil
				}
				return decode(v)
			})
		}
		if err != nil {
			return err
		}
		if more {
			next = last
		}
		return nil
	})
	return runs, next, err
}

// LastRun returns the newest run of a profile, if any.
func (s *Store) LastRun(profileCode string) (*harvesterv1.Run, error) {
	runs, _, err := s.ListRuns(RunFilter{ProfileCode: profileCode}, nil, 1)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return runs[0], nil
}

// Active returns the runs still PENDING or RUNNING, e.g. those a crash left behind.
func (s *Store) Active() ([]*harvesterv1.Run, error) {
	var out []*harvesterv1.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEach(func(_, v []byte) error {
			r := &harvesterv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if st := r.GetState(); st == harvesterv1.RunState_RUN_STATE_PENDING || st == harvesterv1.RunState_RUN_STATE_RUNNING {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

// RetryEntry is an external request seen but not imported; later runs fetch it again.
type RetryEntry struct {
	ExternalID string
	Reason     string    // reason code of the last failure
	Attempts   int       // runs in a row that handled it without importing it
	LastTried  time.Time // when the last of them did
	FirstTried time.Time // when the first of them did; zero when not recorded
	// In a Batch: Message is the failure's reason in words, and Parkable says the reason
	// is one that parks the request once its attempts reach Batch.ParkAfter.
	Message  string
	Parkable bool
}

type retryValue struct {
	Reason     string `json:"reason"`
	Attempts   int    `json:"attempts"`
	LastTried  int64  `json:"last_tried"`            // Unix nanoseconds
	FirstTried int64  `json:"first_tried,omitempty"` // Unix nanoseconds
}

// Gone is an external request the external system no longer knows, and the ledger
// request flagged for it (empty when the ledger holds none).
type Gone struct {
	ExternalID       string
	BorrowingRequest string
}

type goneValue struct {
	BorrowingRequest string `json:"borrowing_request,omitempty"`
	Time             int64  `json:"time"` // Unix nanoseconds
}

// Batch is what one ingest batch changes in the harvester's own state.
type Batch struct {
	RunID     uint64
	Now       time.Time
	Events    []*harvesterv1.RunEvent // names, attempts and parked are assigned here
	Update    func(*harvesterv1.Run)  // counters and progress, from the events as assigned
	Profile   string                  // profile code, for the retry set
	Retry     []RetryEntry            // add (or count another attempt of) these
	Done      []string                // external ids imported: leave the retry set, the parked list and the gone set
	Gone      []Gone                  // leave the retry set and the parked list, and join the gone set
	Refreshed []string                // external ids re-read to keep them current
	// ParkAfter is the attempts after which a Parkable retry entry is parked instead:
	// it leaves the retry set for the parked list, and its event gets parked set. 0
	// never parks. An entry already parked stays parked (its attempts and reason are
	// updated) whatever the limit.
	ParkAfter int
}

// RecordBatch stores a batch's events, the run's new counters and the retry set, parked
// list and gone set changes in one transaction.
func (s *Store) RecordBatch(b Batch) (*harvesterv1.Run, error) {
	var run *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, err := getRun(tx, b.RunID)
		if err != nil {
			return err
		}
		events := tx.Bucket(bucketRunEvents)
		// Events are appended (run id, then sequence): pages filled densely, not halved.
		events.FillPercent = appendedFill
		retry := tx.Bucket(bucketRetry)
		// Whether the profile has anything in the retry set, the parked list and the gone
		// set: most batches are of a profile with none in some of them, and then need not
		// look each of their requests up there.
		prefix := profilePrefix(b.Profile)
		hasAny := func(bucket []byte) bool {
			k, _ := tx.Bucket(bucket).Cursor().Seek(prefix)
			return k != nil && bytes.HasPrefix(k, prefix)
		}
		retryAny, parkedAny, goneAny := hasAny(bucketRetry), hasAny(bucketParked), hasAny(bucketGone)
		// inRetry says, of each request looked up, whether the retry set holds it.
		inRetry := map[string]bool{}
		// Attempts as they were before this batch: the retry set's, or a parked item's.
		before := func(id string) (int, *harvesterv1.ParkedItem, error) {
			if parkedAny {
				if p, err := getParked(tx, b.Profile, id); p != nil || err != nil {
					return int(p.GetAttempts()), p, err
				}
			}
			if !retryAny {
				return 0, nil, nil
			}
			v := retry.Get(retryKey(b.Profile, id))
			inRetry[id] = v != nil
			// A corrupt entry counts as none: this batch rewrites it.
			prev, _ := decodeRetry(v)
			return prev.Attempts, nil, nil
		}
		// An event's attempt counts the runs that handled its request so far, this one
		// included.
		attempt := make(map[string]int32, len(b.Events))
		for _, e := range b.Events {
			if id := e.GetExternalId(); id != "" && b.Profile != "" {
				n, _, err := before(id)
				if err != nil {
					return err
				}
				attempt[id] = int32(n + 1)
			}
		}
		parkedNow := map[string]bool{}
		for _, e := range b.Retry {
			k := retryKey(b.Profile, e.ExternalID)
			attempts, parked, err := before(e.ExternalID)
			if err != nil {
				return err
			}
			prev, _ := decodeRetry(retry.Get(k))
			// What this loop writes is looked up by the loops after it.
			retryAny, parkedAny = true, true
			delete(inRetry, e.ExternalID)
			switch {
			case parked != nil:
				parked.ReasonCode, parked.Reason, parked.Attempts = e.Reason, e.Message, int32(attempts+1)
				if err := putParked(tx, b.Profile, parked); err != nil {
					return err
				}
			case e.Parkable && b.ParkAfter > 0 && attempts+1 >= b.ParkAfter:
				first := b.Now
				if prev.FirstTried != 0 {
					first = time.Unix(0, prev.FirstTried)
				}
				p := &harvesterv1.ParkedItem{
					Name: ParkedName(b.Profile, e.ExternalID), ExternalId: e.ExternalID, ReasonCode: e.Reason, Reason: e.Message,
					Attempts: int32(attempts + 1), FirstFailureTime: timestamppb.New(first), ParkTime: timestamppb.New(b.Now), Run: RunName(b.RunID),
				}
				if err := putParked(tx, b.Profile, p); err != nil {
					return err
				}
				if err := retry.Delete(k); err != nil {
					return err
				}
				parkedNow[e.ExternalID] = true
			default:
				first := prev.FirstTried
				if first == 0 {
					first = b.Now.UnixNano()
				}
				v, err := json.Marshal(retryValue{Reason: e.Reason, Attempts: attempts + 1, LastTried: b.Now.UnixNano(), FirstTried: first})
				if err != nil {
					return err
				}
				if err := retry.Put(k, v); err != nil {
					return err
				}
			}
		}
		// The per-run sequence is the count of events already stored, kept in the run's
		// key space so event names are stable and dense: runs/{id}/events/{n}.
		seq := lastEventSeq(events, b.RunID)
		for _, e := range b.Events {
			seq++
			if id := e.GetExternalId(); id != "" && b.Profile != "" {
				e.Attempt = attempt[id]
				e.Parked = parkedNow[id]
			}
			// Stored without its name, which the key already says (eventName).
			e.Name = ""
			v, err := proto.Marshal(e)
			e.Name = eventName(b.RunID, seq)
			if err != nil {
				return err
			}
			if err := events.Put(eventKey(b.RunID, seq), v); err != nil {
				return err
			}
		}
		if b.Update != nil {
			b.Update(r)
		}
		if err := putRun(tx, b.RunID, r); err != nil {
			return err
		}
		gone := tx.Bucket(bucketGone)
		for _, id := range b.Done {
			if found, known := inRetry[id]; retryAny && (found || !known) {
				if err := retry.Delete(retryKey(b.Profile, id)); err != nil {
					return err
				}
			}
			if parkedAny {
				if err := deleteParked(tx, b.Profile, id); err != nil {
					return err
				}
			}
			if goneAny {
				if err := gone.Delete(retryKey(b.Profile, id)); err != nil {
					return err
				}
			}
		}
		for _, g := range b.Gone {
			if err := retry.Delete(retryKey(b.Profile, g.ExternalID)); err != nil {
				return err
			}
			if err := deleteParked(tx, b.Profile, g.ExternalID); err != nil {
				return err
			}
			v, err := json.Marshal(goneValue{BorrowingRequest: g.BorrowingRequest, Time: b.Now.UnixNano()})
			if err != nil {
				return err
			}
			if err := gone.Put(retryKey(b.Profile, g.ExternalID), v); err != nil {
				return err
			}
		}
		refreshed := tx.Bucket(bucketRefreshed)
		for _, id := range b.Refreshed {
			if err := refreshed.Put(retryKey(b.Profile, id), boltdb.Uint64Key(uint64(b.Now.UnixNano()))); err != nil {
				return err
			}
		}
		run = r
		return nil
	})
	return run, err
}

// appendedFill is how full pages of an appended bucket are left when they split.
const appendedFill = 0.95

// eventName is the resource name of event seq of run runID.
func eventName(runID, seq uint64) string {
	return RunName(runID) + "/events/" + strconv.FormatUint(seq, 10)
}

func eventKey(runID, seq uint64) []byte {
	return append(boltdb.Uint64Key(runID), boltdb.Uint64Key(seq)...)
}

func lastEventSeq(b *bolt.Bucket, runID uint64) uint64 {
	c := b.Cursor()
	k, _ := c.Seek(boltdb.Uint64Key(runID + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if len(k) != 16 || decodeUint64(k[:8]) != runID {
		return 0
	}
	return decodeUint64(k[8:])
}

// decodeRetry reads a retry value; a missing one is the zero value.
func decodeRetry(v []byte) (retryValue, error) {
	var r retryValue
	if v == nil {
		return r, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("corrupt retry entry: %w", err)
	}
	return r, nil
}

func retryKey(profile, externalID string) []byte {
	return append(profilePrefix(profile), externalID...)
}

// EventFilter selects events for ListRunEvents; zero fields match everything.
type EventFilter struct {
	Outcome    harvesterv1.Outcome
	ReasonCode string
}

// ListRunEvents returns up to limit events of run id in order after key `after`.
func (s *Store) ListRunEvents(runID uint64, f EventFilter, after []byte, limit int) (events []*harvesterv1.RunEvent, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRuns).Get(runKey(runID)) == nil {
			return ErrNotFound
		}
		last, more, err := boltdb.PageBounded(tx.Bucket(bucketRunEvents).Cursor(), boltdb.Uint64Key(runID), after, limit, MaxScan(limit), func(k, v []byte) (bool, error) {
			e := &harvesterv1.RunEvent{}
			if err := proto.Unmarshal(v, e); err != nil {
				return false, err
			}
			if e.Name == "" && len(k) == 16 {
				e.Name = eventName(runID, decodeUint64(k[8:]))
			}
			if f.Outcome != harvesterv1.Outcome_OUTCOME_UNSPECIFIED && e.GetOutcome() != f.Outcome {
				return false, nil
			}
			if f.ReasonCode != "" && e.GetReasonCode() != f.ReasonCode {
				return false, nil
			}
			events = append(events, e)
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	return events, next, err
}

// Retry returns the profile's retry set, least recently tried first, so a run with a
// fetch budget works through all of it over successive runs instead of retrying the
// same head of the list forever.
func (s *Store) Retry(profile string) ([]RetryEntry, error) {
	var out []RetryEntry
	prefix := profilePrefix(profile)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRetry).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := decodeRetry(v)
			if err != nil {
				return err
			}
			e := RetryEntry{ExternalID: string(k[len(prefix):]), Reason: r.Reason, Attempts: r.Attempts, LastTried: time.Unix(0, r.LastTried)}
			if r.FirstTried != 0 {
				e.FirstTried = time.Unix(0, r.FirstTried)
			}
			out = append(out, e)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b RetryEntry) int { return a.LastTried.Compare(b.LastTried) })
	return out, err
}

// Refreshed returns when each of the profile's requests was last re-read by a refresh.
func (s *Store) Refreshed(profile string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	prefix := profilePrefix(profile)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRefreshed).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) == 8 {
				out[string(k[len(prefix):])] = time.Unix(0, int64(decodeUint64(v)))
			}
		}
		return nil
	})
	return out, err
}

// compactFingerprint drops a fingerprint's empty "|"-separated fields: a field that is
// empty in one version of the fingerprint and absent in another names the same source.
func compactFingerprint(fp string) string {
	return strings.Join(slices.DeleteFunc(strings.Split(fp, "|"), func(f string) bool { return f == "" }), "|")
}

// Cursor returns the profile's last acknowledged day, if any was recorded for the same
// source fingerprint.
func (s *Store) Cursor(profile, fingerprint string) (day time.Time, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get([]byte(profile))
		if v == nil {
			return nil
		}
		date, fp, _ := strings.Cut(string(v), " ")
		if compactFingerprint(fp) != compactFingerprint(fingerprint) {
			return nil // another source: start again from the harvest start
		}
		t, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return fmt.Errorf("corrupt cursor of %s: %w", profile, err)
		}
		day, ok = t, true
		return nil
	})
	return day, ok, err
}

// FinishRun stores the run's final state and, when advance is set, moves the profile's
// cursor to day in the same transaction: the cursor never runs ahead of the report.
func (s *Store) FinishRun(id uint64, profile string, advance bool, day time.Time, fingerprint string, change func(*harvesterv1.Run)) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if r, err = getRun(tx, id); err != nil {
			return err
		}
		change(r)
		if err := putRun(tx, id, r); err != nil {
			return err
		}
		if advance {
			return tx.Bucket(bucketCursors).Put([]byte(profile), []byte(day.Format(time.DateOnly)+" "+fingerprint))
		}
		return nil
	})
	return r, err
}

// PruneEvents deletes the events of runs that ended before `before`, one run per
// transaction so pruning never holds a long write; run summaries stay. It returns how
// many events it deleted.
func (s *Store) PruneEvents(before time.Time) (int, error) {
	var ended []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
			r := &harvesterv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if r.GetEndTime() != nil && r.GetEndTime().AsTime().Before(before) {
				ended = append(ended, runID(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, id := range ended {
		err := s.db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketRunEvents).Cursor()
			prefix := boltdb.Uint64Key(id)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
				deleted++
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
