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

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/internal/testenv"
)

// The bench's world is testenv's Libris world: library "Abc" (sigel) is local library
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

// env is one test environment — a fake Libris with n generated requests and the suite
// (in this process, over loopback gRPC, with its defaults), seeded as an administrator
// would before a first import — with the profile the bench imports and a ledger client
// for the bench's large answers.
type env struct {
	*testenv.Env
	profile string // the seeded Libris profile's resource name
	ledger  requestsv1.RequestServiceClient
	conn    *grpc.ClientConn // ledger's
}

// startSuite starts an environment of n requests generated over the windowDays days up
// to now, on dataDir, until stop is called.
func startSuite(ctx context.Context, dataDir string, n int, now time.Time, verbose bool) (_ *env, err error) {
	level := "error"
	if verbose {
		level = "warn"
	}
	te, err := testenv.Start(ctx, testenv.Options{DataDir: dataDir, LogLevel: level, Libris: fakelibris.New(fakelibris.Options{})})
	if err != nil {
		return nil, err
	}
	e := &env{Env: te}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.stop())
		}
	}()
	w := te.Libris.World(testenv.WorldOptions{Count: n, Days: windowDays, Seed: librisSeed, Until: now.UTC()})
	if err := te.Seed(ctx, w); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	e.profile = w.ProfileName()
	if e.conn, err = e.dial(e.Addrs.Requests); err != nil {
		return nil, err
	}
	e.ledger = requestsv1.NewRequestServiceClient(e.conn)
	return e, nil
}

// dial connects to addr as the suite's administrator, taking answers of up to 64 MiB.
func (e *env) dial(addr string) (*grpc.ClientConn, error) {
	return e.Dial(addr, e.AdminToken, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
}

// stop closes the ledger client and the environment.
func (e *env) stop() error {
	var err error
	if e.conn != nil {
		err = e.conn.Close()
	}
	return errors.Join(err, e.Close())
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
		"--tokens-file", e.Addrs.TokensFile,
		"--service-token-file", filepath.Join(e.DataDir, suite.HarvesterTokenName),
		"--profiles-addr", e.Addrs.Profiles, "--mapping-addr", e.Addrs.Mapping, "--requests-addr", e.Addrs.Requests,
		"--allow-private-networks") // the fake Libris is on loopback
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

// processCPU is the CPU time (user and system, all threads) process pid has used so far,
// from /proc/<pid>/stat ("self" for this process).
func processCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("CPU time: %w", err)
	}
	return statCPU(string(b))
}

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTicks = 100

// statCPU reads utime + stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
// name, field 2, is in parentheses and may hold spaces, so fields count from its end.
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:]) // from field 3 on
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("CPU time: unexpected stat line %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
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
