package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
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
