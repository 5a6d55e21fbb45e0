package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/services/harvester/fakelibris"
)

// The bench's world: library "Abc" (our sigel) is local library MAIN, borrowing from three
// lenders. The profile names the fill's requests apart from the imported ones.
const (
	sigel       = "Abc"
	localLib    = "MAIN"
	profileCode = "bench-abc"
	profileName = "integrationProfiles/" + profileCode
	fillProfile = "integrationProfiles/bench-fill"
	// windowDays is how many days the generated requests span, ending today. A run
	// re-reads its profile's overlap (2 days by default) before the cursor, which the
	// first run sets to today: with 3 days the second run's window is the first's, so the
	// re-import reads exactly the same requests.
	windowDays = 3
	// harvesterBatch is the harvester's ingest batch size (run.Deps' default).
	harvesterBatch = 1000
)

var lenders = []string{"Xyz", "Qrs", "Lkp"}

// librisServer is the fake Libris over loopback HTTP, holding the generated requests.
type librisServer struct {
	url, key string
	start    time.Time // the first day of the requests: the profile's harvest start
	srv      *http.Server
}

func startLibris(n int, now time.Time) (*librisServer, error) {
	key, err := randomHex()
	if err != nil {
		return nil, err
	}
	today := now.UTC()
	from := today.AddDate(0, 0, -(windowDays - 1))
	fake := fakelibris.New(fakelibris.Options{})
	fake.AddKey(key, sigel)
	fake.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 8, Sigel: sigel, Count: n, From: from, To: today, Lenders: lenders})...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake Libris: %w", err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	return &librisServer{url: "http://" + lis.Addr().String() + fakelibris.DefaultBasePath, key: key, start: from, srv: srv}, nil
}

func (l *librisServer) Close() { l.srv.Close() }

// env is one running suite (in this process, over loopback gRPC, with its defaults) and
// the clients the bench uses as its administrator.
type env struct {
	dataDir   string
	addrs     suite.Addrs
	token     string // the suite's admin token
	conns     []*grpc.ClientConn
	profiles  profilesv1.ProfileServiceClient
	mapping   mappingv1.MappingServiceClient
	harvester harvesterv1.HarvesterServiceClient // the suite's own harvester
	requests  requestsv1.RequestServiceClient
	stop      func() error
}

// startSuite runs the suite on dataDir until stop is called.
func startSuite(ctx context.Context, dataDir string, verbose bool) (*env, error) {
	level := slog.LevelError
	if verbose {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan suite.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.Run(ctx, suite.Config{DataDir: dataDir, Host: "127.0.0.1", Logger: logger,
			Ready: func(a suite.Addrs) { ready <- a }})
	}()
	e := &env{dataDir: dataDir}
	select {
	case e.addrs = <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("suite: %w", err)
	case <-ctx.Done():
		cancel()
		return nil, errors.Join(ctx.Err(), <-done)
	}
	e.stop = func() error {
		for _, c := range e.conns {
			c.Close()
		}
		cancel()
		return <-done
	}
	if e.addrs.AdminTokenFile == "" {
		return nil, errors.Join(errors.New("the suite created no admin token"), e.stop())
	}
	b, err := os.ReadFile(e.addrs.AdminTokenFile)
	if err != nil {
		return nil, errors.Join(err, e.stop())
	}
	e.token = strings.TrimSpace(string(b))
	for _, addr := range []string{e.addrs.Profiles, e.addrs.Mapping, e.addrs.Harvester, e.addrs.Requests} {
		c, err := e.dial(addr)
		if err != nil {
			return nil, errors.Join(err, e.stop())
		}
		e.conns = append(e.conns, c)
	}
	e.profiles = profilesv1.NewProfileServiceClient(e.conns[0])
	e.mapping = mappingv1.NewMappingServiceClient(e.conns[1])
	e.harvester = harvesterv1.NewHarvesterServiceClient(e.conns[2])
	e.requests = requestsv1.NewRequestServiceClient(e.conns[3])
	return e, nil
}

// dial connects to addr as the suite's administrator. Loopback only, so no TLS.
func (e *env) dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.BearerToken(e.token, false)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
}

// seed configures what an administrator would before a first import: the local library,
// the mapping of our sigel to it, the lenders as partners, and the Libris profile.
func (e *env) seed(ctx context.Context, l *librisServer) error {
	if _, err := e.mapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Code: localLib, DisplayName: "Abc stadsbibliotek", IsResourceSharingLibrary: true}}); err != nil {
		return fmt.Errorf("create library: %w", err)
	}
	if _, err := e.mapping.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, ExternalCode: sigel, LocalLibraryCode: localLib}}); err != nil {
		return fmt.Errorf("create library mapping: %w", err)
	}
	for _, code := range lenders {
		if _, err := e.mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
			Code: code, DisplayName: code + " universitetsbibliotek", Status: mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE,
			System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS}}); err != nil {
			return fmt.Errorf("create partner %s: %w", code, err)
		}
	}
	_, err := e.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{
		Code: profileCode, DisplayName: "Libris " + sigel, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: l.url, LibraryCode: sigel}},
		ResourceSharingLibrary: localLib, ApiKey: l.key, Active: true,
		HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: int32(l.start.Year()), Month: int32(l.start.Month()), Day: int32(l.start.Day())}},
	}})
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	return nil
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

func randomHex() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
