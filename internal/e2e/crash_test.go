package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	harvester "github.com/interloan/interloan/services/harvester/app"
	mapping "github.com/interloan/interloan/services/mapping/app"
	profiles "github.com/interloan/interloan/services/profiles/app"
	requests "github.com/interloan/interloan/services/requests/app"
)

// The crash test re-executes this test binary as the harvester or the ledger, so that
// SIGKILL is a real crash of a real process; these variables tell the child what to be.
const (
	crashRoleEnv     = "INTERLOAN_E2E_CRASH_ROLE" // "harvester" or "requests"
	crashDirEnv      = "INTERLOAN_E2E_CRASH_DATA"
	crashProfilesEnv = "INTERLOAN_E2E_CRASH_PROFILES"
	crashMappingEnv  = "INTERLOAN_E2E_CRASH_MAPPING"
	crashRequestsEnv = "INTERLOAN_E2E_CRASH_REQUESTS"
	crashTokensEnv   = "INTERLOAN_E2E_CRASH_TOKENS"
	crashServiceEnv  = "INTERLOAN_E2E_CRASH_SERVICE_TOKEN"
	crashReadyLine   = "interloan-crash-child-ready"
)

const (
	crashN         = 1500 // requests in the harvest window
	crashDays      = 28   // four 7-day chunks, so four calls to /outgoing per run
	crashChunkDays = 7    // the runner's default chunk
)

// TestCrashChild is the body of a child process; run directly it does nothing.
func TestCrashChild(t *testing.T) {
	role := os.Getenv(crashRoleEnv)
	if role == "" {
		t.Skip("entry point of TestCrashRecovery's child processes")
	}
	os.Exit(crashChild(role))
}

// crashChild serves role on the listener inherited as fd 3 until it is killed.
func crashChild(role string) int {
	// The parent holds our stdin open; EOF means it is gone, so never outlive it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	f := os.NewFile(3, "grpc-listener")
	lis, err := net.FileListener(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "inherited listener:", err)
		return 1
	}
	common := server.Common{
		DataDir: os.Getenv(crashDirEnv), Logger: logging.New(os.Stderr, role, "info"), GRPCListener: lis, TokensFile: os.Getenv(crashTokensEnv),
		Ready: func(net.Addr, net.Addr) { fmt.Println(crashReadyLine) },
	}
	// SIGTERM is the graceful stop Kubernetes sends, as the binaries' server.Main handles it.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	switch role {
	case "harvester":
		err = harvester.Run(ctx, harvester.Config{Common: common,
			ProfilesAddr: os.Getenv(crashProfilesEnv), MappingAddr: os.Getenv(crashMappingEnv), RequestsAddr: os.Getenv(crashRequestsEnv),
			ServiceTokenFile: os.Getenv(crashServiceEnv), AllowPrivateNetworks: true}) // the fake Libris is on loopback
	case "requests":
		err = requests.Run(ctx, requests.Config{Common: common})
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// killPoint says when to crash a run. The gate holds the gate-th and later calls to
// /outgoing, so the run cannot finish before the kill. Then either the victim dies as soon
// as the ledger holds atLeast requests, or (inFlight) the gate lets the run go on and the
// victim dies while the ledger's answer to the next batch, committed, is held in transit.
type killPoint struct {
	name     string
	gate     int
	atLeast  int
	inFlight bool
	term     bool // SIGTERM (a graceful stop) instead of SIGKILL
}

// TestCrashRecovery kills the harvester or the ledger (SIGKILL, separate processes) early,
// mid-way and late in an import, restarts it on the same data, and checks that the next
// run brings the ledger to exactly what the external system holds: nothing lost, nothing
// twice. It runs once per connector.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if runtime.GOOS == "windows" {
		t.Skip("hands listeners to child processes as inherited file descriptors")
	}
	forEachSystem(t, testCrashRecovery)
}

func testCrashRecovery(t *testing.T, sys *system) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	today := time.Now().UTC()
	start := today.AddDate(0, 0, -(crashDays - 1))
	sys.grant("key", sys.ours)
	generated := sys.generate(11, sys.ours, crashN, start, today, sys.lenders)
	want := map[string]bool{}
	perChunk := make([]int, crashDays/crashChunkDays)
	startDay := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	for _, g := range generated {
		want[g.id] = true
		d := g.day.UTC()
		d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		perChunk[int(d.Sub(startDay).Hours()/24)/crashChunkDays]++
	}
	gate := &outgoingGate{next: sys.fake, isChunkStart: sys.isChunkStart}
	srv := httptest.NewServer(gate)
	t.Cleanup(srv.Close)
	t.Cleanup(gate.open) // a handler still held would block srv.Close

	// Profiles and mapping stay up in this process; only the harvester and ledger crash.
	// All of them share one tokens file: the test calls as admin, the harvester as itself.
	dir := t.TempDir()
	secrets, err := testenv.NewSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	profilesAddr := crashServeHere(t, ctx, func(ctx context.Context, c server.Common) error {
		return profiles.Run(ctx, profiles.Config{Common: c, SecretKeyFile: secrets.KeyFile})
	}, dir, secrets.TokensFile)
	mappingAddr := crashServeHere(t, ctx, func(ctx context.Context, c server.Common) error {
		return mapping.Run(ctx, mapping.Config{Common: c})
	}, dir, secrets.TokensFile)
	e := &env{t: t, ctx: ctx, sys: sys, extURL: srv.URL + sys.basePath,
		adminToken: secrets.AdminToken, tokensFile: secrets.TokensFile, serviceTokenFile: secrets.HarvesterTokenFile,
		Clients: testenv.Clients{
			Profiles: profilesv1.NewProfileServiceClient(dialAs(t, profilesAddr, secrets.AdminToken)),
			Mapping:  mappingv1.NewMappingServiceClient(dialAs(t, mappingAddr, secrets.AdminToken)),
		}}
	e.library("MAIN")
	e.mapOurs(sys.ours, "MAIN")
	for _, l := range sys.lenders {
		e.partner(l)
	}
	profile := e.profile("abc", sys.ours, "key", "MAIN", start)
	t.Logf("%d requests over %d days, per 7-day chunk %v", crashN, crashDays, perChunk)

	points := []killPoint{
		// As soon as the first batch is in the ledger: the harvester is recording it or
		// asking the external system for the next chunk.
		{name: "early", gate: 2, atLeast: 1},
		// The ledger committed chunk 2 but the harvester never hears so.
		{name: "answer-in-flight", gate: 2, inFlight: true},
		// All but the last chunk imported; the harvester waits for the external system.
		{name: "late", gate: 4, atLeast: perChunk[0] + perChunk[1] + perChunk[2]},
		// Kubernetes stops the pod: the harvester ends the run as ABORTED itself and exits.
		{name: "sigterm", gate: 2, atLeast: 1, term: true},
	}
	for _, victim := range []string{"harvester", "requests"} {
		for _, kp := range points {
			if kp.term && victim != "harvester" {
				continue
			}
			t.Run(victim+"-killed-"+kp.name, func(t *testing.T) {
				began := time.Now()
				c := newCrashCluster(t, e, profilesAddr, mappingAddr, perChunk)
				crashAndRecover(t, c, gate, victim, kp, profile, want)
				t.Logf("took %s", time.Since(began).Round(time.Millisecond))
			})
		}
	}
	t.Logf("total %s", time.Since(began).Round(time.Millisecond))
}

// crashAndRecover runs one import, kills victim at kp, restarts it and checks the result.
func crashAndRecover(t *testing.T, c *crashCluster, gate *outgoingGate, victim string, kp killPoint, profile string, want map[string]bool) {
	e := c.e
	held := gate.arm(kp.gate)
	first, err := e.Harvester.StartRun(e.ctx, &harvesterv1.StartRunRequest{Profile: profile})
	e.must(err)
	killed := c.harvester
	if victim == "requests" {
		killed = c.ledger
	}
	if kp.inFlight {
		crashWait(t, held, "the run to ask the external system for chunk %d", kp.gate)
		answer := c.proxy.hold()
		gate.open()
		crashWait(t, answer, "the ledger to answer a batch")
		killed.kill()
		c.proxy.release()
	} else if kp.term {
		c.waitLedger(profile, kp.atLeast)
		if err := killed.terminate(); err != nil {
			t.Fatalf("the %s did not exit cleanly on SIGTERM: %v", victim, err)
		}
		// The run was ended by the harvester itself, before it exited, not by the next
		// start's crash recovery.
		if out := killed.stderr.String(); !strings.Contains(out, `"msg":"run ended"`) || !strings.Contains(out, "RUN_STATE_ABORTED") {
			t.Fatalf("no ABORTED run end logged before the exit:\n%s", out)
		}
		gate.open()
	} else {
		c.waitLedger(profile, kp.atLeast)
		killed.kill()
		gate.open()
	}

	if victim == "harvester" {
		c.harvester = c.harvester.restart()
		// Recover marked the run the crash left RUNNING as ABORTED.
		r, err := e.Harvester.GetRun(e.ctx, &harvesterv1.GetRunRequest{Name: first.GetName()})
		e.must(err)
		if r.GetState() != harvesterv1.RunState_RUN_STATE_ABORTED || !hasAlert(r, harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED) {
			t.Fatalf("killed run after restart: %v %v", r.GetState(), r.GetAlerts())
		}
	} else {
		// With the ledger down the run must end by itself: its ingest stream broke.
		died := time.Now()
		wctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		r, err := testenv.Await(wctx, e.Harvester, first.GetName())
		cancel()
		if err != nil {
			t.Fatalf("run still not ended 30s after the ledger died: %v", err)
		}
		t.Logf("the run ended %s after the ledger died", time.Since(died).Round(time.Millisecond))
		if r.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || !hasAlert(r, harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE) {
			t.Fatalf("run whose ledger died: %v %s %v", r.GetState(), counters(r), r.GetAlerts())
		}
		c.ledger = c.ledger.restart()
	}

	// Whatever the killed run recorded as imported survived, under the same name.
	before := e.ledger(profile)
	firstRun := crashGetRun(e, first.GetName())
	t.Logf("killed the %s: the ledger held %d requests, the killed run: %s", victim, len(before), counters(firstRun))
	if kp.inFlight {
		// The batch of chunk 2 is committed in the ledger, unknown to the harvester.
		if got, want := firstRun.GetCounters().GetCreated(), int64(c.perChunk[0]); got != want {
			t.Fatalf("the killed run recorded %d created, want chunk 1's %d", got, want)
		}
		if got, want := len(before), c.perChunk[0]+c.perChunk[1]; got != want {
			t.Fatalf("the ledger held %d requests after the kill, want chunks 1 and 2's %d", got, want)
		}
	}
	for id, ev := range e.events(first) {
		if ev.GetOutcome() == harvesterv1.Outcome_OUTCOME_CREATED && before[id].GetName() != ev.GetBorrowingRequest() {
			t.Fatalf("the killed run created %s as %s, the ledger has %q", id, ev.GetBorrowingRequest(), before[id].GetName())
		}
	}
	for id := range before {
		if !want[id] {
			t.Fatalf("the ledger holds %s, which the external system never had", id)
		}
	}

	// The next run covers the whole window again: it creates exactly what is missing.
	second := e.run(profile)
	cnt := second.GetCounters()
	if st := second.GetState(); st != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS && st != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS ||
		cnt.GetFetched() != crashN || cnt.GetCreated() != int64(crashN-len(before)) || cnt.GetUnchanged() != int64(len(before)) ||
		cnt.GetUpdated() != 0 || cnt.GetSkipped() != 0 || cnt.GetFailed() != 0 {
		t.Fatalf("run after the crash (ledger held %d): %v %s %v", len(before), second.GetState(), counters(second), second.GetAlerts())
	}
	after := c.checkLedger(profile, want)
	for id, ev := range e.events(second) {
		if ev.GetBorrowingRequest() != after[id].GetName() {
			t.Fatalf("event of %s links %s, the ledger has %q", id, ev.GetBorrowingRequest(), after[id].GetName())
		}
	}
	for id, br := range before {
		if after[id].GetName() != br.GetName() {
			t.Fatalf("%s was %s before the recovery run and is %s after", id, br.GetName(), after[id].GetName())
		}
	}
	t.Logf("the run after the restart: %s", counters(second))
}

// crashWait waits (bounded) for ch to close.
func crashWait(t *testing.T, ch <-chan struct{}, format string, args ...any) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("waited 30s for "+format, args...)
	}
}

func crashGetRun(e *env, name string) *harvesterv1.Run {
	r, err := e.Harvester.GetRun(e.ctx, &harvesterv1.GetRunRequest{Name: name})
	e.must(err)
	return r
}

// crashCluster is one harvester and one ledger process with their own data, for one scenario.
type crashCluster struct {
	t                 *testing.T
	e                 *env
	harvester, ledger *crashProc
	proxy             *ledgerProxy // the harvester reaches the ledger through it
	perChunk          []int
}

func newCrashCluster(t *testing.T, parent *env, profilesAddr, mappingAddr string, perChunk []int) *crashCluster {
	e := *parent
	e.t = t
	ledgerLis := crashListenHeld(t)
	harvesterLis := crashListenHeld(t)
	c := &crashCluster{t: t, e: &e, perChunk: perChunk, proxy: startLedgerProxy(t, ledgerLis.Addr().String())}
	tokens := crashTokensEnv + "=" + e.tokensFile
	c.ledger = startCrashProc(t, "requests", t.TempDir(), ledgerLis, tokens)
	c.harvester = startCrashProc(t, "harvester", t.TempDir(), harvesterLis, tokens, crashServiceEnv+"="+e.serviceTokenFile,
		crashProfilesEnv+"="+profilesAddr, crashMappingEnv+"="+mappingAddr, crashRequestsEnv+"="+c.proxy.addr)
	e.Requests = requestsv1.NewRequestServiceClient(dialAs(t, ledgerLis.Addr().String(), e.adminToken))
	e.Harvester = harvesterv1.NewHarvesterServiceClient(dialAs(t, harvesterLis.Addr().String(), e.adminToken))
	return c
}

// waitLedger polls the ledger until it holds at least n requests of profile.
func (c *crashCluster) waitLedger(profile string, n int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := crashList(c.e.ctx, c.e.Requests, &requestsv1.ListBorrowingRequestsRequest{Profile: profile})
		if err == nil && len(got) >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the ledger did not reach %d requests within 30s (has %d, error %v)", n, len(got), err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkLedger asserts the ledger holds exactly the wanted requests, once each, and that
// its filtered listings agree with the whole.
func (c *crashCluster) checkLedger(profile string, want map[string]bool) map[string]*requestsv1.BorrowingRequest {
	t, e := c.t, c.e
	all := e.ledger(profile) // fails on a duplicate external id
	if len(all) != len(want) {
		t.Fatalf("the ledger holds %d requests, the external system %d", len(all), len(want))
	}
	byStatus := map[requestsv1.Status]int{}
	byPartner := map[string]int{}
	names := map[string]bool{}
	for id, br := range all {
		if !want[id] {
			t.Fatalf("the ledger holds %s, which the external system never had", id)
		}
		if names[br.GetName()] {
			t.Fatalf("two external ids share %s", br.GetName())
		}
		names[br.GetName()] = true
		byStatus[br.GetStatus()]++
		byPartner[br.GetPartner()]++
	}
	count := func(req *requestsv1.ListBorrowingRequestsRequest) int {
		req.Profile = profile
		got, err := crashList(e.ctx, e.Requests, req)
		e.must(err)
		return len(got)
	}
	for st, n := range byStatus {
		if got := count(&requestsv1.ListBorrowingRequestsRequest{Status: st}); got != n {
			t.Fatalf("listing status %v gives %d, the whole ledger has %d", st, got, n)
		}
	}
	for p, n := range byPartner {
		if p == "" {
			continue
		}
		if got := count(&requestsv1.ListBorrowingRequestsRequest{Partner: p}); got != n {
			t.Fatalf("listing partner %s gives %d, the whole ledger has %d", p, got, n)
		}
	}
	if got := count(&requestsv1.ListBorrowingRequestsRequest{Owner: "MAIN"}); got != len(all) {
		t.Fatalf("listing owner MAIN gives %d of %d", got, len(all))
	}
	n := 0
	for id, br := range all {
		if n++; n > 5 {
			break
		}
		got, err := crashList(e.ctx, e.Requests, &requestsv1.ListBorrowingRequestsRequest{Profile: profile, ExternalId: id})
		e.must(err)
		if len(got) != 1 || got[0].GetName() != br.GetName() {
			t.Fatalf("listing external id %s gives %d requests", id, len(got))
		}
	}
	return all
}

func crashList(ctx context.Context, rs requestsv1.RequestServiceClient, req *requestsv1.ListBorrowingRequestsRequest) ([]*requestsv1.BorrowingRequest, error) {
	var out []*requestsv1.BorrowingRequest
	req.PageSize = 1000
	req.PageToken = ""
	for {
		resp, err := rs.ListBorrowingRequests(ctx, req)
		if err != nil {
			return out, err
		}
		out = append(out, resp.GetBorrowingRequests()...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return out, nil
		}
	}
}

// outgoingGate sits in front of the fake external system. Once armed with k, the k-th and
// later calls that start a window chunk (Libris /outgoing, Netpunkt's first page) wait
// until open, so a run cannot finish before the test crashes it.
type outgoingGate struct {
	next         http.Handler
	isChunkStart func(*http.Request) bool
	mu           sync.Mutex
	calls        int
	from         int
	held         chan struct{} // closed when the first call is held
	release      chan struct{}
}

// arm holds the k-th and later calls; the channel closes when the k-th arrives.
func (g *outgoingGate) arm(k int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls, g.from, g.held, g.release = 0, k, make(chan struct{}), make(chan struct{})
	return g.held
}

func (g *outgoingGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.from > 0 {
		close(g.release)
	}
	g.from = 0
}

func (g *outgoingGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.isChunkStart(r) {
		g.mu.Lock()
		g.calls++
		held := g.from > 0 && g.calls >= g.from
		if g.from > 0 && g.calls == g.from {
			close(g.held)
		}
		release := g.release
		g.mu.Unlock()
		if held {
			select {
			case <-release:
			case <-r.Context().Done(): // the harvester died while waiting
				return
			}
		}
	}
	g.next.ServeHTTP(w, r)
}

// ledgerProxy forwards the harvester's connections to the ledger byte for byte. Asked
// to hold, it keeps the ledger's next batch answer (the next large HTTP/2 DATA frame
// towards the harvester; the rest the ledger sends it before the window is done is
// frame control) from the harvester until release, then drops it and the connection pair.
type ledgerProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	armed  chan struct{} // closed when an answer is held
	unheld chan struct{} // closed by release
	conns  map[net.Conn]bool
}

func startLedgerProxy(t *testing.T, target string) *ledgerProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ledgerProxy{addr: lis.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			down, err := lis.Accept()
			if err != nil {
				return
			}
			go p.pipe(down)
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		p.release()
		p.mu.Lock()
		defer p.mu.Unlock()
		for c := range p.conns {
			c.Close()
		}
	})
	return p
}

// hold arms the proxy; the channel closes once it holds an answer.
func (p *ledgerProxy) hold() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.unheld = make(chan struct{}), make(chan struct{})
	return p.armed
}

func (p *ledgerProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unheld != nil {
		close(p.unheld)
		p.unheld = nil
	}
}

// take reports whether a read holding a batch answer (answer) is to be held, and what
// to wait for then.
func (p *ledgerProxy) take(answer bool) (bool, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !answer || p.armed == nil {
		return false, nil
	}
	close(p.armed)
	p.armed = nil
	return true, p.unheld
}

func (p *ledgerProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *ledgerProxy) pipe(down net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		down.Close()
		return
	}
	p.track(down, true)
	p.track(up, true)
	closeBoth := func() {
		down.Close()
		up.Close()
		p.track(down, false)
		p.track(up, false)
	}
	go func() {
		_, _ = io.Copy(up, down)
		closeBoth()
	}()
	var frames h2Frames
	buf := make([]byte, 64<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			// A batch answer is hundreds of results: one DATA frame of several KiB.
			if hold, release := p.take(frames.scan(buf[:n], 512)); hold {
				if release != nil {
					<-release
				}
				break // the held answer is dropped, so this stream cannot go on
			}
			if _, werr := down.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	closeBoth()
}

// h2Frames follows the frame boundaries of one direction of an HTTP/2 connection.
type h2Frames struct {
	hdr  [9]byte
	have int // header bytes collected
	skip int // payload bytes still to pass
}

// scan walks p and reports whether a DATA frame of at least least payload bytes starts in it.
func (f *h2Frames) scan(p []byte, least int) bool {
	found := false
	for len(p) > 0 {
		if f.skip > 0 {
			k := min(f.skip, len(p))
			f.skip -= k
			p = p[k:]
			continue
		}
		k := copy(f.hdr[f.have:], p)
		f.have += k
		p = p[k:]
		if f.have == len(f.hdr) {
			length := int(f.hdr[0])<<16 | int(f.hdr[1])<<8 | int(f.hdr[2])
			found = found || (f.hdr[3] == 0 && length >= least) // type 0 is DATA
			f.skip, f.have = length, 0
		}
	}
	return found
}

// crashServeHere runs a service in this process on a loopback listener and returns its address.
func crashServeHere(t *testing.T, ctx context.Context, run func(context.Context, server.Common) error, dir, tokensFile string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, server.Common{DataDir: dir, Logger: logging.Discard(), GRPCListener: lis, TokensFile: tokensFile,
			Ready: func(net.Addr, net.Addr) { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("in-process service: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("in-process service did not start: %v", err)
	}
	return lis.Addr().String()
}

// crashListenHeld binds a port this process keeps for the whole scenario and hands to each
// incarnation of a child (as systemd socket activation does): the address never changes,
// no other process can take it between a kill and the restart, and clients that connect
// meanwhile wait in the backlog for the next incarnation.
func crashListenHeld(t *testing.T) *net.TCPListener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return lis.(*net.TCPListener)
}

// crashProc is one incarnation of a service process (a child of this test).
type crashProc struct {
	t      *testing.T
	role   string
	dir    string
	lis    *net.TCPListener
	env    []string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer // read only after the process was reaped
	exited chan struct{}
	err    error
}

func startCrashProc(t *testing.T, role, dir string, lis *net.TCPListener, env ...string) *crashProc {
	t.Helper()
	f, err := lis.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &crashProc{t: t, role: role, dir: dir, lis: lis, env: env, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.timeout=0")
	c.cmd.Env = append(append(os.Environ(), crashRoleEnv+"="+role, crashDirEnv+"="+dir), env...)
	c.cmd.ExtraFiles = []*os.File{f}
	ready := &crashReadyWatch{line: crashReadyLine, seen: make(chan struct{})}
	c.cmd.Stdout = ready
	c.cmd.Stderr = c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.kill()
		out := c.stderr.String()
		// A child is killed, never ends its test, so the race detector cannot fail it: look.
		if strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
			t.Errorf("%s child (pid %d) reported a race or panic", role, c.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s child (pid %d, %v) stderr:\n%s", role, c.cmd.Process.Pid, c.err, out)
		}
	})
	select {
	case <-ready.seen:
	case <-c.exited:
		t.Fatalf("%s child exited before serving: %v\n%s", role, c.err, c.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s child did not start within 30s", role)
	}
	return c
}

// kill SIGKILLs the process and reaps it; killing a dead child does nothing.
func (c *crashProc) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
	c.stdin.Close()
}

// terminate sends SIGTERM and waits (bounded) for the process to exit; it returns the
// exit error (nil: status 0).
func (c *crashProc) terminate() error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("still running 30s after SIGTERM")
	}
	c.stdin.Close()
	return c.err
}

// restart starts the next incarnation on the same data and listener.
func (c *crashProc) restart() *crashProc {
	c.t.Helper()
	c.kill()
	return startCrashProc(c.t, c.role, c.dir, c.lis, c.env...)
}

// crashReadyWatch is a child's stdout: it closes seen once line appears.
type crashReadyWatch struct {
	line string
	mu   sync.Mutex
	buf  []byte
	seen chan struct{}
	done bool
}

func (w *crashReadyWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf = append(w.buf, p...)
		if bytes.Contains(w.buf, []byte(w.line+"\n")) {
			w.done = true
			close(w.seen)
		}
	}
	return len(p), nil
}
