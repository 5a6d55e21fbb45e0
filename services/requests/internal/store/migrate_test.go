package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// The fixture testdata/schema3.db.gz is a ledger written by the schema-3 store (every
// index entry its own key) through fillFixture; testdata/schema3.golden.json holds what
// fixtureQueries answered on it then. testdata/schema4.db.gz is the same writes by the
// schema-4 store (postings, search words counted), which answered the same, and
// testdata/schema5.db.gz by the schema-5 store (word postings in word_recent).
const (
	fixtureSchema3 = "testdata/schema3.db.gz"
	fixtureSchema4 = "testdata/schema4.db.gz"
	fixtureSchema5 = "testdata/schema5.db.gz"
	fixtureGolden  = "testdata/schema3.golden.json"
)

// fillFixture writes a varied ledger: two profiles, three owners, partners, statuses
// from imports, updates that change titles (and so words), lifecycle actions, flags and
// anonymization, over several batches with their own times.
func fillFixture(t *testing.T, s *Store) {
	t.Helper()
	titles := []string{"Röda rummet", "Hemsöborna : en skärgårdsberättelse", "Gösta Berlings saga",
		"Doktor Glas", "Kallocain : roman från 2000-talet", "Jean-Paul Sartre och existentialismen"}
	owners := []string{"GUB", "KB", "LUB"}
	partners := []string{"partners/ABC", "partners/DEF", "partners/GHI"}
	statuses := []requestsv1.Status{stCreated, stSent, stShipped, requestsv1.Status_STATUS_WILL_SUPPLY, requestsv1.Status_STATUS_REJECTED_BY_PARTNER}
	mk := func(i int, lm time.Time, title string) *requestsv1.IngestItem {
		return item(fmt.Sprintf("E-%04d", i), lm, func(it *requestsv1.IngestItem) {
			if i%4 == 3 {
				it.ExternalReference.Profile = "integrationProfiles/OTHER"
			}
			it.Owner = owners[i%len(owners)]
			it.Partner = partners[i%len(partners)]
			it.ExternalStatus = statuses[i%len(statuses)]
			it.Bibliographic = &requestsv1.Bibliographic{Title: title, Author: fmt.Sprintf("Författare %d", i%7),
				Isbn: fmt.Sprintf("978-91-%04d-%d", i, i%10)}
		})
	}
	now := t0
	tick := func() time.Time { now = now.Add(time.Minute); return now }
	// Three import batches.
	for b := range 3 {
		var items []*requestsv1.IngestItem
		for i := b * 40; i < (b+1)*40; i++ {
			items = append(items, mk(i, t0, titles[i%len(titles)]))
		}
		apply(t, s, tick(), items...)
	}
	// An update batch: newer versions of every fifth request, with another title.
	var items []*requestsv1.IngestItem
	for i := 0; i < 120; i += 5 {
		items = append(items, mk(i, t0.Add(time.Hour), titles[(i+1)%len(titles)]))
	}
	// The same external id under the other profile: two requests, one external id.
	items = append(items, item("E-0042", t0, func(it *requestsv1.IngestItem) { it.ExternalReference.Profile = "integrationProfiles/OTHER" }))
	apply(t, s, tick(), items...)
	// Lifecycle actions on a few requests, one transaction each.
	for id := uint64(1); id <= 120; id += 7 {
		r := get(t, s, id)
		var a requestsv1.Action
		switch {
		case lifecycle.Final(r.GetStatus()):
			a = lifecycle.AddNote
		case id%3 == 0 && r.GetStatus() != stShipped:
			a = lifecycle.CancelByStaff
		default:
			a = lifecycle.AddNote
		}
		if _, err := s.Act(id, "", Command{Action: a, Note: "note " + fmt.Sprint(id), Actor: "staff"}, tick()); err != nil {
			t.Fatalf("act on %d: %v", id, err)
		}
	}
	for id := uint64(2); id <= 120; id += 11 {
		_, err := s.Flag(id, "EXTERNAL_REQUEST_GONE", "gone from the external system", "harvester", tick())
		noErr(t, err)
	}
	_, _, err := s.AnonymizeOld(t0.Add(30*time.Minute), "KB", 5, "retention", tick(), false)
	noErr(t, err)
}

// fixtureQueries runs every read the ledger serves and returns the answers as JSON:
// List under every filter and order (page after page), Count, Get, Events and the
// change log.
func fixtureQueries(t *testing.T, s *Store) []byte {
	t.Helper()
	out := map[string]any{}
	names := func(rs []*requestsv1.BorrowingRequest) []string {
		var n []string
		for _, r := range rs {
			n = append(n, r.GetName()+" "+r.GetEtag())
		}
		return n
	}
	filters := map[string]Filter{
		"all":               {},
		"all oldest":        {Order: UpdatedOldestFirst},
		"created":           {Order: CreatedNewestFirst},
		"created oldest":    {Order: CreatedOldestFirst},
		"status sent":       {Status: stSent},
		"status created":    {Status: stCreated},
		"status cancelled":  {Status: requestsv1.Status_STATUS_CANCELLED_BY_STAFF},
		"owner KB":          {Owner: "KB"},
		"owner GUB open":    {Owner: "GUB", OpenOnly: true},
		"partner DEF":       {Partner: "partners/DEF"},
		"profile OTHER":     {Profile: "integrationProfiles/OTHER"},
		"external id":       {ExternalID: "E-0042"},
		"identity":          {Profile: "integrationProfiles/LIB", ExternalID: "E-0041"},
		"attention":         {NeedsAttention: true},
		"open":              {OpenOnly: true},
		"word röda":         {Words: QueryWords("röda")},
		"words saga gösta":  {Words: QueryWords("saga Gösta")},
		"word jeanpaul":     {Words: QueryWords("Jean-Paul")},
		"word isbn":         {Words: QueryWords("978-91-0033-3")},
		"word KB doktor":    {Owner: "KB", Words: QueryWords("doktor")},
		"updated range":     {UpdatedAfter: t0.Add(2 * time.Minute), UpdatedBefore: t0.Add(4 * time.Minute)},
		"created range old": {CreatedAfter: t0.Add(time.Minute), CreatedBefore: t0.Add(3 * time.Minute), Order: CreatedOldestFirst},
		"status range":      {Status: stShipped, UpdatedAfter: t0.Add(3 * time.Minute)},
	}
	for name, f := range filters {
		for _, limit := range []int{7, 50} {
			var pages [][]string
			var after []byte
			for range 100 {
				rs, next, err := s.List(f, after, limit, 0)
				noErr(t, err)
				pages = append(pages, append(names(rs), fmt.Sprintf("next %x", next)))
				if next == nil {
					break
				}
				after = next
			}
			out[fmt.Sprintf("list %s/%d", name, limit)] = pages
		}
	}
	for _, owner := range []string{"", "GUB", "KB", "LUB"} {
		c, err := s.Count(owner)
		noErr(t, err)
		out["count "+owner] = fmt.Sprint(c.Total, c.Open, c.NeedsAttention, c.ByStatus)
	}
	for id := uint64(1); id <= 122; id++ {
		r, err := s.Get(id)
		if err != nil {
			out[fmt.Sprint("get ", id)] = err.Error()
			continue
		}
		out[fmt.Sprint("get ", id)] = stableJSON(t, r)
		evs, _, err := s.Events(id, nil, 100)
		noErr(t, err)
		var ev []string
		for _, e := range evs {
			ev = append(ev, stableJSON(t, e))
		}
		out[fmt.Sprint("events ", id)] = ev
	}
	for _, owner := range []string{"", "GUB", "KB", "LUB"} {
		names, more, err := s.AnonymizeOld(t0.Add(time.Hour), owner, 1000, "retention", t0.Add(2*time.Hour), true)
		noErr(t, err)
		out["anonymize candidates "+owner] = fmt.Sprint(names, more)
	}
	changes, pos, n, err := s.ReadChanges(Position{}, 10000, func(ChangeInfo) bool { return true })
	noErr(t, err)
	var cs []string
	for _, c := range changes {
		cs = append(cs, c.Position.String()+" "+c.Event.GetName()+" "+c.Request.GetEtag())
	}
	out["changes"] = cs
	out["changes end"] = fmt.Sprint(pos.String(), n)
	b, err := json.MarshalIndent(out, "", " ")
	noErr(t, err)
	return b
}

// TestMigrateFromSchema3 opens the schema-3 fixture, which migrates it, and requires
// every query to answer exactly as the schema-3 store did, the indexes to be exactly
// what the records call for, and the ledger to work on. The same writes into a new
// ledger answer the same too.
func TestMigrateFromSchema3(t *testing.T) {
	s := checkMigrated(t, fixtureSchema3)
	for _, name := range [][]byte{idxExternalID.name, idxWord.name, idxAll.name} {
		noErr(t, s.db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(name) != nil {
				t.Errorf("bucket %s outlived the migration", name)
			}
			return nil
		}))
	}
}

// TestMigrateFromSchema4 does the same for the schema-4 fixture, whose search-word
// counts the migration drops.
func TestMigrateFromSchema4(t *testing.T) {
	checkMigrated(t, fixtureSchema4)
}

// TestMigrateFromSchema5 does the same for the schema-5 fixture, which only gains an
// empty word_mid.
func TestMigrateFromSchema5(t *testing.T) {
	checkMigrated(t, fixtureSchema5)
}

// checkMigrated opens a copy of fixture, which migrates it, and requires every query to
// answer as golden says, the indexes and counts to be exactly what the records call for
// (checkIndexes: no word counts left), and the ledger to work on.
func checkMigrated(t *testing.T, fixture string) *Store {
	t.Helper()
	golden, err := os.ReadFile(fixtureGolden)
	noErr(t, err)
	s := open(t, openFixture(t, fixture))
	// Change positions name the database: the golden answers name the schema-3 fixture's.
	goldenID := goldenDatabaseID(t, golden)
	if got := bytes.ReplaceAll(fixtureQueries(t, s), []byte(s.DatabaseID()), goldenID); !bytes.Equal(got, golden) {
		t.Errorf("after migration the queries answer differently:\n%s", firstDifference(got, golden))
	}
	checkIndexes(t, s)
	// Writes after it move the migrated entries (request 42 was imported before).
	apply(t, s, t0.Add(time.Hour), item("E-0041", t0.Add(2*time.Hour), func(it *requestsv1.IngestItem) {
		it.Bibliographic = &requestsv1.Bibliographic{Title: "Aniara"}
	}), item("new", t0))
	_, err = s.Act(42, "", Command{Action: lifecycle.AddNote, Note: "after", Actor: "staff"}, t0.Add(2*time.Hour))
	noErr(t, err)
	checkIndexes(t, s)
	if got, _, err := s.List(Filter{Words: QueryWords("aniara")}, nil, 10, 0); err != nil || len(got) != 1 || got[0].GetName() != Name(42) {
		t.Errorf("search after migration and update: %v %v", got, err)
	}

	fresh := newStore(t)
	fillFixture(t, fresh)
	got := bytes.ReplaceAll(fixtureQueries(t, fresh), []byte(fresh.DatabaseID()), goldenID)
	if !bytes.Equal(got, golden) {
		t.Errorf("the same writes into a new ledger answer differently:\n%s", firstDifference(got, golden))
	}
	return s
}

// goldenDatabaseID is the database id in the golden answers' last change position.
func goldenDatabaseID(t *testing.T, golden []byte) []byte {
	t.Helper()
	var answers map[string]json.RawMessage
	noErr(t, json.Unmarshal(golden, &answers))
	var end string
	noErr(t, json.Unmarshal(answers["changes end"], &end))
	id, _, ok := strings.Cut(end, "-")
	if !ok || len(id) != 16 {
		t.Fatalf("golden change position %q names no database", end)
	}
	return []byte(id)
}

// stableJSON is m in protojson, compacted: protojson varies its spacing on purpose.
func stableJSON(t *testing.T, m proto.Message) string {
	b, err := protojson.Marshal(m)
	noErr(t, err)
	var out bytes.Buffer
	noErr(t, json.Compact(&out, b))
	return out.String()
}

// firstDifference shows where two answers part.
func firstDifference(got, want []byte) string {
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range min(len(gl), len(wl)) {
		if !bytes.Equal(gl[i], wl[i]) {
			return fmt.Sprintf("line %d: got %s\nwant %s", i+1, gl[i], wl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(gl), len(wl))
}

// openFixture copies a gzipped fixture into a temporary file and returns its path.
func openFixture(t *testing.T, fixture string) string {
	t.Helper()
	f, err := os.Open(fixture)
	noErr(t, err)
	defer f.Close()
	r, err := gzip.NewReader(f)
	noErr(t, err)
	path := filepath.Join(t.TempDir(), "requests.db")
	out, err := os.Create(path)
	noErr(t, err)
	_, err = io.Copy(out, r)
	noErr(t, err)
	noErr(t, out.Close())
	return path
}

// TestWriteSchema3RoundTrip: a ledger rewritten in schema 3's layout (as the bench does
// to time the migration) migrates back to answering every query as before.
func TestWriteSchema3RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.db")
	s := open(t, path)
	fillFixture(t, s)
	want := fixtureQueries(t, s)
	noErr(t, s.Close())
	noErr(t, WriteSchema3(path))
	s = open(t, path)
	if got := fixtureQueries(t, s); !bytes.Equal(got, want) {
		t.Errorf("after a round trip through schema 3 the queries answer differently:\n%s", firstDifference(got, want))
	}
	checkIndexes(t, s)
}

// TestDropWordCounts: every word count goes, over several of dropWordCounts' slices,
// and nothing else does.
func TestDropWordCounts(t *testing.T) {
	s := newStore(t)
	keep := map[string]bool{
		string(idxStatus.countKey("x")): true, string(cntOwnerStatus.countKey("GUB")): true,
		"idx_wordz": true, // right after the words' range
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounts)
		for k := range keep {
			if err := b.Put([]byte(k), boltdb.Uint64Key(1)); err != nil {
				return err
			}
		}
		for i := range dropChunk*2 + dropChunk/2 {
			if err := b.Put(idxWord.countKey(fmt.Sprintf("w%07d", i)), boltdb.Uint64Key(1)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(dropWordCounts); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, _ []byte) error {
			got[string(k)] = true
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range keep {
		if !got[k] {
			t.Errorf("%q was dropped", k)
		}
		delete(got, k)
	}
	if len(got) > 0 {
		t.Errorf("%d keys left besides those kept", len(got))
	}
}
