package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/logging"
	harvester "github.com/interloan/interloan/services/harvester/app"
	requests "github.com/interloan/interloan/services/requests/app"
)

// The bounds these tests run with: small, so that each fault reaches its bound in
// seconds. A World of boundsRequests requests over boundsDays days is three window
// chunks of about 30 requests each, inside every bound.
var testBounds = harvester.Bounds{
	MaxChunkItems: 50,
	MaxRunItems:   120,
	MaxReadMiB:    1,
	RunTimeout:    time.Minute,
	CallTimeout:   time.Minute,
	MinRate:       1,
	SlowGrace:     time.Minute,
}

const (
	boundsRequests = 90
	boundsDays     = 20
	// boundsGrowth is the most a faulty run may grow the data of either file by
	// (boltdb.HighWater), with testBounds: at most MaxRunItems (120) events of about 245
	// bytes and ledger requests of about 3 KiB, with room for bbolt's pages
	// (docs/robustness.md#bounds-of-a-run).
	boundsGrowth = 1 << 20
)

// boundsCase is one fault against one bound.
type boundsCase struct {
	name string
	// bounds changes testBounds for this case.
	bounds func(b *harvester.Bounds)
	// fault arms the fake; faults apply from the second window chunk on, so the first
	// is imported before the bound is reached.
	fault func(lf *fakelibris.Server, np *fakenetpunkt.Server)
	// the alert's message holds every one of want
	want []string
	// most is how many requests the run may have handled (events) and the ledger may
	// hold after it: the first chunk's, and at most the bound's more.
	most int
	// recovers: once the fault is gone, the next run imports everything.
	recovers bool
}

// afterFirstChunk queues f for the calls after the first window chunk's.
func afterFirstLibris(s *fakelibris.Server, f fakelibris.Fault) {
	s.Inject(fakelibris.Fault{Match: "/outgoing", Times: 1}) // the first chunk, as it is
	f.Match = "/outgoing"
	s.Inject(f)
}

func afterFirstNetpunkt(s *fakenetpunkt.Server, f fakenetpunkt.Fault) {
	s.Inject(fakenetpunkt.Fault{Match: "findAllIllOrders", Times: 1})
	f.Match = "findAllIllOrders"
	s.Inject(f)
}

func TestRunBoundsLibris(t *testing.T) {
	for _, tc := range []boundsCase{
		{name: "endless stream of the same requests", fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
			afterFirstLibris(s, fakelibris.Fault{Times: 1, Flood: &fakelibris.Flood{}})
		}, want: []string{"Libris sent more than 50 requests for ", "the bound on one window chunk (--run-max-chunk-items)"}, most: 50, recovers: true},
		{name: "endless chunk of distinct ids", fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
			afterFirstLibris(s, fakelibris.Fault{Times: 1, Flood: &fakelibris.Flood{Distinct: true}})
		}, want: []string{"Libris sent more than 50 requests for ", "(--run-max-chunk-items)"}, most: 50, recovers: true},
		{name: "more distinct requests than a run may handle", bounds: func(b *harvester.Bounds) { b.MaxRunItems = 45 },
			want: []string{"Libris sent more than 45 requests in this run", "(--run-max-items)"}, most: 45},
		{name: "drip feed meets the call deadline", bounds: func(b *harvester.Bounds) { b.CallTimeout = 2 * time.Second },
			fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
				// One byte every 100 ms: never silent for Libris's 60 s idle timeout.
				afterFirstLibris(s, fakelibris.Fault{Times: 1, Drip: 100 * time.Millisecond, DripSize: 1})
			}, want: []string{"Libris took longer than 2s (the bound on one call) to answer for outgoing ", "(--external-call-timeout;"}, most: 50, recovers: true},
		{name: "drip feed meets the least rate", bounds: func(b *harvester.Bounds) { b.MinRate = 1024; b.SlowGrace = time.Second },
			fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
				afterFirstLibris(s, fakelibris.Fault{Times: 1, Drip: 100 * time.Millisecond, DripSize: 1})
			}, want: []string{"Libris sent the answer for outgoing ", "slower than 1024 bytes a second after 1s", "--external-min-rate"}, most: 50, recovers: true},
		{name: "giant body", fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
			afterFirstLibris(s, fakelibris.Fault{Times: 1, Bloat: 128 << 10})
		}, want: []string{"Libris's answers in this run came to more than 1 MiB (the bound on bytes read per run)", "(--run-max-read-mib;"}, most: 50, recovers: true},
		{name: "slow answers meet the run's deadline", bounds: func(b *harvester.Bounds) { b.RunTimeout = 3 * time.Second },
			fault: func(s *fakelibris.Server, _ *fakenetpunkt.Server) {
				s.Inject(fakelibris.Fault{Match: "/outgoing", Delay: 1200 * time.Millisecond}) // every chunk, until cleared
			}, want: []string{"the run took longer than 3s, the bound on one run (--run-timeout), and was stopped while fetching "}, most: boundsRequests, recovers: true},
	} {
		t.Run(tc.name, func(t *testing.T) { runBoundsCase(t, tc, false) })
	}
}

func TestRunBoundsNetpunkt(t *testing.T) {
	for _, tc := range []boundsCase{
		{name: "endless chunk of distinct ids", fault: func(_ *fakelibris.Server, s *fakenetpunkt.Server) {
			afterFirstNetpunkt(s, fakenetpunkt.Fault{Times: 1, Flood: &fakenetpunkt.Flood{Distinct: true}})
		}, want: []string{"Netpunkt sent more than 50 requests for ", "(--run-max-chunk-items)"}, most: 50, recovers: true},
		{name: "drip feed meets the call deadline", bounds: func(b *harvester.Bounds) { b.CallTimeout = 2 * time.Second },
			fault: func(_ *fakelibris.Server, s *fakenetpunkt.Server) {
				afterFirstNetpunkt(s, fakenetpunkt.Fault{Times: 1, Drip: 100 * time.Millisecond, DripSize: 1})
			}, want: []string{"Netpunkt took longer than 2s (the bound on one call) to answer for orders ", "(--external-call-timeout;"}, most: 50, recovers: true},
	} {
		t.Run(tc.name, func(t *testing.T) { runBoundsCase(t, tc, true) })
	}
}

// runBoundsCase imports a world through a fake that misbehaves as tc says, on a whole
// suite (fake over HTTP → harvester → ledger over gRPC): the run must end FAILED with
// RUN_LIMIT_EXCEEDED, keep what was acknowledged, handle no request past the bound, grow
// the data files by at most boundsGrowth, and leave the cursor for the next run.
func runBoundsCase(t *testing.T, tc boundsCase, netpunkt bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := testBounds
	if tc.bounds != nil {
		tc.bounds(&b)
	}
	lf := fakelibris.New(fakelibris.Options{})
	np := fakenetpunkt.New(fakenetpunkt.Options{})
	o := testenv.Options{DataDir: t.TempDir(), Logger: logging.Discard(), HarvesterBounds: b}
	if netpunkt {
		o.Netpunkt = np
	} else {
		o.Libris = lf
	}
	env, err := testenv.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	}()
	wo := testenv.WorldOptions{Count: boundsRequests, Days: boundsDays, Seed: 7}
	var w testenv.World
	if netpunkt {
		w, _ = env.Netpunkt.World(wo)
	} else {
		w = env.Libris.World(wo)
	}
	if err := env.Seed(ctx, w); err != nil {
		t.Fatal(err)
	}
	if tc.fault != nil {
		tc.fault(lf, np)
	}

	before := dataSizes(t, env.DataDir)
	began := time.Now()
	run, err := testenv.Import(ctx, env.Harvester, w.ProfileName())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	after := dataSizes(t, env.DataDir)
	events := countEvents(t, ctx, env, run.GetName())
	held := countLedger(t, ctx, env, w.ProfileName())
	msg := limitAlert(t, run)
	var growth []string
	for _, f := range []string{harvester.DataFile, requests.DataFile} {
		b, a := before[f], after[f]
		growth = append(growth, fmt.Sprintf("%s data +%s (file %s → %s)", f, kib(int64(a.data-b.data)), kib(b.file), kib(a.file)))
		if grew := int64(a.data - b.data); grew > boundsGrowth {
			t.Errorf("%s: its data grew by %s, more than %s", f, kib(grew), kib(boundsGrowth))
		}
	}
	t.Logf("ended %s in %s: %d events, %d requests in the ledger; %s\n  %s",
		run.GetState(), took.Round(10*time.Millisecond), events, held, strings.Join(growth, ", "), msg)

	for _, want := range tc.want {
		if !strings.Contains(msg, want) {
			t.Errorf("alert %q lacks %q", msg, want)
		}
	}
	if !strings.Contains(msg, "the cursor is unchanged") {
		t.Errorf("alert %q does not say the cursor is unchanged", msg)
	}
	if events > tc.most || held > tc.most || int(run.GetCounters().GetFetched()) != events {
		t.Errorf("%d events (counters %v), %d in the ledger: more than the %d the bound allows", events, run.GetCounters(), held, tc.most)
	}
	if !tc.recovers {
		return
	}
	// The next run, the fault gone, starts where the faulty one did (the cursor did
	// not move) and imports everything.
	lf.ClearFaults()
	np.ClearFaults()
	next, err := testenv.Import(ctx, env.Harvester, w.ProfileName())
	if err != nil {
		t.Fatal(err)
	}
	if s := next.GetState(); s != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("recovery run %s: %v", s, next.GetAlerts())
	}
	if !next.GetWindow().GetStartTime().AsTime().Equal(run.GetWindow().GetStartTime().AsTime()) {
		t.Errorf("recovery window starts %v, the faulty run's %v: the cursor moved", next.GetWindow().GetStartTime().AsTime(), run.GetWindow().GetStartTime().AsTime())
	}
	if got := countLedger(t, ctx, env, w.ProfileName()); got != boundsRequests {
		t.Errorf("after recovery the ledger holds %d requests, want %d", got, boundsRequests)
	}
}

// limitAlert is the run's RUN_LIMIT_EXCEEDED message; the run must have FAILED with it.
func limitAlert(t *testing.T, run *harvesterv1.Run) string {
	t.Helper()
	if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
		t.Fatalf("run ended %s: %v", run.GetState(), run.GetAlerts())
	}
	for _, a := range run.GetAlerts() {
		if a.GetCode() == harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED {
			return a.GetMessage()
		}
	}
	t.Fatalf("no RUN_LIMIT_EXCEEDED alert: %v", run.GetAlerts())
	return ""
}

func countEvents(t *testing.T, ctx context.Context, env *testenv.Env, run string) int {
	t.Helper()
	n, token := 0, ""
	for {
		resp, err := env.Harvester.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: run, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.GetRunEvents())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

func countLedger(t *testing.T, ctx context.Context, env *testenv.Env, profile string) int {
	t.Helper()
	n, token := 0, ""
	for {
		resp, err := env.Requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Profile: profile, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.GetBorrowingRequests())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

// dataSize is a bbolt file's size and how much of it holds data (boltdb.HighWater): the
// file grows only once the data outgrows what bbolt set aside.
type dataSize struct {
	file int64
	data uint64
}

// dataSizes measures the harvester's and the ledger's files in dir.
func dataSizes(t *testing.T, dir string) map[string]dataSize {
	t.Helper()
	out := map[string]dataSize{}
	for _, f := range []string{harvester.DataFile, requests.DataFile} {
		path := filepath.Join(dir, f)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		hw, err := boltdb.HighWater(path)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = dataSize{file: fi.Size(), data: hw}
	}
	return out
}

func kib(n int64) string { return fmt.Sprintf("%d KiB", n>>10) }
