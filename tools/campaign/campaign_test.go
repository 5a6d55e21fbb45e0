package campaign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/boltdb"
)

// TestCampaignsSmoke runs both campaigns in a tiny configuration against the real
// binaries, so `make test` keeps them working: two chaos cycles, three fault scenarios
// (one of Libris, one of the suite, the full disk).
func TestCampaignsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binaries and starts them as processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := Build(ctx, bin); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(out.String())
		}
	})

	res, err := Chaos(ctx, ChaosOptions{Cycles: 2, Seed: 7, Initial: 80, Grow: 10, Churn: 5, Bin: bin, Dir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	kills := 0
	for _, n := range res.Killed {
		kills += n
	}
	if !res.OK() || res.Cycles != 2 || kills != 2 {
		t.Fatalf("chaos: cycles=%d kills=%d %s %v %v", res.Cycles, kills, res.Tally, res.Examples, res.Problems)
	}

	dir := t.TempDir()
	rows, err := Faults(ctx, FaultsOptions{Only: []string{"libris-missing-lf", "requests-down", "ledger-disk-full"}, Seed: 7, Bin: bin, Dir: dir}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, r := range rows {
		if r.Problem != "" || !r.Recovered {
			t.Errorf("%s: %s", r.Scenario, r.Problem)
		}
	}
	if r := rows[2]; r.Scenario != "ledger-disk-full" || r.State != "FAILED" || r.Alerts != "LEDGER_UNAVAILABLE" {
		t.Errorf("disk-full row: %+v", r)
	}

	// The high-water mark the disk-full scenario limits the ledger to lies inside the
	// file, on a page boundary.
	db := filepath.Join(dir, Requests, "requests.db")
	hw, err := boltdb.HighWater(db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if hw == 0 || hw%4096 != 0 || int64(hw) > st.Size() {
		t.Fatalf("high water %d of a %d-byte file", hw, st.Size())
	}
}

func TestTally(t *testing.T) {
	fake := fakelibris.New(fakelibris.Options{})
	w := &World{fake: fake}
	put := func(lf, id, status, lm string) {
		fake.Put(fakelibris.Request{LFNumber: lf, RequestID: id, RequestingLibrary: testenv.LibrisSigel, Status: status, LastModified: lm})
		w.revealed = append(w.revealed, lf)
	}
	put("Abc-261101-0001", "1", "Läst", "1000")
	put("Abc-261101-0002", "2", "Levererad", "2000")
	put("Abc-261101-0003", "3", "Läst", "3000")
	br := func(lf, id, status string, lm int64) *requestsv1.BorrowingRequest {
		return &requestsv1.BorrowingRequest{ExternalReference: &requestsv1.ExternalReference{
			ExternalId: lf, ExternalRequestId: id, StatusRaw: status, LastModifiedTime: timestamppb.New(time.Unix(lm, 0))}}
	}
	exact := map[string][]*requestsv1.BorrowingRequest{
		"Abc-261101-0001": {br("Abc-261101-0001", "1", "Läst", 1000)},
		"Abc-261101-0002": {br("Abc-261101-0002", "2", "Levererad", 2000)},
		"Abc-261101-0003": {br("Abc-261101-0003", "3", "Läst", 3000)},
	}
	for _, tc := range []struct {
		name   string
		change func(map[string][]*requestsv1.BorrowingRequest)
		want   Tally
	}{
		{"equal", func(map[string][]*requestsv1.BorrowingRequest) {}, Tally{}},
		{"lost", func(l map[string][]*requestsv1.BorrowingRequest) { delete(l, "Abc-261101-0002") }, Tally{Lost: 1}},
		{"duplicated", func(l map[string][]*requestsv1.BorrowingRequest) {
			l["Abc-261101-0001"] = append(l["Abc-261101-0001"], br("Abc-261101-0001", "1", "Läst", 1000))
		}, Tally{Duplicated: 1}},
		{"stale status", func(l map[string][]*requestsv1.BorrowingRequest) {
			l["Abc-261101-0003"] = []*requestsv1.BorrowingRequest{br("Abc-261101-0003", "3", "Uteliggande", 3000)}
		}, Tally{Mismatched: 1}},
		{"stale last_modified", func(l map[string][]*requestsv1.BorrowingRequest) {
			l["Abc-261101-0003"] = []*requestsv1.BorrowingRequest{br("Abc-261101-0003", "3", "Läst", 2999)}
		}, Tally{Mismatched: 1}},
		{"unknown to Libris", func(l map[string][]*requestsv1.BorrowingRequest) {
			l["Abc-261101-0009"] = []*requestsv1.BorrowingRequest{br("Abc-261101-0009", "9", "Läst", 1)}
		}, Tally{Mismatched: 1, Unknown: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ledger := map[string][]*requestsv1.BorrowingRequest{}
			for k, v := range exact {
				ledger[k] = append([]*requestsv1.BorrowingRequest(nil), v...)
			}
			tc.change(ledger)
			got := w.tally(ledger)
			if got.Lost != tc.want.Lost || got.Duplicated != tc.want.Duplicated || got.Mismatched != tc.want.Mismatched || got.Unknown != tc.want.Unknown {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if clean := got.Lost+got.Duplicated+got.Mismatched == 0; got.OK() != clean || clean != (len(got.Examples) == 0) {
				t.Fatalf("OK() %v for %+v", got.OK(), got)
			}
		})
	}
}

func TestSelectScenarios(t *testing.T) {
	all, err := selectScenarios(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	quick, _ := selectScenarios(nil, true)
	if len(quick) >= len(all) {
		t.Fatalf("quick selects %d of %d", len(quick), len(all))
	}
	names := map[string]bool{}
	for _, s := range all {
		if names[s.Name] {
			t.Fatalf("two scenarios named %s", s.Name)
		}
		names[s.Name] = true
		if s.State == harvesterv1.RunState_RUN_STATE_UNSPECIFIED || s.Arm == nil || s.Counters == nil {
			t.Fatalf("%s lacks an expectation or its fault", s.Name)
		}
	}
	if _, err := selectScenarios([]string{"libris-401", "no-such"}, false); err == nil || !strings.Contains(err.Error(), "no-such") {
		t.Fatalf("unknown scenario: %v", err)
	}
}
