package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

const (
	created  = requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED
	updated  = requestsv1.IngestOutcome_INGEST_OUTCOME_UPDATED
	same     = requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED
	rejected = requestsv1.IngestOutcome_INGEST_OUTCOME_REJECTED

	stCreated   = requestsv1.Status_STATUS_CREATED
	stSent      = requestsv1.Status_STATUS_REQUEST_SENT
	stShipped   = requestsv1.Status_STATUS_SHIPPED_PHYSICALLY
	stCompleted = requestsv1.Status_STATUS_COMPLETED
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func open(t testing.TB, path string, o ...Options) *Store {
	t.Helper()
	var opts Options
	if len(o) > 0 {
		opts = o[0]
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB) *Store { return open(t, filepath.Join(t.TempDir(), "requests.db")) }

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// item is a valid item of profile integrationProfiles/LIB (external id ext, modified at
// lm), changed by mods.
func item(ext string, lm time.Time, mods ...func(*requestsv1.IngestItem)) *requestsv1.IngestItem {
	it := &requestsv1.IngestItem{
		ExternalReference: &requestsv1.ExternalReference{
			System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, Profile: "integrationProfiles/LIB",
			ExternalId: ext, ExternalRequestId: "r-" + ext, StatusRaw: "Beställd", LastModifiedTime: timestamppb.New(lm),
		},
		ExternalStatus: stCreated,
		Owner:          "GUB",
		Partner:        "partners/ABC",
		Rota:           []*requestsv1.RotaEntry{{PartnerCode: "Abc", Partner: "partners/ABC", Active: true}},
		Bibliographic:  &requestsv1.Bibliographic{Title: "Röda rummet", Author: "Strindberg", Isbn: "9789100000000"},
		Format:         requestsv1.Format_FORMAT_PHYSICAL,
		Media:          requestsv1.Media_MEDIA_LOAN,
		Requester:      &requestsv1.Requester{PatronId: "P1", Name: "Ada", Approved: true},
		PickupLocation: "GUB",
		Note:           "Tack!\nMvh",
	}
	for _, m := range mods {
		m(it)
	}
	return it
}

func apply(t testing.TB, s *Store, now time.Time, items ...*requestsv1.IngestItem) []*requestsv1.IngestResult {
	t.Helper()
	res, err := s.ApplyBatch(context.Background(), "runs/7", items, now)
	noErr(t, err)
	if len(res) != len(items) {
		t.Fatalf("%d results for %d items", len(res), len(items))
	}
	return res
}

func outcomes(res []*requestsv1.IngestResult) string {
	var out []string
	for _, r := range res {
		out = append(out, strings.TrimPrefix(r.GetOutcome().String(), "INGEST_OUTCOME_"))
	}
	return strings.Join(out, " ")
}

// dump returns every key and value of every bucket, to prove failed writes change nothing.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/ seq"] = fmt.Sprint(b.Sequence())
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	noErr(t, err)
	return out
}

// checkIndexes rebuilds the identity bucket, every index bucket (word postings in either
// of their two buckets), every count and the
// stored index values from the records and requires the stored ones to be exactly that:
// each index holds one entry per request and value it covers, with the request's current
// values and update (or create) time, and nothing else. It also checks the history: every change-log entry has its
// event, every event names its own position, and every request's latest event is its
// latest change (so no change went unaudited).
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	checkLedger(t, s, true)
}

// checkLedger is checkIndexes, with the history checks only when history is set.
func checkLedger(t *testing.T, s *Store, history bool) {
	t.Helper()
	want := map[string]map[string]string{string(bucketByExternal): {}, string(bucketCounts): {}, string(bucketIndexValues): {}}
	postings := map[string]map[string][]uint64{}
	for _, ix := range indexes {
		if ix.entries {
			want[string(ix.bucket)] = map[string]string{}
			postings[string(ix.bucket)] = map[string][]uint64{}
		}
	}
	counts := map[string]uint64{}
	got := map[string]map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			var r requestsv1.BorrowingRequest
			if err := proto.Unmarshal(v, &r); err != nil {
				return err
			}
			id := binary.BigEndian.Uint64(k)
			if r.Name != Name(id) {
				t.Errorf("record %d is named %s", id, r.Name)
			}
			ref := r.GetExternalReference()
			want[string(bucketByExternal)][string(externalKey(ref.GetProfile(), ref.GetExternalId()))] = string(k)
			vals := valuesOf(&r)
			want[string(bucketIndexValues)][string(k)] = string(vals.encode())
			for _, ix := range indexes {
				for _, value := range ix.values(&r) {
					if ix.entries {
						k := string(ix.postingKey(value, &r))
						postings[string(ix.bucket)][k] = append(postings[string(ix.bucket)][k], id) // ascending: the records are walked by id
					}
					if ix.counted {
						counts[string(ix.countKey(value))]++
					}
				}
			}
			if history {
				checkHistory(t, tx, id, &r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for k, n := range counts {
			want[string(bucketCounts)][k] = string(binary.BigEndian.AppendUint64(nil, n))
		}
		for b, ps := range postings {
			for k, ids := range ps {
				want[b][k] = string(appendPosting(nil, ids))
			}
		}
		for name := range want {
			got[name] = map[string]string{}
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				got[name][string(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		// A word posting is in exactly one of post_word, word_mid and word_recent (keyed
		// time first).
		words := got[string(idxWord.bucket)]
		add := func(bucket []byte, key func([]byte) []byte) error {
			return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
				wk := string(key(k))
				if _, dup := words[wk]; dup {
					t.Errorf("word posting %x is in %s and in another bucket", wk, bucket)
				}
				words[wk] = string(v)
				return nil
			})
		}
		if err := add(bucketMidWords, bytes.Clone); err != nil {
			return err
		}
		return add(bucketRecentWords, wordKey)
	})
	noErr(t, err)
	// index_values may name retired indexes, which decoding skips: compared decoded.
	for k, v := range got[string(bucketIndexValues)] {
		if dv, err := decodeValues([]byte(v)); err == nil {
			got[string(bucketIndexValues)][k] = string(dv.encode())
		}
	}
	for name, entries := range want {
		if len(got[name]) != len(entries) {
			t.Errorf("%s has %d entries, want %d", name, len(got[name]), len(entries))
		}
		for k, v := range entries {
			if g, ok := got[name][k]; !ok || g != v {
				t.Errorf("%s[%x] = %x (present %v), want %x", name, k, g, ok, v)
			}
		}
	}
}

// checkHistory checks request id's audit trail against the record and the change log.
func checkHistory(t *testing.T, tx *bolt.Tx, id uint64, r *requestsv1.BorrowingRequest) {
	t.Helper()
	c := tx.Bucket(bucketEvents).Cursor()
	prefix := boltdb.Uint64Key(id)
	var last *requestsv1.RequestEvent
	n := 0
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ev := &requestsv1.RequestEvent{}
		noErr(t, proto.Unmarshal(v, ev))
		pos := binary.BigEndian.Uint64(k[8:])
		if ev.Name != EventName(id, pos) {
			t.Errorf("event %x is named %s", k, ev.Name)
		}
		if ce := tx.Bucket(bucketChanges).Get(k[8:]); ce != nil {
			e, err := decodeChange(ce)
			noErr(t, err)
			if e.id != id || e.to != ev.ToStatus || e.from != ev.FromStatus {
				t.Errorf("change %d (%+v) disagrees with its event %v", pos, e, ev)
			}
		}
		if last != nil && last.ToStatus != ev.FromStatus {
			t.Errorf("%s: event %s starts at %s, the previous ended at %s", r.Name, ev.Name, ev.FromStatus, last.ToStatus)
		}
		last, n = ev, n+1
	}
	switch {
	case n == 0:
		t.Errorf("%s has no audit trail", r.Name)
	case last.ToStatus != r.Status || !last.Time.AsTime().Equal(r.UpdateTime.AsTime()):
		t.Errorf("%s (%s, updated %v): its last event is %v", r.Name, r.Status, r.UpdateTime.AsTime(), last)
	}
}

func get(t *testing.T, s *Store, id uint64) *requestsv1.BorrowingRequest {
	t.Helper()
	r, err := s.Get(id)
	noErr(t, err)
	return r
}

func checkEtag(t *testing.T, r *requestsv1.BorrowingRequest) {
	t.Helper()
	c := proto.CloneOf(r)
	c.Etag = ""
	if want := resource.Etag(c); r.Etag != want {
		t.Errorf("etag = %q, want %q", r.Etag, want)
	}
}

// TestApplyBatchOutcomes walks one request through create, repeats, older and newer
// versions, checking the outcome, the stored request and the indexes after each batch.
func TestApplyBatchOutcomes(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)

	res := apply(t, s, t0, item("1", lm), item("2", lm))
	if outcomes(res) != "CREATED CREATED" || res[0].BorrowingRequest != "borrowingRequests/1" ||
		res[1].BorrowingRequest != "borrowingRequests/2" || res[0].ExternalId != "1" || res[0].Reason != "" {
		t.Fatalf("first batch: %v", res)
	}
	first := get(t, s, 1)
	want := fromItem(item("1", lm), nil)
	want.Name, want.CreateTime, want.UpdateTime, want.Etag = "borrowingRequests/1", timestamppb.New(t0), timestamppb.New(t0), first.Etag
	if !proto.Equal(first, want) {
		t.Fatalf("created\n got %v\nwant %v", first, want)
	}
	checkEtag(t, first)
	checkIndexes(t, s)

	// Staff flagged the request; external updates keep the flag.
	noErr(t, s.update(false, maxRecentTimesAny, func(tx *bolt.Tx) error {
		next := proto.CloneOf(first)
		next.NeedsAttention, next.AttentionReason = true, "check the patron"
		_, err := s.commit(tx, 1, first, next, &requestsv1.RequestEvent{Actor: "test", Action: "flag"}, t0, nil)
		return err
	}))
	flagged := get(t, s, 1)

	for _, tc := range []struct {
		name    string
		item    *requestsv1.IngestItem
		outcome requestsv1.IngestOutcome
	}{
		{"same version", item("1", lm), same},
		{"same version, other content", item("1", lm, func(it *requestsv1.IngestItem) { it.Owner = "KB" }), same},
		{"older version", item("1", lm.Add(-time.Nanosecond), func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }), same},
	} {
		res := apply(t, s, t0.Add(time.Minute), tc.item)
		if res[0].Outcome != tc.outcome || res[0].BorrowingRequest != "borrowingRequests/1" {
			t.Errorf("%s: %v", tc.name, res[0])
		}
		if got := get(t, s, 1); !proto.Equal(got, flagged) {
			t.Errorf("%s changed the request: %v", tc.name, got)
		}
	}

	newer := item("1", lm.Add(time.Nanosecond), func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.Owner, it.Partner, it.Note = stShipped, "KB", "partners/XYZ", ""
		it.ExternalReference.StatusRaw = "Levererad"
		it.Bibliographic = &requestsv1.Bibliographic{Title: "Hemsöborna"}
		it.Requester = nil
	})
	t1 := t0.Add(2 * time.Minute)
	res = apply(t, s, t1, newer)
	if outcomes(res) != "UPDATED" || res[0].BorrowingRequest != "borrowingRequests/1" {
		t.Fatalf("newer version: %v", res)
	}
	got := get(t, s, 1)
	want = fromItem(newer, nil)
	want.Name, want.CreateTime, want.UpdateTime, want.Etag = "borrowingRequests/1", timestamppb.New(t0), timestamppb.New(t1), got.Etag
	want.NeedsAttention, want.AttentionReason = true, "check the patron"
	if !proto.Equal(got, want) {
		t.Fatalf("updated\n got %v\nwant %v", got, want)
	}
	if got.Etag == flagged.Etag {
		t.Error("etag did not change on update")
	}
	checkEtag(t, got)
	checkIndexes(t, s)

	// The identity is (profile, external id): the same id under another profile is new.
	res = apply(t, s, t1, item("1", lm, func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "integrationProfiles/OTHER" }))
	if outcomes(res) != "CREATED" || res[0].BorrowingRequest != "borrowingRequests/3" {
		t.Fatalf("other profile: %v", res)
	}
	checkIndexes(t, s)
}

func TestDuplicatesInBatch(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	bad := item("1", lm, func(it *requestsv1.IngestItem) { it.Owner = "" })
	res := apply(t, s, t0,
		item("1", lm), item("2", lm), item("1", lm.Add(time.Hour)), // a newer copy is still a duplicate
		bad, item("3", lm, func(it *requestsv1.IngestItem) { it.Owner = "" }), item("3", lm))
	if got := outcomes(res); got != "CREATED CREATED REJECTED REJECTED REJECTED CREATED" {
		t.Fatalf("outcomes %s", got)
	}
	if !strings.Contains(res[2].Reason, "duplicate of items[0]") || res[2].BorrowingRequest != "" {
		t.Errorf("duplicate result: %v", res[2])
	}
	// An invalid item claims no identity: a valid one after it is applied.
	if !strings.Contains(res[4].Reason, "owner") || res[5].BorrowingRequest != "borrowingRequests/3" {
		t.Errorf("invalid then valid: %v, %v", res[4], res[5])
	}
	if r := get(t, s, 1); !r.ExternalReference.LastModifiedTime.AsTime().Equal(lm) {
		t.Errorf("the first of the duplicates must win: %v", r)
	}
	checkIndexes(t, s)
}

// TestHeldBatchTakesNoWrite: a batch the ledger already holds (a re-import) is answered
// without a write transaction, with the outcomes the write path gives; a batch with
// anything new or newer goes through the write path whole.
func TestHeldBatchTakesNoWrite(t *testing.T) {
	lm := t0.Add(-time.Hour)
	invalid := func(it *requestsv1.IngestItem) { it.Owner = "" }
	for _, tc := range []struct {
		name  string
		batch []*requestsv1.IngestItem
		want  string
		write bool
	}{
		{"held, with a repeat and an invalid item", []*requestsv1.IngestItem{item("1", lm), item("2", lm.Add(-time.Minute)), item("1", lm), item("3", lm, invalid)},
			"UNCHANGED UNCHANGED REJECTED REJECTED", false},
		{"one newer", []*requestsv1.IngestItem{item("1", lm), item("2", lm.Add(time.Minute))}, "UNCHANGED UPDATED", true},
		{"one new", []*requestsv1.IngestItem{item("1", lm), item("9", lm)}, "UNCHANGED CREATED", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			apply(t, s, t0, item("1", lm), item("2", lm))
			writes := writesOf(s)
			res := apply(t, s, t0.Add(time.Second), tc.batch...)
			if got := outcomes(res); got != tc.want {
				t.Fatalf("outcomes %s, want %s", got, tc.want)
			}
			if res[0].BorrowingRequest != "borrowingRequests/1" {
				t.Errorf("unchanged result names %q", res[0].BorrowingRequest)
			}
			if wrote := writesOf(s) > writes; wrote != tc.write {
				t.Errorf("wrote %v, want %v", wrote, tc.write)
			}
			checkIndexes(t, s)
		})
	}
}

// writesOf is how many page writes the store's committed transactions have made.
func writesOf(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}

// TestRejections checks every reason the ledger refuses an item for: an identity or a
// version it cannot store (checkIdentity). The item is rejected with a reason naming the
// field, nothing of it is written, and the valid items around it are applied. Every
// other field-level problem is a data warning (TestDataWarnings).
func TestRejections(t *testing.T) {
	type mod = func(*requestsv1.IngestItem)
	for _, tc := range []struct {
		name  string
		mod   mod
		field string // the reason starts with it
	}{
		{"no external reference", func(it *requestsv1.IngestItem) { it.ExternalReference = nil }, "external_reference: is required"},
		{"no profile", func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "" }, "external_reference.profile"},
		{"profile of another collection", func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "partners/LIB" }, "external_reference.profile"},
		{"bare profile code", func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "LIB" }, "external_reference.profile"},
		{"profile with bad code", func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "integrationProfiles/a/b" }, "external_reference.profile"},
		{"no external id", func(it *requestsv1.IngestItem) { it.ExternalReference.ExternalId = "" }, "external_reference.external_id"},
		{"external id too long", func(it *requestsv1.IngestItem) { it.ExternalReference.ExternalId = strings.Repeat("9", 257) }, "external_reference.external_id"},
		{"external id with space", func(it *requestsv1.IngestItem) { it.ExternalReference.ExternalId = "12 3" }, "external_reference.external_id"},
		{"external id with NUL", func(it *requestsv1.IngestItem) { it.ExternalReference.ExternalId = "12\x003" }, "external_reference.external_id"},
		{"external id not UTF-8", func(it *requestsv1.IngestItem) { it.ExternalReference.ExternalId = "12\xff" }, "external_reference.external_id"},
		{"no last modified", func(it *requestsv1.IngestItem) { it.ExternalReference.LastModifiedTime = nil }, "external_reference.last_modified_time"},
		{"invalid last modified", func(it *requestsv1.IngestItem) {
			it.ExternalReference.LastModifiedTime = &timestamppb.Timestamp{Nanos: -1}
		}, "external_reference.last_modified_time"},
		{"last modified far ahead", func(it *requestsv1.IngestItem) {
			it.ExternalReference.LastModifiedTime = timestamppb.New(t0.Add(25 * time.Hour))
		}, "external_reference.last_modified_time"},
		{"no owner", func(it *requestsv1.IngestItem) { it.Owner = "" }, "owner"},
		{"owner not a code", func(it *requestsv1.IngestItem) { it.Owner = "G UB" }, "owner"},
		{"many faults, with field-level ones", func(it *requestsv1.IngestItem) {
			it.ExternalReference.Profile, it.ExternalReference.ExternalId, it.ExternalReference.LastModifiedTime = "", "", nil
			it.Owner, it.Partner, it.ExternalStatus, it.Note = "", "x", 0, "\xff"
		}, "external_reference.profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			apply(t, s, t0, item("0", t0))
			before := dump(t, s)
			bad := item("X", t0, tc.mod)
			res := apply(t, s, t0.Add(time.Minute), bad)
			if outcomes(res) != "REJECTED" || !strings.HasPrefix(res[0].Reason, tc.field) || res[0].BorrowingRequest != "" || len(res[0].Warnings) != 0 {
				t.Fatalf("result %v, want REJECTED starting %q", res[0], tc.field)
			}
			if n := strings.Count(res[0].Reason, ";"); n > maxReasonViolations {
				t.Errorf("reason lists too much: %q", res[0].Reason)
			}
			if after := dump(t, s); len(after) != len(before) {
				t.Errorf("a rejected item wrote something: %d keys, was %d", len(after), len(before))
			}
			// Around valid items, only the bad one is refused; as an update, too.
			bad = item("0", t0.Add(time.Second), tc.mod)
			res = apply(t, s, t0.Add(2*time.Minute), item("1", t0), bad, item("2", t0))
			if outcomes(res) != "CREATED REJECTED CREATED" {
				t.Errorf("mixed batch: %s", outcomes(res))
			}
			if r := get(t, s, 1); !r.UpdateTime.AsTime().Equal(t0) {
				t.Errorf("a rejected update changed the request: %v", r)
			}
			checkIndexes(t, s)
		})
	}
	// Limits are inclusive, and an item at every limit is clean.
	s := newStore(t)
	res := apply(t, s, t0, item(strings.Repeat("9", 256), t0.Add(24*time.Hour), func(it *requestsv1.IngestItem) {
		it.Bibliographic.Title, it.Note = strings.Repeat("é", MaxText), strings.Repeat("x", MaxText)
		it.Rota = make([]*requestsv1.RotaEntry, maxRota)
		for i := range it.Rota {
			it.Rota[i] = &requestsv1.RotaEntry{PartnerCode: fmt.Sprint("L", i), Response: strings.Repeat("r", MaxText)}
		}
	}))
	if outcomes(res) != "CREATED" || len(res[0].Warnings) != 0 {
		t.Errorf("item at the limits: %v", res[0])
	}
	if r := get(t, s, 1); len([]rune(r.Bibliographic.Title)) != MaxText || len(r.Rota) != maxRota || len(r.DataWarnings) != 0 {
		t.Errorf("item at the limits was changed: title %d characters, %d rota entries, warnings %v",
			len([]rune(r.Bibliographic.Title)), len(r.Rota), r.DataWarnings)
	}
	// A nil item is rejected, not a crash.
	if res := apply(t, s, t0, nil); outcomes(res) != "REJECTED" {
		t.Errorf("nil item: %v", res)
	}
}

// TestIndexesFollowUpdates moves requests through every indexed field, including closing
// them (out of idx_open) and emptying values (their counts disappear), checking the
// indexes after each batch.
func TestIndexesFollowUpdates(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	with := func(ext string, n int, status requestsv1.Status, owner, partner string) *requestsv1.IngestItem {
		return item(ext, lm.Add(time.Duration(n)*time.Second), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Owner, it.Partner = status, owner, partner
		})
	}
	steps := [][]*requestsv1.IngestItem{
		{with("1", 0, stCreated, "GUB", "partners/A"), with("2", 0, stCreated, "GUB", ""), with("3", 0, stSent, "KB", "partners/B")},
		{with("1", 1, stSent, "GUB", "partners/A")},                                                    // status only
		{with("1", 2, stSent, "KB", "partners/B"), with("2", 1, stCreated, "GUB", "partners/A")},       // owner, partner
		{with("3", 1, stCompleted, "KB", "partners/B"), with("2", 2, stCompleted, "UUB", "")},          // closed
		{with("1", 2, stCompleted, "KB", "partners/B"), with("3", 2, stCompleted, "KB", "partners/B")}, // one unchanged, one only newer
	}
	for i, batch := range steps {
		apply(t, s, t0.Add(time.Duration(i)*time.Minute), batch...)
		checkIndexes(t, s)
	}
	// Counts of values no request has any more are gone.
	noErr(t, s.db.View(func(tx *bolt.Tx) error {
		for _, c := range []struct {
			ix    *index
			value string
			want  uint64
		}{
			{idxOwner, "GUB", 0}, {idxOwner, "KB", 2}, {idxOwner, "UUB", 1},
			{idxOpen, "", 1}, {idxAll, "", 3}, {idxStatus, statusValue(stCompleted), 2},
			{idxPartner, "partners/A", 0}, {idxPartner, "", 1},
		} {
			if n := c.ix.count(tx, c.value); n != c.want {
				t.Errorf("count %s[%q] = %d, want %d", c.ix.name, c.value, n, c.want)
			}
		}
		if v := tx.Bucket(bucketCounts).Get(idxOwner.countKey("GUB")); v != nil {
			t.Error("a zero count is still stored")
		}
		return nil
	}))
}

// TestBatchIsAllOrNothing fails a batch after some of its items were applied (a hook in
// the transaction, and an ended context) and requires the file to be exactly as before,
// including the ID sequence.
func TestBatchIsAllOrNothing(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	apply(t, s, t0, item("1", lm), item("2", lm))
	before := dump(t, s)
	batch := []*requestsv1.IngestItem{item("1", lm.Add(time.Hour)), item("3", lm), item("2", lm), item("4", lm)}

	boom := errors.New("disk on fire")
	s.afterItem = func(i int) error {
		if i == 2 {
			return boom
		}
		return nil
	}
	if _, err := s.ApplyBatch(context.Background(), "", batch, t0.Add(time.Minute)); !errors.Is(err, boom) {
		t.Fatalf("ApplyBatch = %v, want the injected failure", err)
	}
	s.afterItem = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ApplyBatch(ctx, "", batch, t0.Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyBatch with an ended context = %v", err)
	}
	after := dump(t, s)
	if len(after) != len(before) {
		t.Fatalf("failed batches left %d keys, want %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%q changed", k)
		}
	}
	res := apply(t, s, t0.Add(time.Minute), batch...)
	if outcomes(res) != "UPDATED CREATED UNCHANGED CREATED" || res[1].BorrowingRequest != "borrowingRequests/3" {
		t.Fatalf("retried batch: %v", res)
	}
	checkIndexes(t, s)

	if _, err := s.ApplyBatch(context.Background(), "", make([]*requestsv1.IngestItem, MaxBatch+1), t0); !errors.Is(err, ErrBatchTooLarge) {
		t.Errorf("oversized batch: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.db")
	s, err := Open(path, Options{})
	noErr(t, err)
	apply(t, s, t0, item("1", t0), item("2", t0))
	r1, err := s.Get(1)
	noErr(t, err)
	noErr(t, s.Close())

	s = open(t, path)
	if got := get(t, s, 1); !proto.Equal(got, r1) {
		t.Errorf("after reopen: %v, want %v", got, r1)
	}
	if _, err := s.Get(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(3) = %v, want ErrNotFound", err)
	}
	// The identity survives (no duplicate), and so does the ID sequence.
	res := apply(t, s, t0, item("1", t0), item("3", t0))
	if outcomes(res) != "UNCHANGED CREATED" || res[1].BorrowingRequest != "borrowingRequests/3" {
		t.Errorf("after reopen: %v", res)
	}
	list, _, err := s.List(Filter{}, nil, 10, 0)
	noErr(t, err)
	if len(list) != 3 {
		t.Errorf("List after reopen: %d requests", len(list))
	}
	checkIndexes(t, s)
}

func TestParseID(t *testing.T) {
	for in, ok := range map[string]bool{"1": true, "18446744073709551615": true, "0": false, "01": false,
		"-1": false, "+1": false, "1.0": false, "": false, "18446744073709551616": false, "x": false} {
		if n, got := ParseID(in); got != ok || (ok && Name(n) != "borrowingRequests/"+in) {
			t.Errorf("ParseID(%q) = %d, %v", in, n, got)
		}
	}
}

func BenchmarkIngestBatch(b *testing.B) {
	for _, bc := range []struct {
		name    string
		version func(round int) time.Time // external last-modified time of a round's items
		fresh   bool                      // new external ids every round
	}{
		{"created", func(int) time.Time { return t0 }, true},
		{"updated", func(round int) time.Time { return t0.Add(-time.Hour).Add(time.Duration(round) * time.Millisecond) }, false},
		{"unchanged", func(int) time.Time { return t0 }, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStore(b)
			batch := func(round int) []*requestsv1.IngestItem {
				items := make([]*requestsv1.IngestItem, MaxBatch)
				for i := range items {
					id := i
					if bc.fresh {
						id += round * MaxBatch
					}
					items[i] = item(fmt.Sprint(id), bc.version(round), func(it *requestsv1.IngestItem) {
						it.Owner = fmt.Sprintf("LIB%d", i%20)
						it.ExternalStatus = requestsv1.Status(1 + i%17)
					})
				}
				return items
			}
			apply(b, s, t0, batch(-1)...) // the ledger starts with one batch in it
			rounds := 0
			for b.Loop() {
				b.StopTimer()
				items := batch(rounds)
				b.StartTimer()
				apply(b, s, t0.Add(time.Duration(rounds+1)*time.Second), items...)
				rounds++
			}
			b.ReportMetric(float64(rounds*MaxBatch)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// TestIndexValuesOutliveTheCode: the entries and counts a write removes are the ones the
// previous write stored, not the old record's values computed again. Word splitting
// changes between two writes here (as in an upgrade); nothing of the old words is left.
func TestIndexValuesOutliveTheCode(t *testing.T) {
	s := newStore(t)
	apply(t, s, t0, item("1", t0.Add(-time.Hour)), item("2", t0.Add(-time.Hour)))
	checkIndexes(t, s)

	split := idxWord.values
	t.Cleanup(func() { idxWord.values = split })
	// Tomorrow's splitter: every word with a prefix.
	idxWord.values = func(r *requestsv1.BorrowingRequest) []string {
		var out []string
		for _, w := range split(r) {
			out = append(out, "v2:"+w)
		}
		return out
	}
	// Both requests written again under the new splitter: exactly the new words remain.
	apply(t, s, t0.Add(time.Minute), item("1", t0, func(it *requestsv1.IngestItem) { it.Bibliographic.Title = "Hemsöborna" }),
		item("2", t0))
	checkIndexes(t, s) // would find old words left behind had they been recomputed on delete
	noErr(t, s.db.View(func(tx *bolt.Tx) error {
		if n := idxWord.entriesUpTo(tx, "strindberg", math.MaxUint64); n != 0 {
			t.Errorf("entries of strindberg %d, want 0", n)
		}
		if n := idxWord.entriesUpTo(tx, "v2:strindberg", math.MaxUint64); n != 2 {
			t.Errorf("entries of v2:strindberg %d, want 2", n)
		}
		return nil
	}))
}

// TestCountsNeverGoBelowZero: a count that would drop below zero means the counts and the
// entries disagree; the write fails and writes nothing, instead of clamping and hiding it.
func TestCountsNeverGoBelowZero(t *testing.T) {
	s := newStore(t)
	apply(t, s, t0, item("1", t0.Add(-time.Hour)))
	noErr(t, s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCounts).Delete(idxOwner.countKey("GUB")) }))
	before := dump(t, s)
	_, err := s.ApplyBatch(context.Background(), "", []*requestsv1.IngestItem{
		item("1", t0, func(it *requestsv1.IngestItem) { it.Owner = "KB" })}, t0.Add(time.Minute))
	if err == nil || !strings.Contains(err.Error(), "would drop below zero") {
		t.Fatalf("update over a missing count: %v", err)
	}
	if after := dump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("the failed write changed the file")
	}
	noErr(t, s.db.Update(func(tx *bolt.Tx) error {
		for _, tc := range []struct {
			n      int
			deltas []int
			err    bool
		}{
			{0, []int{1}, false}, {2, []int{-1}, false}, {1, []int{-1}, false}, {0, []int{-1}, true}, {1, []int{-2}, true},
			{3, []int{-1, -1, 1, -1}, false},
			// Checked change by change, not by the net change: -1 on 0 fails though +1 follows.
			{0, []int{-1, 1}, true},
		} {
			k := idxOwner.countKey("X")
			if err := tx.Bucket(bucketCounts).Delete(k); err != nil {
				return err
			}
			if tc.n > 0 {
				if err := tx.Bucket(bucketCounts).Put(k, boltdb.Uint64Key(uint64(tc.n))); err != nil {
					return err
				}
			}
			c := newCountCache(tx)
			var err error
			want := tc.n
			for _, d := range tc.deltas {
				if err = c.add(idxOwner, "X", d); err != nil {
					break
				}
				want += d
			}
			if (err != nil) != tc.err {
				t.Errorf("%d%v: %v", tc.n, tc.deltas, err)
			}
			if err == nil {
				if err := c.flush(); err != nil {
					return err
				}
				if idxOwner.count(tx, "X") != uint64(want) {
					t.Errorf("%d%v = %d", tc.n, tc.deltas, idxOwner.count(tx, "X"))
				}
				if v := tx.Bucket(bucketCounts).Get(k); want == 0 && v != nil {
					t.Error("a zero count is stored")
				}
			}
		}
		return nil
	}))
}

// TestIndexValuesDamaged: a request whose stored index values are missing or malformed
// cannot be changed (its entries could not be removed): an error, not a guess.
func TestIndexValuesDamaged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte // nil: deleted
	}{
		{"missing", nil},
		{"unknown index", []byte{99, 1, 0}},
		{"truncated", []byte{idxOwner.id, 1, 5, 'G'}},
		{"repeated index", []byte{idxOwner.id, 0, idxOwner.id, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			apply(t, s, t0, item("1", t0.Add(-time.Hour)))
			noErr(t, s.db.Update(func(tx *bolt.Tx) error {
				if tc.value == nil {
					return tx.Bucket(bucketIndexValues).Delete(boltdb.Uint64Key(1))
				}
				return tx.Bucket(bucketIndexValues).Put(boltdb.Uint64Key(1), tc.value)
			}))
			if _, err := s.Act(1, "", Command{Action: lifecycle.AddNote, Note: "x"}, t0.Add(time.Minute)); err == nil ||
				!strings.Contains(err.Error(), "borrowing request 1") {
				t.Errorf("act: %v", err)
			}
		})
	}
	// encode and decode agree, including an empty value and no values.
	v := indexValues{}
	v[idxAll.id], v[idxWord.id], v[idxOwner.id] = []string{""}, []string{"a", "röda"}, []string{}
	got, err := decodeValues(v.encode())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(v) {
		t.Errorf("round trip %v, %v", got, err)
	}
}

// TestIndexKeyLayout: an entry's key is its posting's key (the value's prefix, then
// MaxUint64 − the request's time in Unix nanoseconds) and its id, all big-endian, which
// List's ranges and cursors rely on; a posting's value is its ids as uvarint deltas.
func TestIndexKeyLayout(t *testing.T) {
	r := &requestsv1.BorrowingRequest{UpdateTime: timestamppb.New(t0), CreateTime: timestamppb.New(t0.Add(-time.Hour))}
	timeID := func(at time.Time) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, math.MaxUint64-uint64(at.UnixNano())), 7)
	}
	for _, tc := range []struct {
		ix    *index
		value string
		want  []byte
	}{
		{idxOwner, "GUB", append([]byte("GUB\x00"), timeID(t0)...)},
		{idxAll, "", timeID(t0)},
		{idxCreated, "", timeID(t0.Add(-time.Hour))},
	} {
		if got := tc.ix.key(tc.value, r, 7); !bytes.Equal(got, tc.want) {
			t.Errorf("%s key %x, want %x", tc.ix.name, got, tc.want)
		}
		if got := tc.ix.postingKey(tc.value, r); !bytes.Equal(got, tc.want[:len(tc.want)-8]) {
			t.Errorf("%s posting key %x, want %x", tc.ix.name, got, tc.want[:len(tc.want)-8])
		}
	}
	if got := appendPosting(nil, []uint64{3, 4, 300}); !bytes.Equal(got, []byte{3, 1, 0xa8, 0x02}) {
		t.Errorf("posting %x", got)
	}
	for _, bad := range [][]byte{nil, {0}, {3, 0}, {0x80}} {
		if _, err := decodePosting([]byte("k"), bad); err == nil {
			t.Errorf("posting %x decoded", bad)
		}
	}
}
