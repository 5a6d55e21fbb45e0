package store

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// TestFlag: a flag sets needs_attention with the reason and is recorded like any change
// (event, change log, indexes, counts); the same flag again writes nothing; another
// reason replaces it; a missing request is not found.
func TestFlag(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	apply(t, s, clk.now(), item("1", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	before := get(t, s, 1)
	const gone = "LIBRIS no longer knows this request: it answered not found when it was read by id"
	at := clk.now()
	r, err := s.Flag(1, "EXTERNAL_REQUEST_GONE", gone, ActorHarvester, at)
	noErr(t, err)
	if !r.NeedsAttention || r.AttentionReason != gone || r.Status != stSent || r.Etag == before.Etag || !r.UpdateTime.AsTime().Equal(at) {
		t.Fatalf("flagged: %v", r)
	}
	if got := get(t, s, 1); !proto.Equal(got, r) {
		t.Errorf("stored %v, returned %v", got, r)
	}
	evs, _, err := s.Events(1, nil, 10)
	noErr(t, err)
	if len(evs) != 2 || evs[1].Action != EventFlag || evs[1].Actor != ActorHarvester || evs[1].Note != "EXTERNAL_REQUEST_GONE" ||
		evs[1].AttentionReason != gone || evs[1].FromStatus != stSent || evs[1].ToStatus != stSent {
		t.Errorf("events %v", evs)
	}
	if c, err := s.Count(""); err != nil || c.NeedsAttention != 1 {
		t.Errorf("counts %+v, %v", c, err)
	}
	checkIndexes(t, s)

	// Again with the same reason: nothing written, the request as it is.
	state := dump(t, s)
	r2, err := s.Flag(1, "EXTERNAL_REQUEST_GONE", gone, ActorHarvester, clk.now())
	noErr(t, err)
	if !proto.Equal(r2, r) || fmt.Sprint(dump(t, s)) != fmt.Sprint(state) {
		t.Errorf("a repeated flag changed something: %v", r2)
	}

	// Resolved by staff, then flagged again: a new event.
	do(t, s, 1, Command{Action: lifecycle.ResolveAttention}, clk.now())
	r, err = s.Flag(1, "EXTERNAL_REQUEST_GONE", gone, ActorHarvester, clk.now())
	noErr(t, err)
	if !r.NeedsAttention {
		t.Error("flag after resolve did not flag")
	}
	// Another reason replaces the first.
	r, err = s.Flag(1, "OTHER", "another reason", ActorHarvester, clk.now())
	noErr(t, err)
	evs, _, err = s.Events(1, nil, 10)
	noErr(t, err)
	if r.AttentionReason != "another reason" || len(evs) != 5 {
		t.Errorf("another reason: %q, %d events", r.AttentionReason, len(evs))
	}
	checkIndexes(t, s)

	if _, err := s.Flag(9, "EXTERNAL_REQUEST_GONE", gone, ActorHarvester, clk.now()); err != ErrNotFound {
		t.Errorf("missing request: %v", err)
	}
}
