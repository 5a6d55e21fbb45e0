package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// seed creates one request per spec, each in its own batch a second after the previous,
// so the last one is the most recently updated.
func seed(t *testing.T, s *Store, specs ...func(*requestsv1.IngestItem)) {
	t.Helper()
	for i, spec := range specs {
		res := apply(t, s, t0.Add(time.Duration(i)*time.Second), item(fmt.Sprint(i+1), t0, spec))
		if res[0].Outcome != created {
			t.Fatalf("seed %d: %v", i, res[0])
		}
	}
}

func owned(owner string, status requestsv1.Status) func(*requestsv1.IngestItem) {
	return func(it *requestsv1.IngestItem) { it.Owner, it.ExternalStatus = owner, status }
}

// listAll pages through f with limit and maxScan and returns the external ids in order,
// the number of calls, and the index each cursor named.
func listAll(t *testing.T, s *Store, f Filter, limit, maxScan int) (ids []string, calls int, walked []byte) {
	t.Helper()
	var after []byte
	for {
		page, next, err := s.List(f, after, limit, maxScan)
		noErr(t, err)
		calls++
		if len(page) > limit {
			t.Fatalf("page of %d, limit %d", len(page), limit)
		}
		for _, r := range page {
			ids = append(ids, r.GetExternalReference().GetExternalId())
		}
		if next == nil {
			return ids, calls, walked
		}
		walked = append(walked, next[0])
		if after = next; calls > 1000 {
			t.Fatal("listing does not end")
		}
	}
}

func TestListPlan(t *testing.T) {
	s := newStore(t)
	var specs []func(*requestsv1.IngestItem)
	for range 8 {
		specs = append(specs, owned("GUB", stCreated))
	}
	specs = append(specs, owned("KB", stCreated), owned("KB", stCreated), owned("GUB", stSent), owned("KB", stCompleted))
	seed(t, s, specs...) // ids 1-8 GUB created, 9-10 KB created, 11 GUB sent, 12 KB completed

	for _, tc := range []struct {
		name   string
		f      Filter
		want   []string
		walked *index // nil: no cursor (direct lookup, or a single page)
	}{
		{"nothing: all", Filter{}, []string{"12", "11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"}, idxAll},
		{"owner is rarer than status", Filter{Owner: "KB", Status: stCreated}, []string{"10", "9"}, idxOwner},
		{"status is rarer than owner", Filter{Owner: "GUB", Status: stSent}, []string{"11"}, nil},
		{"open only", Filter{OpenOnly: true}, []string{"11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"}, idxOpen},
		{"open only and owner", Filter{OpenOnly: true, Owner: "KB"}, []string{"10", "9"}, idxOwner},
		{"closed status and open only", Filter{OpenOnly: true, Status: stCompleted}, nil, nil},
		{"external id", Filter{ExternalID: "3"}, []string{"3"}, nil},
		{"external id and owner", Filter{ExternalID: "3", Owner: "KB"}, nil, nil},
		{"identity", Filter{ExternalID: "9", Profile: "integrationProfiles/LIB"}, []string{"9"}, nil},
		{"identity, other filter", Filter{ExternalID: "9", Profile: "integrationProfiles/LIB", Owner: "GUB"}, nil, nil},
		{"unknown identity", Filter{ExternalID: "9", Profile: "integrationProfiles/X"}, nil, nil},
		{"unknown owner", Filter{Owner: "NONE"}, nil, nil},
	} {
		ids, _, walked := listAll(t, s, tc.f, 1, 0)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
		if tc.walked != nil && (len(walked) == 0 || walked[0] != tc.walked.id) {
			t.Errorf("%s: walked index %v, want %s", tc.name, walked, tc.walked.name)
		}
	}
	// The status index wins here: its cursor names it.
	_, next, err := s.List(Filter{Owner: "GUB", Status: stSent}, nil, 1, 0)
	noErr(t, err)
	if next != nil {
		t.Errorf("a single match must not leave a cursor: %x", next)
	}
	s2 := newStore(t)
	seed(t, s2, owned("GUB", stSent), owned("GUB", stSent), owned("GUB", stCreated), owned("KB", stCreated), owned("KB", stCreated))
	if _, next, _ := s2.List(Filter{Owner: "GUB", Status: stSent}, nil, 1, 0); len(next) == 0 || next[0] != idxStatus.id {
		t.Errorf("GUB has 3, SENT 2: cursor %x, want the status index", next)
	}
}

// TestListCursorKeepsItsIndex changes the counts between two pages so the planner would
// now pick another index: the listing continues on the index its cursor names.
func TestListCursorKeepsItsIndex(t *testing.T) {
	s := newStore(t)
	seed(t, s, owned("KB", stSent), owned("KB", stSent), owned("KB", stCreated), owned("GUB", stSent),
		owned("GUB", stSent), owned("GUB", stSent))
	f := Filter{Owner: "KB", Status: stSent}
	page, next, err := s.List(f, nil, 1, 0)
	noErr(t, err)
	if len(page) != 1 || page[0].ExternalReference.ExternalId != "2" || next[0] != idxOwner.id {
		t.Fatalf("first page %v, cursor %x", page, next)
	}
	// Many more KB requests, none sent: now the status index is the smaller one.
	for i := range 5 {
		apply(t, s, t0.Add(time.Hour), item(fmt.Sprint(100+i), t0, owned("KB", stCreated)))
	}
	page, next, err = s.List(f, next, 1, 0)
	noErr(t, err)
	if len(page) != 1 || page[0].ExternalReference.ExternalId != "1" || next != nil {
		t.Errorf("second page %v, cursor %x", page, next)
	}
}

func TestListBadCursors(t *testing.T) {
	s := newStore(t)
	seed(t, s, owned("KB", stSent), owned("KB", stSent), owned("GUB", stSent))
	_, ownerCursor, err := s.List(Filter{Owner: "KB"}, nil, 1, 0)
	noErr(t, err)
	_, allCursor, err := s.List(Filter{}, nil, 1, 0)
	noErr(t, err)
	for _, tc := range []struct {
		name   string
		f      Filter
		cursor []byte
	}{
		{"another value of the index", Filter{Owner: "GUB"}, ownerCursor},
		{"an index this filter cannot use", Filter{Status: stSent}, ownerCursor},
		{"all for a filter", Filter{Owner: "KB"}, allCursor},
		{"truncated", Filter{Owner: "KB"}, ownerCursor[:len(ownerCursor)-1]},
		{"too long", Filter{}, append(slices.Clone(allCursor), 0)},
		{"unknown index", Filter{}, append([]byte{99}, allCursor[1:]...)},
		{"a direct lookup", Filter{Profile: "integrationProfiles/LIB", ExternalID: "1"}, allCursor},
		{"empty", Filter{}, []byte{}},
	} {
		if _, _, err := s.List(tc.f, tc.cursor, 1, 0); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", tc.name, err)
		}
	}
}

// TestListScanBound hides the matches behind many entries that the walked index holds
// but the other filter rejects: each call examines at most maxScan entries, returning
// short (here empty) pages with a cursor, and paging still finds every match once.
func TestListScanBound(t *testing.T) {
	s := newStore(t)
	var specs []func(*requestsv1.IngestItem)
	specs = append(specs, owned("KB", stSent), owned("KB", stSent), owned("KB", stSent)) // oldest: the matches
	for range 25 {
		specs = append(specs, owned("KB", stCreated), owned("GUB", stSent))
	}
	seed(t, s, specs...)
	f := Filter{Owner: "KB", Status: stSent} // 28 each: the status index wins the tie
	page, next, err := s.List(f, nil, 5, 10)
	noErr(t, err)
	if len(page) != 0 || next == nil {
		t.Fatalf("first page %d items, cursor %x: want an empty page with a cursor", len(page), next)
	}
	for _, limit := range []int{1, 2, 3, 5} {
		ids, calls, _ := listAll(t, s, f, limit, 10)
		if !slices.Equal(ids, []string{"3", "2", "1"}) {
			t.Errorf("limit %d: got %v", limit, ids)
		}
		// The 25 rejected entries in front take at least 3 calls of 10.
		if calls < 3 {
			t.Errorf("limit %d: %d calls, the bound was not applied", limit, calls)
		}
	}
	ids, calls, _ := listAll(t, s, f, 5, 0)
	if len(ids) != 3 || calls != 1 {
		t.Errorf("unbounded: %v in %d calls", ids, calls)
	}
}

// queryLedger stores 40 requests with varied titles, authors, owners and statuses, then
// changes some of them so update order differs from create order, and flags some.
func queryLedger(t *testing.T) (*Store, []*requestsv1.BorrowingRequest) {
	t.Helper()
	s := newStore(t)
	titles := []string{"Röda rummet", "Hemsöborna", "Fröken Julie", "Röda huset", "Infödingarna på Röda rummet"}
	authors := []string{"August Strindberg", "Selma Lagerlöf", "Jean-Paul Sartre"}
	clk := &clock{t: t0}
	for i := range 40 {
		apply(t, s, clk.now(), item(fmt.Sprintf("2603%02d-%04d", i%7, i), t0, func(it *requestsv1.IngestItem) {
			it.Bibliographic = &requestsv1.Bibliographic{Title: titles[i%5], Author: authors[i%3], Isbn: "978-91-" + fmt.Sprint(i)}
			it.Owner = []string{"GUB", "KB"}[i%2]
			it.ExternalStatus = []requestsv1.Status{stSent, stShipped, stCompleted}[i%3]
		}))
	}
	for _, id := range []uint64{5, 17, 2, 33, 11, 40} {
		do(t, s, id, Command{Action: lifecycle.AddNote, Note: "bumped"}, clk.now())
	}
	for _, i := range []int{3, 4, 5, 10, 13, 21} { // Libris cancels: sent ones close, the others conflict
		apply(t, s, clk.now(), item(fmt.Sprintf("2603%02d-%04d", i%7, i), t0.Add(time.Second), func(it *requestsv1.IngestItem) {
			it.Bibliographic = &requestsv1.Bibliographic{Title: titles[i%5], Author: authors[i%3], Isbn: "978-91-" + fmt.Sprint(i)}
			it.Owner = []string{"GUB", "KB"}[i%2]
			it.ExternalStatus = requestsv1.Status_STATUS_CANCELLED_BY_PARTNER
		}))
	}
	all, _, err := s.List(Filter{}, nil, 1000, 0)
	noErr(t, err)
	flagged := 0
	for _, r := range all {
		if r.NeedsAttention {
			flagged++
		}
	}
	if flagged != 4 {
		t.Fatalf("%d requests flagged, want 4", flagged)
	}
	return s, all
}

// TestListQueries pages through search, attention, time-range and order combinations
// with every page size and a tight scan bound, and compares each listing with the
// matching requests sorted the slow way.
func TestListQueries(t *testing.T) {
	s, all := queryLedger(t)
	mid := all[len(all)/2]
	created := func(r *requestsv1.BorrowingRequest) time.Time { return r.CreateTime.AsTime() }
	updated := func(r *requestsv1.BorrowingRequest) time.Time { return r.UpdateTime.AsTime() }
	cAt := func(i int) time.Time { return t0.Add(time.Duration(i+1) * time.Second) } // create time of the i-th
	for _, tc := range []struct {
		name string
		f    Filter
		want func(r *requestsv1.BorrowingRequest) bool
	}{
		{"word", Filter{Words: []string{"röda"}}, func(r *requestsv1.BorrowingRequest) bool { return strings.Contains(r.Bibliographic.Title, "Röda") }},
		{"two words", Filter{Words: []string{"röda", "rummet"}}, func(r *requestsv1.BorrowingRequest) bool {
			return strings.Contains(r.Bibliographic.Title, "Röda rummet")
		}},
		{"words in title and author", Filter{Words: []string{"hemsöborna", "lagerlöf"}}, func(r *requestsv1.BorrowingRequest) bool {
			return r.Bibliographic.Title == "Hemsöborna" && strings.Contains(r.Bibliographic.Author, "Lagerlöf")
		}},
		{"compound", Filter{Words: QueryWords("Jean-Paul")}, func(r *requestsv1.BorrowingRequest) bool {
			return strings.Contains(r.Bibliographic.Author, "Jean-Paul")
		}},
		{"external id part", Filter{Words: []string{"260303"}}, func(r *requestsv1.BorrowingRequest) bool {
			return strings.HasPrefix(r.ExternalReference.ExternalId, "260303-")
		}},
		{"isbn joined", Filter{Words: QueryWords("978-91-12")}, func(r *requestsv1.BorrowingRequest) bool { return r.Bibliographic.Isbn == "978-91-12" }},
		{"word and owner", Filter{Words: []string{"strindberg"}, Owner: "KB"}, func(r *requestsv1.BorrowingRequest) bool {
			return strings.Contains(r.Bibliographic.Author, "Strindberg") && r.Owner == "KB"
		}},
		{"unknown word", Filter{Words: []string{"röda", "ibsen"}}, func(*requestsv1.BorrowingRequest) bool { return false }},
		{"attention", Filter{NeedsAttention: true}, func(r *requestsv1.BorrowingRequest) bool { return r.NeedsAttention }},
		{"attention and open", Filter{NeedsAttention: true, OpenOnly: true}, func(r *requestsv1.BorrowingRequest) bool {
			return r.NeedsAttention && !lifecycle.Final(r.Status)
		}},
		{"created range", Filter{CreatedAfter: cAt(10), CreatedBefore: cAt(20)}, func(r *requestsv1.BorrowingRequest) bool {
			return !created(r).Before(cAt(10)) && created(r).Before(cAt(20))
		}},
		{"updated after", Filter{UpdatedAfter: updated(mid)}, func(r *requestsv1.BorrowingRequest) bool { return !updated(r).Before(updated(mid)) }},
		{"updated before, status", Filter{UpdatedBefore: updated(mid), Status: stSent}, func(r *requestsv1.BorrowingRequest) bool {
			return updated(r).Before(updated(mid)) && r.Status == stSent
		}},
		{"empty range", Filter{UpdatedAfter: updated(mid), UpdatedBefore: updated(mid)}, func(*requestsv1.BorrowingRequest) bool { return false }},
		{"everything", Filter{}, func(*requestsv1.BorrowingRequest) bool { return true }},
	} {
		for _, order := range []Order{UpdatedNewestFirst, UpdatedOldestFirst, CreatedNewestFirst, CreatedOldestFirst} {
			var want []string
			for _, r := range all {
				if tc.want(r) {
					want = append(want, r.ExternalReference.ExternalId)
				}
			}
			key := updated
			if order.byCreate() {
				key = created
			}
			sorted := slices.Clone(all)
			slices.SortStableFunc(sorted, func(a, b *requestsv1.BorrowingRequest) int {
				c := key(b).Compare(key(a))
				if c == 0 {
					c = strings.Compare(b.Name, a.Name) // ties: the higher id first, like the keys
				}
				if order.reverse() {
					c = -c
				}
				return c
			})
			want = want[:0]
			for _, r := range sorted {
				if tc.want(r) {
					want = append(want, r.ExternalReference.ExternalId)
				}
			}
			f := tc.f
			f.Order = order
			for _, limit := range []int{1, 3, 50} {
				for _, maxScan := range []int{0, 4} {
					got, _, _ := listAll(t, s, f, limit, maxScan)
					if !slices.Equal(got, want) {
						t.Errorf("%s, order %d, limit %d, scan %d:\n got %v\nwant %v", tc.name, order, limit, maxScan, got, want)
					}
				}
			}
			// Decoding only the fields read (and the filter's) finds the same requests.
			f.Read = []string{"note"}
			if got, _, _ := listAll(t, s, f, 3, 0); !slices.Equal(got, want) {
				t.Errorf("%s, order %d, reading the note only:\n got %v\nwant %v", tc.name, order, got, want)
			}
		}
	}
}

// TestListPlansSearch: the rarest of the query's words (or other filters) is walked.
func TestListPlansSearch(t *testing.T) {
	s, _ := queryLedger(t)
	for _, tc := range []struct {
		f    Filter
		want *index
	}{
		{Filter{Words: []string{"röda", "huset"}}, idxWord},
		{Filter{Words: []string{"röda"}, NeedsAttention: true}, idxAttention},
		{Filter{Owner: "KB", Words: []string{"strindberg"}}, idxWord},
		{Filter{Owner: "KB", Order: CreatedNewestFirst}, idxCreated},
		{Filter{NeedsAttention: true, Order: UpdatedOldestFirst}, idxAttention},
	} {
		if _, next, err := s.List(tc.f, nil, 1, 0); err != nil || len(next) == 0 || next[0] != tc.want.id {
			t.Errorf("%+v: cursor %x, %v; want index %s", tc.f, next, err, tc.want.name)
		}
	}
}

// TestListReadsWhatItIsAsked: with Read, the requests listed hold the fields read and
// the ones the filter needs, equal to the stored ones, and nothing else.
func TestListReadsWhatItIsAsked(t *testing.T) {
	s, all := queryLedger(t)
	byName := map[string]*requestsv1.BorrowingRequest{}
	for _, r := range all {
		byName[r.GetName()] = r
	}
	got, _, err := s.List(Filter{Read: []string{"note", "rota"}}, nil, 5, 0)
	noErr(t, err)
	if len(got) == 0 {
		t.Fatal("nothing listed")
	}
	for _, r := range got {
		full := byName[r.GetName()]
		want := &requestsv1.BorrowingRequest{Name: full.Name, ExternalReference: full.ExternalReference, Status: full.Status,
			Owner: full.Owner, Partner: full.Partner, NeedsAttention: full.NeedsAttention, CreateTime: full.CreateTime,
			UpdateTime: full.UpdateTime, Note: full.Note, Rota: full.Rota}
		if !proto.Equal(r, want) {
			t.Errorf("listed %v\nwant %v", r, want)
		}
	}
}
