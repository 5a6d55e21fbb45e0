package fakelibris_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestGenerateDeterministic(t *testing.T) {
	opts := fakelibris.GenerateOptions{Seed: 42, Sigel: "Abc", Count: 500, From: day(2024, 8, 1), To: day(2024, 8, 31)}
	a, _ := json.Marshal(fakelibris.Generate(opts))
	b, _ := json.Marshal(fakelibris.Generate(opts))
	if !bytes.Equal(a, b) {
		t.Fatal("equal options gave different JSON")
	}
	opts.Seed = 43
	c, _ := json.Marshal(fakelibris.Generate(opts))
	if bytes.Equal(a, c) {
		t.Fatal("a different seed gave identical JSON")
	}
}

func TestGenerateShape(t *testing.T) {
	from, to := day(2024, 8, 1), day(2024, 8, 31)
	lenders := []string{"Xyz", "Qrs", "Lkp", "G"}
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 7, Sigel: "Tida", Count: 3000, From: from, To: to, Lenders: lenders})
	if len(reqs) != 3000 {
		t.Fatalf("got %d requests, want 3000", len(reqs))
	}
	lfRE := regexp.MustCompile(`^Tida-(\d{6})-(\d{4})$`)
	isLender := map[string]bool{}
	for _, l := range lenders {
		isLender[l] = true
	}
	seqs := map[string]int{} // YYMMDD → highest sequence seen
	ids := map[string]bool{}
	statuses := map[string]int{}
	media := map[string]int{}
	approved := 0
	for i, r := range reqs {
		m := lfRE.FindStringSubmatch(r.LFNumber)
		if m == nil {
			t.Fatalf("lf_number %q does not match {sigel}-{YYMMDD}-{NNNN}", r.LFNumber)
		}
		orderDay, err := time.Parse("060102", m[1])
		if err != nil || orderDay.Before(from) || orderDay.After(to) {
			t.Fatalf("%s: order day outside [From, To]", r.LFNumber)
		}
		seq, _ := strconv.Atoi(m[2])
		if seq != seqs[m[1]]+1 {
			t.Fatalf("%s: daily sequence not contiguous (previous %d)", r.LFNumber, seqs[m[1]])
		}
		seqs[m[1]] = seq
		if i > 0 && reqs[i-1].LFNumber >= r.LFNumber {
			t.Fatalf("not sorted by lf_number at %d", i)
		}
		if _, err := strconv.ParseUint(r.RequestID, 10, 64); err != nil || ids[r.RequestID] {
			t.Fatalf("request_id %q not a unique numeric string", r.RequestID)
		}
		ids[r.RequestID] = true
		lm, err := strconv.ParseInt(r.LastModified, 10, 64)
		if err != nil || lm < orderDay.Unix() || lm >= to.AddDate(0, 0, 1).Unix() {
			t.Fatalf("%s: last_modified %q not within [order day, end of To]", r.LFNumber, r.LastModified)
		}
		if r.RequestingLibrary != "Tida" || r.ReceivingLibrary.LibraryCode == "" {
			t.Fatalf("%s: libraries %q / %+v", r.LFNumber, r.RequestingLibrary, r.ReceivingLibrary)
		}
		if n := len(r.Recipients); n < 1 || n > 3 || strconv.Itoa(n) != r.RecipientCount {
			t.Fatalf("%s: %d recipients, recipient_count %q", r.LFNumber, n, r.RecipientCount)
		}
		active := 0
		for _, rc := range r.Recipients {
			if !isLender[rc.LibraryCode] {
				t.Fatalf("%s: recipient %q not a lender", r.LFNumber, rc.LibraryCode)
			}
			if rc.IsActiveLibrary {
				active++
				if rc.LibraryCode != r.ActiveLibrary {
					t.Fatalf("%s: active recipient %q != active_library %q", r.LFNumber, rc.LibraryCode, r.ActiveLibrary)
				}
			}
			if (rc.ResponseID == "") != (rc.ResponseDate == nil) {
				t.Fatalf("%s: response_id %q with response_date %v", r.LFNumber, rc.ResponseID, rc.ResponseDate)
			}
		}
		if active != 1 {
			t.Fatalf("%s: %d active recipients", r.LFNumber, active)
		}
		if r.StatusCode != fakelibris.StatusCode(r.Status) {
			t.Fatalf("%s: status %q with code %q", r.LFNumber, r.Status, r.StatusCode)
		}
		if want := regexp.MustCompile(`^[^,]+, [^,]+$`); !want.MatchString(r.User) || r.UserID == "" || r.EndUser.LibraryCard != r.UserID {
			t.Fatalf("%s: patron %q / %q", r.LFNumber, r.User, r.UserID)
		}
		if r.EndUser.Approved {
			approved++
		}
		if r.SignDate != nil || r.RenewalCount != nil || r.ReturnDate != nil {
			t.Fatalf("%s: unset dates should be nil", r.LFNumber)
		}
		statuses[r.Status]++
		media[r.MediaType]++
	}
	for _, s := range []string{"Ej avbeställd!", "Läst", "Levererad", "Negativt svar", "Uteliggande", "Avbeställd"} {
		if statuses[s] == 0 {
			t.Errorf("status %q never generated: %v", s, statuses)
		}
	}
	if len(media) != 2 || media["Lån"] == 0 || media["Kopia"] == 0 {
		t.Errorf("media types %v, want only Lån and Kopia", media)
	}
	if approved < len(reqs)*6/10 || approved == len(reqs) {
		t.Errorf("%d of %d approved; want most but not all", approved, len(reqs))
	}
}

func TestGenerateStatusesOptionAndCodes(t *testing.T) {
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Count: 200, From: day(2025, 1, 1), To: day(2025, 1, 3),
		Statuses: []string{"Levererad", "Negativt svar"}})
	for _, r := range reqs {
		switch {
		case r.Status == "Levererad" && r.StatusCode == "10":
		case r.Status == "Negativt svar" && r.StatusCode == "6":
		default:
			t.Fatalf("%s: status %q code %q", r.LFNumber, r.Status, r.StatusCode)
		}
		if r.RequestingLibrary != "Abc" {
			t.Fatalf("default sigel: got %q", r.RequestingLibrary)
		}
	}
}

func TestGenerateEdgeOptions(t *testing.T) {
	if got := fakelibris.Generate(fakelibris.GenerateOptions{Count: 0}); len(got) != 0 {
		t.Fatalf("Count 0 gave %d", len(got))
	}
	// Reversed and zero bounds must not panic.
	if got := fakelibris.Generate(fakelibris.GenerateOptions{Count: 5, From: day(2025, 2, 1), To: day(2025, 1, 1)}); len(got) != 5 {
		t.Fatalf("reversed range gave %d", len(got))
	}
	if got := fakelibris.Generate(fakelibris.GenerateOptions{Count: 5, Lenders: []string{""}}); len(got) != 5 {
		t.Fatalf("zero dates gave %d", len(got))
	}
	// A To with a clock time caps every timestamp at that instant: no future last_modified.
	to := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)
	for _, r := range fakelibris.Generate(fakelibris.GenerateOptions{Count: 500, From: day(2025, 3, 8), To: to}) {
		if lm, _ := strconv.ParseInt(r.LastModified, 10, 64); lm > to.Unix() || lm < day(2025, 3, 8).Unix() {
			t.Fatalf("%s: last_modified %d outside [From, To instant %d]", r.LFNumber, lm, to.Unix())
		}
	}
	// More than 9999 on one day: lf_numbers stay unique.
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Count: 10005, From: day(2025, 1, 1)})
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.LFNumber] {
			t.Fatalf("duplicate %s", r.LFNumber)
		}
		seen[r.LFNumber] = true
	}
}

func TestGenerate100kIsFast(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100 000 requests: too slow for -short and -race; see BenchmarkGenerate100k")
	}
	start := time.Now()
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 100_000, From: day(2024, 1, 1), To: day(2024, 12, 31)})
	t.Logf("generated %d requests in %v", len(reqs), time.Since(start))
	if len(reqs) != 100_000 {
		t.Fatal(len(reqs))
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 100_000, From: day(2024, 1, 1), To: day(2024, 12, 31)})
	}
}
