package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/demo"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// The bench's world is the demo's Libris world: library "Abc" (sigel) is local library
// MAIN, borrowing from three lenders. The fill's requests carry a profile of their own.
const (
	fillProfile = "integrationProfiles/bench-fill"
	// windowDays is how many days the generated requests span, ending today. A run
	// re-reads its profile's overlap (2 days by default) before the cursor, which the
	// first run sets to today: with 3 days the second run's window is the first's, so the
	// re-import reads exactly the same requests.
	windowDays = 3
	// librisSeed drives the generated requests: every ledger imports the same ones.
	librisSeed = 8
	// harvesterBatch is the harvester's ingest batch size (run.Deps' default).
	harvesterBatch = 1000
)

// env is one running demo session — a fake Libris with n generated requests and the
// suite (in this process, over loopback gRPC, with its defaults), seeded as an
// administrator would before a first import — and the clients the bench uses as that
// administrator.
type env struct {
	dataDir   string
	addrs     suite.Addrs
	token     string // the suite's admin token
	profile   string // the seeded Libris profile's resource name
	conns     []*grpc.ClientConn
	harvester harvesterv1.HarvesterServiceClient // the suite's own harvester
	requests  requestsv1.RequestServiceClient
	stop      func() error
}

// startSuite runs a demo session of n requests generated over the windowDays days up to
// now, on dataDir, until stop is called.
func startSuite(ctx context.Context, dataDir string, n int, now time.Time, verbose bool) (*env, error) {
	level := "error"
	if verbose {
		level = "warn"
	}
	s, err := demo.Start(ctx, demo.Options{DataDir: dataDir, Count: n, Days: windowDays, Seed: librisSeed, LogLevel: level,
		Now: func() time.Time { return now.UTC() }}, io.Discard)
	if err != nil {
		return nil, err
	}
	e := &env{dataDir: dataDir, addrs: s.Addrs, token: s.AdminToken, profile: s.Profile, harvester: s.Harvester}
	e.stop = func() error {
		for _, c := range e.conns {
			c.Close()
		}
		return s.Close()
	}
	c, err := e.dial(e.addrs.Requests)
	if err != nil {
		return nil, errors.Join(err, e.stop())
	}
	e.conns = append(e.conns, c)
	e.requests = requestsv1.NewRequestServiceClient(c)
	return e, nil
}

// dial connects to addr as the suite's administrator. Loopback only, so no TLS.
func (e *env) dial(addr string) (*grpc.ClientConn, error) {
	return client.Dial(addr, tlsconfig.Config{}, e.token, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
}

// childHarvester is services/harvester/cmd/harvester running as its own process against
// the suite's profiles, mapping and requests, so that its memory is its own.
type childHarvester struct {
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	client harvesterv1.HarvesterServiceClient
	stderr *tailBuffer
}

// startHarvester starts bin with its own data directory, the suite's tokens and the
// harvester token the suite created, and waits until it answers.
func startHarvester(ctx context.Context, bin string, e *env, dataDir string) (*childHarvester, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--grpc-addr", addr, "--http-addr", "", "--data-dir", dataDir, "--log-level", "error",
		"--tokens-file", e.addrs.TokensFile,
		"--service-token-file", filepath.Join(e.dataDir, suite.HarvesterTokenName),
		"--profiles-addr", e.addrs.Profiles, "--mapping-addr", e.addrs.Mapping, "--requests-addr", e.addrs.Requests)
	h := &childHarvester{cmd: cmd, stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start harvester: %w", err)
	}
	if h.conn, err = e.dial(addr); err != nil {
		return nil, errors.Join(err, h.stop())
	}
	h.client = harvesterv1.NewHarvesterServiceClient(h.conn)
	// Up once it answers a call; it may take a moment to open its file and listen.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.client.ListRuns(ctx, &harvesterv1.ListRunsRequest{PageSize: 1})
		if err == nil {
			return h, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, errors.Join(fmt.Errorf("harvester did not start: %w (stderr: %s)", err, h.stderr), h.stop())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peakRSSMB is the process's peak resident set so far (VmHWM), in MiB.
func (h *childHarvester) peakRSSMB() (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("harvester memory: %w", err)
	}
	defer f.Close()
	return vmHWM(f)
}

// vmHWM reads the VmHWM line of a /proc/<pid>/status file, in MiB.
func vmHWM(r io.Reader) (float64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %w", rest, err)
		}
		return kb / 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM line")
}

// stop ends the harvester as its orchestrator would (SIGTERM) and waits for it.
func (h *childHarvester) stop() error {
	if h.conn != nil {
		h.conn.Close()
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop harvester: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("harvester: %w (stderr: %s)", err, h.stderr)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-done
		return errors.New("the harvester did not stop within 30s of SIGTERM; killed")
	}
}

// tailBuffer keeps the last max bytes written: a child's stderr, for error messages.
type tailBuffer struct {
	max int
	mu  sync.Mutex // the child's output is copied in by exec's goroutine
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
