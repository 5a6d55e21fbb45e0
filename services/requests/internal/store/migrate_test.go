package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// The fixture testdata/schema3.db.gz is a ledger written by the schema-3 store (every
// index entry its own key) through fillFixture; testdata/schema3.golden.json holds what
// fixtureQueries answered on it then. Opening the file migrates it; every query must
// answer exactly as before.
const (
	fixtureDB     = "testdata/schema3.db.gz"
	fixtureGolden = "testdata/schema3.golden.json"
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
		b, err := protojson.Marshal(r)
		noErr(t, err)
		out[fmt.Sprint("get ", id)] = string(b)
		evs, _, err := s.Events(id, nil, 100)
		noErr(t, err)
		var ev []string
		for _, e := range evs {
			b, err := protojson.Marshal(e)
			noErr(t, err)
			ev = append(ev, string(b))
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

// TestWriteFixture writes the fixture and its golden answers with the store as it is
// (run with INTERLOAN_WRITE_LEDGER_FIXTURE=1; the files are kept in testdata).
func TestWriteFixture(t *testing.T) {
	if os.Getenv("INTERLOAN_WRITE_LEDGER_FIXTURE") == "" {
		t.Skip("set INTERLOAN_WRITE_LEDGER_FIXTURE=1 to write the fixture")
	}
	path := filepath.Join(t.TempDir(), "requests.db")
	s := open(t, path)
	fillFixture(t, s)
	golden := fixtureQueries(t, s)
	noErr(t, s.Close())
	raw, err := os.ReadFile(path)
	noErr(t, err)
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	noErr(t, err)
	_, err = w.Write(raw)
	noErr(t, err)
	noErr(t, w.Close())
	noErr(t, os.MkdirAll("testdata", 0o755))
	noErr(t, os.WriteFile(fixtureDB, gz.Bytes(), 0o644))
	noErr(t, os.WriteFile(fixtureGolden, golden, 0o644))
}

// openFixture copies the fixture into a temporary file and returns its path.
func openFixture(t *testing.T) string {
	t.Helper()
	f, err := os.Open(fixtureDB)
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

var _ = proto.Marshal
