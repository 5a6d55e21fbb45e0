package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/cli"
)

// TestPreviewPredictsTheRun: a window holding a request of each outcome — one the
// ledger lacks (CREATED, one of them with a title over the ledger's bound, a data
// warning), one changed since the last run (UPDATED), one not (UNCHANGED), one lent by
// an unknown partner and one for an unmapped pickup library (SKIPPED), one with an
// unreadable last_modified and one dated days ahead, which the ledger rejects (FAILED).
// PreviewImport predicts for each exactly what the run that follows records — outcome,
// reason code, ledger request, warnings — and the counters; and the preview wrote
// nothing: backups of the harvester's and the ledger's stores hold the same buckets,
// keys, values and sequences before and after it.
func TestPreviewPredictsTheRun(t *testing.T) {
	e := start(t)
	lib := e.suite.Libris
	today := time.Now().UTC()
	const key = "preview-key"
	lib.AddKey(key, "Abc")
	e.library("MAIN")
	e.mapLibris("Abc", "MAIN")
	e.partner("Xyz")
	first := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 4, Sigel: "Abc", Count: 2, From: today, To: today, Lenders: []string{"Xyz"}})
	lib.Put(first...)
	profile := e.profile("preview", "Abc", key, "MAIN", today)
	if run := e.run(profile); run.GetCounters().GetCreated() != 2 {
		t.Fatalf("first run: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
	}

	// The window as the next run finds it.
	unchanged, updated := first[0].LFNumber, first[1].LFNumber
	lib.Touch(updated, func(r *fakelibris.Request) { r.Status, r.StatusCode = fakelibris.StatusLevererad, "10" })
	n := 0
	add := func(change func(r *fakelibris.Request)) string {
		n++
		r := fakelibris.Generate(fakelibris.GenerateOptions{Seed: int64(10 + n), Sigel: "Abc", Count: 1, From: today, To: today, Lenders: []string{"Xyz"}})[0]
		r.LFNumber = fmt.Sprintf("Abc-%s-%04d", today.Format("060102"), 9000+n)
		r.RequestID = strconv.Itoa(90000 + n)
		change(&r)
		lib.Put(r)
		return r.LFNumber
	}
	created := add(func(*fakelibris.Request) {})
	warned := add(func(r *fakelibris.Request) { r.Title = strings.Repeat("Lång titel ", 4000) })
	unknownPartner := add(func(r *fakelibris.Request) {
		r.ActiveLibrary = "Okand"
		for i := range r.Recipients {
			r.Recipients[i].LibraryCode = "Okand"
		}
	})
	unmapped := add(func(r *fakelibris.Request) { r.ReceivingLibrary.LibraryCode = "Zzz" })
	invalid := add(func(r *fakelibris.Request) { r.LastModified = "soon" })
	ahead := add(func(r *fakelibris.Request) { r.LastModified = strconv.FormatInt(today.Add(72*time.Hour).Unix(), 10) })
	want := map[string]struct {
		outcome harvesterv1.Outcome
		reason  string
	}{
		created:        {harvesterv1.Outcome_OUTCOME_CREATED, ""},
		warned:         {harvesterv1.Outcome_OUTCOME_CREATED, "EXTERNAL_DATA_WARNING"},
		updated:        {harvesterv1.Outcome_OUTCOME_UPDATED, ""},
		unchanged:      {harvesterv1.Outcome_OUTCOME_UNCHANGED, ""},
		unknownPartner: {harvesterv1.Outcome_OUTCOME_SKIPPED, "PARTNER_UNKNOWN"},
		unmapped:       {harvesterv1.Outcome_OUTCOME_SKIPPED, "LIBRARY_UNMAPPED"},
		invalid:        {harvesterv1.Outcome_OUTCOME_FAILED, "INVALID_EXTERNAL_DATA"},
		ahead:          {harvesterv1.Outcome_OUTCOME_FAILED, "LEDGER_REJECTED"},
	}

	before := e.storeDumps()
	start := time.Now()
	preview, err := e.Harvester.PreviewImport(e.ctx, &harvesterv1.PreviewImportRequest{Profile: profile})
	e.must(err)
	t.Logf("preview of %d requests in %s", len(preview.GetItems()), time.Since(start).Round(time.Millisecond))
	if after := e.storeDumps(); !maps.Equal(before, after) {
		t.Fatalf("the preview changed a store:\nbefore %v\nafter  %v", before, after)
	}
	if len(preview.GetAlerts()) > 0 || preview.GetTruncated() {
		t.Fatalf("preview alerts %v, truncated %v", preview.GetAlerts(), preview.GetTruncated())
	}

	run := e.run(profile)
	if maps.Equal(before, e.storeDumps()) {
		t.Fatal("the stores compare equal after a run too: the comparison sees nothing")
	}
	events := e.events(run)
	if len(preview.GetItems()) != len(events) || len(events) != len(want) {
		t.Fatalf("preview predicted %d requests, the run handled %d, want %d", len(preview.GetItems()), len(events), len(want))
	}
	for _, it := range preview.GetItems() {
		id := it.GetExternalId()
		ev, w := events[id], want[id]
		t.Logf("%s: predicted %s %s %s, run %s %s %s", id, it.GetOutcome(), it.GetReasonCode(), it.GetBorrowingRequest(),
			ev.GetOutcome(), ev.GetReasonCode(), ev.GetBorrowingRequest())
		if it.GetOutcome() != w.outcome || it.GetReasonCode() != w.reason {
			t.Errorf("%s: predicted %s %s, want %s %s (%s)", id, it.GetOutcome(), it.GetReasonCode(), w.outcome, w.reason, it.GetReason())
		}
		if it.GetOutcome() != ev.GetOutcome() || it.GetReasonCode() != ev.GetReasonCode() || warningCodes(it.GetWarnings()) != warningCodes(ev.GetWarnings()) {
			t.Errorf("%s: predicted %s %s %s, the run did %s %s %s", id, it.GetOutcome(), it.GetReasonCode(), warningCodes(it.GetWarnings()),
				ev.GetOutcome(), ev.GetReasonCode(), warningCodes(ev.GetWarnings()))
		}
		if it.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED && it.GetBorrowingRequest() != ev.GetBorrowingRequest() {
			t.Errorf("%s: predicted ledger request %q, the run's %q", id, it.GetBorrowingRequest(), ev.GetBorrowingRequest())
		}
	}
	if got, want := countersOf(preview.GetCounters()), countersOf(run.GetCounters()); got != want {
		t.Errorf("predicted counters %s, the run's %s", got, want)
	}
	for id, code := range map[string]string{unknownPartner: "Okand", unmapped: "Zzz"} {
		for _, it := range preview.GetItems() {
			if it.GetExternalId() == id && it.GetUnresolvedCode() != code {
				t.Errorf("%s: unresolved code %q, want %q", id, it.GetUnresolvedCode(), code)
			}
		}
	}

	// A window of its own, bounded: the first two of today's requests, and the rest
	// left for the run.
	d := &typev1.Date{Year: int32(today.Year()), Month: int32(today.Month()), Day: int32(today.Day())}
	small, err := e.Harvester.PreviewImport(e.ctx, &harvesterv1.PreviewImportRequest{Profile: profile, StartDate: d, EndDate: d, MaxRequests: 2})
	e.must(err)
	if len(small.GetItems()) != 2 || !small.GetTruncated() {
		t.Errorf("a preview of 2: %d items, truncated %v", len(small.GetItems()), small.GetTruncated())
	}
	tomorrow := &typev1.Date{Year: d.Year, Month: d.Month, Day: d.Day + 1}
	if _, err := e.Harvester.PreviewImport(e.ctx, &harvesterv1.PreviewImportRequest{Profile: profile, StartDate: d, EndDate: tomorrow}); err == nil ||
		!strings.Contains(err.Error(), "end_date") {
		t.Errorf("a window ending after today: %v", err)
	}
}

func warningCodes(ws []*typev1.DataWarning) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.GetField()+":"+w.GetCode())
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// storeDumps backs up the harvester's and the ledger's stores through their
// BackupService (`interloan backup`) and digests every bucket of each: its sequence and
// each key and value.
func (e *env) storeDumps() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for service, addr := range map[string]string{"harvester": e.suite.Addrs.Harvester, "requests": e.suite.Addrs.Requests} {
		file := filepath.Join(e.t.TempDir(), service+".backup")
		var stdout, stderr bytes.Buffer
		if code := cli.Main([]string{"backup", "--service", service, "--addr", addr, "--ca-file", e.suite.Addrs.CAFile,
			"--token-file", e.suite.Addrs.AdminTokenFile, "--out", file}, &stdout, &stderr); code != 0 {
			e.t.Fatalf("backup %s: %s", service, stderr.String())
		}
		db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true})
		e.must(err)
		e.must(db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				h := sha256.New()
				fmt.Fprintf(h, "seq %d\n", b.Sequence())
				keys := 0
				err := b.ForEach(func(k, v []byte) error {
					keys++
					fmt.Fprintf(h, "%x=%x\n", k, v)
					return nil
				})
				out[service+"/"+string(name)] = fmt.Sprintf("%d keys %x", keys, h.Sum(nil)[:8])
				return err
			})
		}))
		e.must(db.Close())
	}
	return out
}
