package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// TestMergedKVWalksTheUnion: any sequence of cursor moves over two sources answers
// exactly as the same moves over one source holding both.
func TestMergedKVWalksTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var a, b, union [][2][]byte
		for i := range rng.IntN(12) {
			p := [2][]byte{fmt.Appendf(nil, "k%03d", i*3+rng.IntN(3)), fmt.Appendf(nil, "v%d", i)}
			if len(union) > 0 && bytes.Equal(union[len(union)-1][0], p[0]) {
				continue
			}
			union = append(union, p)
			if rng.IntN(2) == 0 {
				a = append(a, p)
			} else {
				b = append(b, p)
			}
		}
		m := &mergedKV{a: &memKV{kv: a, i: -1}, b: &memKV{kv: b, i: -1}}
		want := &memKV{kv: union, i: -1}
		var ops []string
		for range 20 {
			var gk, wk []byte
			switch op := rng.IntN(5); op {
			case 0:
				gk, _ = m.First()
				wk, _ = want.First()
				ops = append(ops, "First")
			case 1:
				gk, _ = m.Last()
				wk, _ = want.Last()
				ops = append(ops, "Last")
			case 2:
				k := fmt.Appendf(nil, "k%03d", rng.IntN(40))
				gk, _ = m.Seek(k)
				wk, _ = want.Seek(k)
				ops = append(ops, "Seek "+string(k))
			case 3, 4:
				if _, v := want.at(); v == nil {
					continue // moving on from off an end: postingCursor never does
				}
				if op == 3 {
					gk, _ = m.Next()
					wk, _ = want.Next()
					ops = append(ops, "Next")
				} else {
					gk, _ = m.Prev()
					wk, _ = want.Prev()
					ops = append(ops, "Prev")
				}
			}
			if !bytes.Equal(gk, wk) {
				t.Fatalf("round %d: after %v: got %q, want %q (a %q, b %q)", round, ops, gk, wk, a, b)
			}
		}
	}
}

// TestRecentWordsMerge: word postings stay exact and searchable across the merge of
// word_recent into post_word, through updates that move words of requests in either
// bucket, and List by word answers as a filter over every request does, page by page,
// in both orders.
func TestRecentWordsMerge(t *testing.T) {
	s := newStore(t)
	titles := []string{"Röda rummet", "Hemsöborna", "Doktor Glas", "Gösta Berlings saga"}
	now := t0
	for round := range maxRecentTimes + 10 {
		now = now.Add(time.Second)
		var items []*requestsv1.IngestItem
		for i := range 3 {
			ext := fmt.Sprint(round*3 + i)
			if round%5 == 4 {
				ext = fmt.Sprint((round - 4) * 3) // an update of a request imported earlier
			}
			items = append(items, item(ext, now, func(it *requestsv1.IngestItem) {
				it.Bibliographic.Title = titles[(round+i)%len(titles)]
			}))
			if round%5 == 4 {
				break
			}
		}
		apply(t, s, now, items...)
		if times := recentTimeCount(t, s); times > maxRecentTimes {
			t.Fatalf("round %d: word_recent holds %d transactions after an ingest, more than %d", round, times, maxRecentTimes)
		}
		if round%7 == 6 { // a staff action adds a transaction and leaves the merge to ingest
			_, err := s.Act(uint64(round), "", Command{Action: lifecycle.AddNote, Note: "n", Actor: "staff"}, now)
			noErr(t, err)
		}
	}
	checkIndexes(t, s)
	var merged, recent int
	noErr(t, s.db.View(func(tx *bolt.Tx) error {
		merged, recent = tx.Bucket(idxWord.bucket).Stats().KeyN, tx.Bucket(bucketRecentWords).Stats().KeyN
		return nil
	}))
	if merged == 0 || recent == 0 {
		t.Fatalf("post_word %d postings, word_recent %d: the test should leave words in both", merged, recent)
	}
	checkWordQueries(t, s, "röda", "glas", "strindberg", "saga hemsöborna", "nothing")
}

// checkWordQueries requires List by each query's words to answer as a filter over every
// request does, page by page, in both orders.
func checkWordQueries(t *testing.T, s *Store, queries ...string) {
	t.Helper()
	all, _, err := s.List(Filter{}, nil, 10_000, 0)
	noErr(t, err)
	for _, q := range queries {
		for _, order := range []Order{UpdatedNewestFirst, UpdatedOldestFirst} {
			f := Filter{Words: QueryWords(q), Order: order}
			var want []string
			for _, r := range all {
				if f.match(r) {
					want = append(want, r.GetName())
				}
			}
			if order == UpdatedOldestFirst {
				slices.Reverse(want)
			}
			var got []string
			var after []byte
			for {
				page, next, err := s.List(f, after, 4, 0)
				noErr(t, err)
				for _, r := range page {
					got = append(got, r.GetName())
				}
				if after = next; next == nil {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%q order %d: got %v, want %v", q, order, got, want)
			}
		}
	}
}

// wordBucketSizes are the postings in post_word, word_mid and word_recent.
func wordBucketSizes(t *testing.T, s *Store) (words, mid, recent int) {
	t.Helper()
	noErr(t, s.db.View(func(tx *bolt.Tx) error {
		words = tx.Bucket(idxWord.bucket).Stats().KeyN
		mid = tx.Bucket(bucketMidWords).Stats().KeyN
		recent = tx.Bucket(bucketRecentWords).Stats().KeyN
		return nil
	}))
	return words, mid, recent
}

// TestWordMidLevel: on a ledger whose post_word is large beside the new postings, a
// merge of word_recent goes to word_mid, leaving post_word as it was; postings in all
// three buckets are changed where they are and read as one; once word_mid would hold
// more than 1/midShare of post_word, it goes into post_word with word_recent.
func TestWordMidLevel(t *testing.T) {
	s := newStore(t)
	now := t0
	tick := func() time.Time { now = now.Add(time.Second); return now }
	titles := []string{"Röda rummet", "Hemsöborna", "Doktor Glas", "Gösta Berlings saga"}
	for b := range 2 {
		var items []*requestsv1.IngestItem
		for i := b * MaxBatch; i < (b+1)*MaxBatch; i++ {
			items = append(items, item(fmt.Sprint("big-", i), t0, func(it *requestsv1.IngestItem) {
				it.Bibliographic.Title = fmt.Sprintf("%s volym%d", titles[i%len(titles)], i)
			}))
		}
		apply(t, s, tick(), items...)
	}
	noErr(t, s.db.Update(func(tx *bolt.Tx) error { return mergeRecentWords(tx, mergeAll) }))
	words0, _, _ := wordBucketSizes(t, s)

	// Small batches, each updating one of the big batch's requests (its postings in
	// post_word) and creating one: the merge beyond maxRecentTimes lands in word_mid.
	small := func(round int) {
		apply(t, s, tick(),
			item(fmt.Sprint("big-", round), t0.Add(time.Duration(round+1)*time.Minute), func(it *requestsv1.IngestItem) {
				it.Bibliographic.Title = titles[(round+1)%len(titles)]
			}),
			item(fmt.Sprint("small-", round), t0, func(it *requestsv1.IngestItem) {
				it.Bibliographic.Title = fmt.Sprintf("Kallocain del%d", round)
			}))
	}
	round := 0
	for ; round <= maxRecentTimes; round++ {
		small(round)
	}
	words, mid, recent := wordBucketSizes(t, s)
	if mid == 0 || recent != 0 || words > words0 {
		t.Fatalf("after %d small batches: post_word %d (was %d), word_mid %d, word_recent %d: want the merge in word_mid alone",
			round, words, words0, mid, recent)
	}
	// Update requests whose postings are now in word_mid, and more small batches: the
	// postings are in all three buckets.
	for ; round <= maxRecentTimes+10; round++ {
		apply(t, s, tick(), item(fmt.Sprint("small-", round-maxRecentTimes), t0.Add(time.Hour), func(it *requestsv1.IngestItem) {
			it.Bibliographic.Title = "Aniara"
		}))
		small(round)
	}
	if words, mid, recent = wordBucketSizes(t, s); words == 0 || mid == 0 || recent == 0 {
		t.Fatalf("post_word %d, word_mid %d, word_recent %d: the test should leave words in all three", words, mid, recent)
	}
	checkIndexes(t, s)
	checkWordQueries(t, s, "röda", "glas", "kallocain", "aniara", "del3", "volym7", "saga hemsöborna", "nothing")

	// Until word_mid is merged into post_word, which a few more merges bring about.
	for mid != 0 {
		if round > 20*maxRecentTimes {
			t.Fatalf("round %d: word_mid still holds %d postings beside post_word's %d", round, mid, words)
		}
		small(round)
		round++
		words, mid, _ = wordBucketSizes(t, s)
	}
	if words <= words0 {
		t.Fatalf("word_mid emptied, yet post_word holds %d postings, as before (%d)", words, words0)
	}
	checkIndexes(t, s)
	checkWordQueries(t, s, "röda", "kallocain", "aniara", "del70", "volym7")
}

func recentTimeCount(t *testing.T, s *Store) (n int) {
	t.Helper()
	noErr(t, s.db.View(func(tx *bolt.Tx) error { n = len(recentTimes(tx, -1)); return nil }))
	return n
}

// TestStaffWritesLeaveTheMergeToIngest: writes other than ingest let word_recent grow to
// maxRecentTimesAny transactions before they merge it, and the next ingest batch
// merges as soon as it holds more than maxRecentTimes.
func TestStaffWritesLeaveTheMergeToIngest(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	// A word posting is under its request's update time: each action on another request
	// adds a transaction's postings, while the ingest's keep the requests not acted on.
	var items []*requestsv1.IngestItem
	for i := range maxRecentTimesAny + 2*maxRecentTimes {
		items = append(items, item(fmt.Sprint(i), t0))
	}
	apply(t, s, clk.now(), items...)
	id := uint64(0)
	act := func() {
		id++
		do(t, s, id, Command{Action: lifecycle.AddNote, Note: "n", Actor: "staff"}, clk.now())
	}
	for i := range maxRecentTimesAny {
		act()
		want := i + 2 // the ingest's transaction and one per action so far
		if want > maxRecentTimesAny {
			want = 0 // the action beyond the bound merged
		}
		if got := recentTimeCount(t, s); got != want {
			t.Fatalf("after %d actions: word_recent holds %d transactions, want %d", i+1, got, want)
		}
	}
	for range maxRecentTimes {
		act()
	}
	if got := recentTimeCount(t, s); got != maxRecentTimes {
		t.Fatalf("word_recent holds %d transactions, want %d", got, maxRecentTimes)
	}
	apply(t, s, clk.now(), item("new", t0))
	if got := recentTimeCount(t, s); got != 0 {
		t.Errorf("after an ingest beyond maxRecentTimes: word_recent holds %d transactions, want 0", got)
	}
	checkIndexes(t, s)
}
