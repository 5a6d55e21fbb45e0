package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// EventFlag is the audit-trail action of Flag.
const EventFlag = "flag"

// Flag sets needs_attention on request id with reason, for something only the caller
// knows (the harvester: the external system no longer knows the request), and appends
// an event with actor, the reason as its attention_reason and code (machine-readable,
// e.g. EXTERNAL_REQUEST_GONE) as its note. A request flagged for another reason takes
// this one, as with a conflicting external update (the earlier reason stays in its
// history). Flagging a request already flagged with the same reason writes nothing and
// returns it as it is, so the caller may repeat it. The status never changes.
func (s *Store) Flag(id uint64, code, reason, actor string, now time.Time) (*requestsv1.BorrowingRequest, error) {
	flagged := func(r *requestsv1.BorrowingRequest) bool {
		return r.GetNeedsAttention() && r.GetAttentionReason() == reason
	}
	// A repeat is answered from a read transaction: no write lock, no commit.
	r, err := s.Get(id)
	if err != nil || flagged(r) {
		return r, err
	}
	var out *requestsv1.BorrowingRequest
	err = s.update(false, maxRecentTimesAny, func(tx *bolt.Tx) error {
		old, err := load(tx, id)
		if err != nil {
			return err
		}
		if flagged(old) { // flagged since the read
			out = old
			return nil
		}
		next := proto.CloneOf(old)
		next.NeedsAttention, next.AttentionReason = true, reason
		ev := &requestsv1.RequestEvent{Actor: actor, Action: EventFlag, Note: code, AttentionReason: reason}
		if _, err := s.commit(tx, id, old, next, ev, now, nil); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
