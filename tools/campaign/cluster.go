// Package campaign runs the robustness campaigns of docs/robustness.md against the real
// service binaries: Chaos (kill -9 a random service at a random moment, repeatedly) and
// Faults (one scenario per fault of Libris and of the suite). Both start each of the five
// services as its own process on loopback with a throw-away data directory, talk to them
// only through their public APIs, and compare the ledger with the fake Libris's truth.
package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/internal/testenv"
)

// The services, in start order: the harvester needs the three data services, the gateway
// all four (it only dials lazily, but starting it last keeps the logs readable).
const (
	Profiles  = "profiles"
	Mapping   = "mapping"
	Requests  = "requests"
	Harvester = "harvester"
	Gateway   = "gateway"
)

// Services lists every service a campaign runs as a process.
var Services = []string{Profiles, Mapping, Requests, Harvester, Gateway}

const modulePath = "github.com/interloan/interloan"

// The campaigns seed testenv's Libris world (library Abc in Libris is local library
// MAIN) with a profile of their own.
const (
	apiKey      = "campaign-key"
	profileCode = "campaign"
	profileName = "integrationProfiles/" + profileCode
)

// Build compiles the five service binaries into dir.
func Build(ctx context.Context, dir string) error {
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, s := range Services {
		args = append(args, modulePath+"/services/"+s+"/cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of the services: %v\n%s", err, out.String())
	}
	return nil
}

// BuildTemp compiles the five service binaries into a new temporary directory and
// returns it with the function that removes it.
func BuildTemp(ctx context.Context, name string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "interloan-"+name+"-bin-")
	if err != nil {
		return "", nil, err
	}
	remove := func() { os.RemoveAll(dir) }
	if err := Build(ctx, dir); err != nil {
		remove()
		return "", nil, err
	}
	return dir, remove, nil
}

// Cluster is the suite as five processes plus the fake Libris (in this process). Its
// Clients act as the administrator.
type Cluster struct {
	testenv.Clients

	dir, bin string
	addrs    map[string]string // gRPC address, or for the gateway its HTTP address
	procs    map[string]*proc
	secrets  testenv.Secrets
	logf     func(format string, args ...any)

	Libris *testenv.Libris
	http   *http.Client
}

// StartCluster starts the fake Libris and the five services (binaries in bin, data below
// dir) and dials them as an administrator.
func StartCluster(ctx context.Context, bin, dir string, logf func(string, ...any)) (*Cluster, error) {
	c := &Cluster{dir: dir, bin: bin, addrs: map[string]string{}, procs: map[string]*proc{}, logf: logf,
		http: &http.Client{Timeout: 10 * time.Second}}
	var err error
	if c.Libris, err = testenv.ServeLibris(fakelibris.New(fakelibris.Options{}), "127.0.0.1", 0); err != nil {
		return nil, err
	}
	if c.secrets, err = testenv.NewSecrets(filepath.Join(dir, "secrets")); err != nil {
		c.Close()
		return nil, err
	}
	for _, s := range Services {
		if c.addrs[s], err = freeAddr(); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, s := range Services {
		if err := c.Start(ctx, s); err != nil {
			c.Close()
			return nil, err
		}
	}
	// Loopback only, so no TLS.
	a := suite.Addrs{Profiles: c.addrs[Profiles], Mapping: c.addrs[Mapping], Harvester: c.addrs[Harvester], Requests: c.addrs[Requests]}
	if c.Clients, err = testenv.DialClients(a, c.secrets.AdminToken); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// freeAddr picks a free loopback port. The port is released before the service binds it,
// and kept across restarts, so a service comes back where its clients look for it.
func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// Close stops every process and the fake Libris.
func (c *Cluster) Close() {
	c.Clients.Close()
	for _, p := range c.procs {
		p.kill()
	}
	if c.Libris != nil {
		c.Libris.Close()
	}
}

// args are the flags of service s (see docs/config.md).
func (c *Cluster) args(s string) []string {
	data := filepath.Join(c.dir, s)
	switch s {
	case Gateway:
		return []string{"--http-addr", c.addrs[Gateway], "--profiles-addr", c.addrs[Profiles], "--mapping-addr", c.addrs[Mapping],
			"--harvester-addr", c.addrs[Harvester], "--requests-addr", c.addrs[Requests], "--log-level", "warn"}
	case Harvester:
		return []string{"--grpc-addr", c.addrs[s], "--http-addr", "", "--data-dir", data, "--tokens-file", c.secrets.TokensFile,
			"--service-token-file", c.secrets.HarvesterTokenFile, "--profiles-addr", c.addrs[Profiles], "--mapping-addr", c.addrs[Mapping],
			"--requests-addr", c.addrs[Requests], "--allow-private-networks", "--log-level", "info"} // the fake Libris is on loopback
	case Profiles:
		return []string{"--grpc-addr", c.addrs[s], "--http-addr", "", "--data-dir", data, "--tokens-file", c.secrets.TokensFile,
			"--secret-key-file", c.secrets.KeyFile, "--log-level", "warn"}
	}
	return []string{"--grpc-addr", c.addrs[s], "--http-addr", "", "--data-dir", data, "--tokens-file", c.secrets.TokensFile, "--log-level", "warn"}
}

// proc is one incarnation of a service process.
type proc struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
	err    error
}

// Start starts service s (again, after Kill) on its address and data, and waits until it
// accepts connections.
func (c *Cluster) Start(ctx context.Context, s string) error {
	if p := c.procs[s]; p != nil {
		select {
		case <-p.exited:
		default:
			return fmt.Errorf("%s is still running", s)
		}
	}
	logFile, err := os.OpenFile(filepath.Join(c.dir, s+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p := &proc{cmd: exec.Command(filepath.Join(c.bin, s), c.args(s)...), log: logFile, exited: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", s, err)
	}
	go func() { p.err = p.cmd.Wait(); logFile.Close(); close(p.exited) }()
	c.procs[s] = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.addrs[s], time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before serving: %v (log %s)", s, p.err, filepath.Join(c.dir, s+".log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within 30s", s, c.addrs[s])
		}
	}
}

// cleanEnv is this process's environment without INTERLOAN_* settings, which would
// otherwise reach the children as their flags' environment twins.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INTERLOAN_") {
			env = append(env, kv)
		}
	}
	return env
}

// Kill sends SIGKILL to service s and reaps it: a crash, no chance to clean up.
func (c *Cluster) Kill(s string) {
	if p := c.procs[s]; p != nil {
		p.kill()
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Running reports whether service s's current incarnation is alive.
func (c *Cluster) Running(s string) bool {
	p := c.procs[s]
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Pid is the process id of service s's current incarnation.
func (c *Cluster) Pid(s string) int { return c.procs[s].cmd.Process.Pid }

// DataFile is the path of service s's bbolt file.
func (c *Cluster) DataFile(s string) (string, error) {
	m, err := filepath.Glob(filepath.Join(c.dir, s, "*.db"))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("the %s data directory holds %d bbolt files (%v)", s, len(m), err)
	}
	return m[0], nil
}

// LogProblems returns the lines of the service logs that show a crash the campaign did
// not cause: a Go panic or a data race report.
func (c *Cluster) LogProblems() []string {
	var out []string
	for _, s := range Services {
		b, err := os.ReadFile(filepath.Join(c.dir, s+".log"))
		if err != nil {
			out = append(out, s+": "+err.Error())
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "panic:") || strings.Contains(line, "fatal error:") || strings.Contains(line, "WARNING: DATA RACE") {
				out = append(out, s+": "+line)
			}
		}
	}
	return out
}

// configure seeds testenv's Libris world through the public APIs, with the campaign's
// profile harvesting from the first of the world's Days days up to today, retrying while
// a service restarts.
func (c *Cluster) configure(ctx context.Context, today time.Time) error {
	w := c.Libris.World(testenv.WorldOptions{Profile: profileCode, Key: apiKey, Days: Days, Until: today})
	return retry(ctx, func() error { return c.Seed(ctx, w) })
}

// retry calls f until it succeeds, fails with something other than UNAVAILABLE (a
// service being restarted), or 30s have passed.
func retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartRun starts an import of the campaign profile over the gateway's REST API (so a
// dead gateway is noticed), retrying while the gateway is down; requestID makes the
// retries one run.
func (c *Cluster) StartRun(ctx context.Context, requestID string) (string, error) {
	body := fmt.Sprintf(`{"profile":%q,"requestId":%q}`, profileName, requestID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		name, retryable, err := c.startRunREST(ctx, body)
		if err == nil || !retryable || time.Now().After(deadline) {
			return name, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) startRunREST(ctx context.Context, body string) (name string, retryable bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addrs[Gateway]+"/v1/runs:start", strings.NewReader(body))
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.secrets.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", true, fmt.Errorf("gateway: %w", err) // down or restarting
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway {
		return "", true, fmt.Errorf("gateway: HTTP %d: %s", resp.StatusCode, b) // an upstream is down
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("gateway: HTTP %d: %s", resp.StatusCode, b)
	}
	// Only the name is needed; the answer is the Run in JSON.
	const key = `"name":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false, fmt.Errorf("gateway: no run name in %s", b)
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false, fmt.Errorf("gateway: no run name in %s", b)
	}
	return string(rest[:j]), false, nil
}

// ErrStuck means a run did not end within the bound a campaign gives it.
var ErrStuck = errors.New("the run did not end")

// AwaitRun polls a run until it ends, riding out a restarting harvester.
func (c *Cluster) AwaitRun(ctx context.Context, name string, bound time.Duration) (*harvesterv1.Run, error) {
	deadline := time.Now().Add(bound)
	var last *harvesterv1.Run
	for {
		var r *harvesterv1.Run
		err := retry(ctx, func() (err error) {
			r, err = c.Harvester.GetRun(ctx, &harvesterv1.GetRunRequest{Name: name})
			return err
		})
		if err != nil {
			return nil, err
		}
		last = r
		if s := r.GetState(); s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING {
			return r, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%w within %s: %s is %v", ErrStuck, bound, name, r.GetState())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Ledger lists every borrowing request of the campaign profile, grouped by external id
// (an id with two requests is a duplicate).
func (c *Cluster) Ledger(ctx context.Context) (map[string][]*requestsv1.BorrowingRequest, error) {
	out := map[string][]*requestsv1.BorrowingRequest{}
	token := ""
	for {
		var resp *requestsv1.ListBorrowingRequestsResponse
		err := retry(ctx, func() (err error) {
			resp, err = c.Requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{Profile: profileName, PageSize: 1000, PageToken: token})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, br := range resp.GetBorrowingRequests() {
			id := br.GetExternalReference().GetExternalId()
			out[id] = append(out[id], br)
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}
