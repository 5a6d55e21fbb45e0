// Package demo is `interloan demo`: a fake external system (Libris, or Netpunkt with
// --system netpunkt) with generated borrowing requests, the whole suite, a seeded library,
// library mapping, partners and profile, and one import run whose report is printed; for
// Netpunkt, then receipts pushed to the harvester and the runs they start. Everything goes
// through the public APIs, as a real client would configure Interloan; nothing needs the
// network.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Options configure the demo.
type Options struct {
	DataDir     string // "" → a temporary directory, removed when the demo ends
	Host        string
	BasePort    int // as `interloan up`; 0 picks free ports
	GatewayPort int
	LibrisPort  int // fake Libris HTTP port; 0 picks a free one
	// System is "libris" (default) or "netpunkt".
	System       string
	NetpunktPort int // fake Netpunkt HTTP port; 0 picks a free one
	ReceiptPort  int // the harvester's receipt listener (Netpunkt); 0 picks a free one
	Count        int // generated Libris requests
	Days         int // spread over the last Days days
	Seed         int64
	Exit         bool // stop after the report
	TLS          bool // TLS on every listener and mTLS between the services (suite.Config.TLS)
	LogLevel     string
	Now          func() time.Time
}

// The systems --system chooses between.
const (
	SystemLibris   = "libris"
	SystemNetpunkt = "netpunkt"
)

// localLib is the local library that owns the imported requests, in either world.
const localLib = "MAIN"

// ErrIncomplete is returned with --exit when the run did not import every request it fetched.
var ErrIncomplete = errors.New("the import run did not import every request it fetched")

// Session is a running demo world: the fake external system with its generated
// requests, the whole suite in this process, and the administrator's clients, seeded and
// ready for a first import run. Load and benchmark tools start one too.
type Session struct {
	// Addrs are the suite's addresses; AdminToken is the token of its administrator.
	Addrs      suite.Addrs
	AdminToken string
	// Profile is the seeded profile's resource name.
	Profile string
	// Harvester is a client of the harvester as the administrator.
	Harvester harvesterv1.HarvesterServiceClient

	o          Options
	w          *world
	c          *clients
	receiptLis net.Listener
	cleanup    []func() error // in reverse order by Close
}

// Start starts a session and writes what it set up to out.
func Start(ctx context.Context, o Options, out io.Writer) (_ *Session, err error) {
	if o.Count <= 0 {
		o.Count = 200
	}
	if o.Days <= 0 {
		o.Days = 14
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	switch o.System {
	case "", SystemLibris, SystemNetpunkt:
	default:
		return nil, fmt.Errorf("--system %q: want %s or %s", o.System, SystemLibris, SystemNetpunkt)
	}
	s := &Session{o: o}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if s.o.DataDir == "" {
		dir, err := os.MkdirTemp("", "interloan-demo-")
		if err != nil {
			return nil, err
		}
		s.o.DataDir = dir
		s.cleanup = append(s.cleanup, func() error { return os.RemoveAll(dir) })
	}

	today := o.Now()
	if o.System == SystemNetpunkt {
		s.w, err = netpunktWorld(s.o, today)
	} else {
		s.w, err = librisWorld(s.o, today)
	}
	if err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, func() error { s.w.close(); return nil })
	if s.w.push != nil {
		if s.receiptLis, err = net.Listen("tcp", net.JoinHostPort(o.Host, fmt.Sprint(o.ReceiptPort))); err != nil {
			return nil, fmt.Errorf("receipt listener: %w", err)
		}
		// The harvester closes it too; this covers a suite that never started.
		s.cleanup = append(s.cleanup, func() error { s.receiptLis.Close(); return nil })
	}

	// The suite, in this process, over loopback gRPC.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan suite.Addrs, 1)
	done := make(chan error, 1)
	logLevel := o.LogLevel
	if logLevel == "" {
		logLevel = "warn"
	}
	go func() {
		done <- suite.Run(sctx, suite.Config{
			DataDir: s.o.DataDir, Host: o.Host, BasePort: o.BasePort, GatewayPort: o.GatewayPort, LogLevel: logLevel,
			TLS: o.TLS, Ready: func(a suite.Addrs) { ready <- a }, ReceiptListener: s.receiptLis,
		})
	}()
	select {
	case s.Addrs = <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("suite: %w", err)
	case <-ctx.Done():
		cancel()
		return nil, errors.Join(ctx.Err(), <-done)
	}
	s.cleanup = append(s.cleanup, func() error { cancel(); return <-done })

	// The demo acts as the administrator whose token the suite created in its data
	// directory (a data directory from `interloan up` has one too).
	if s.AdminToken, err = readToken(s.Addrs.AdminTokenFile); err != nil {
		return nil, err
	}
	c, closeConns, err := dial(s.Addrs, s.AdminToken)
	if err != nil {
		return nil, err
	}
	s.c, s.Harvester = c, c.harvester
	s.cleanup = append(s.cleanup, func() error { closeConns(); return nil })
	fmt.Fprintln(out, s.w.intro)
	if err := s.w.seed(ctx, c); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(out, "%s\n\n", s.w.seeded)
	s.Profile = "integrationProfiles/" + s.w.profile
	return s, nil
}

// Import starts a run of the session's profile and waits for its end.
func (s *Session) Import(ctx context.Context) (*harvesterv1.Run, error) {
	run, err := s.Harvester.StartRun(ctx, &harvesterv1.StartRunRequest{Profile: s.Profile})
	if err != nil {
		return nil, fmt.Errorf("start run: %w", err)
	}
	return Await(ctx, s.Harvester, run.GetName())
}

// Close stops the suite and the fake system and removes a temporary data directory.
func (s *Session) Close() error {
	var errs []error
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, s.cleanup[i]())
	}
	s.cleanup = nil
	return errors.Join(errs...)
}

// Run runs the demo and writes its report to out. Without Exit it keeps the suite running
// until ctx ends.
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	s, err := Start(ctx, o, out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	run, err := s.Import(ctx)
	if err != nil {
		return err
	}
	if err := printReport(ctx, out, s.Harvester, run); err != nil {
		return err
	}
	ok := complete(run)
	if s.w.push != nil {
		scheme := "http"
		if s.Addrs.CAFile != "" {
			scheme = "https"
		}
		pushed, err := s.w.push(ctx, out, scheme+"://"+s.receiptLis.Addr().String(), s.Addrs.CAFile)
		if err != nil {
			return fmt.Errorf("pushing receipts: %w", err)
		}
		runs, err := awaitPushRuns(ctx, s.Harvester, s.Profile, run.GetName(), pushed)
		if err != nil {
			return err
		}
		for _, r := range runs {
			fmt.Fprintln(out)
			if err := printReport(ctx, out, s.Harvester, r); err != nil {
				return err
			}
			ok = ok && complete(r)
		}
		run = runs[len(runs)-1]
	}
	if o.Exit {
		if !ok {
			return ErrIncomplete
		}
		return nil
	}
	// The token is printed here, once, for the person exploring; the services never log it.
	fmt.Fprint(out, explore(s.o.DataDir, s.Addrs, s.AdminToken, run.GetName(), s.w.profile))
	<-ctx.Done()
	return nil
}

// explore is the text that tells the person running the demo how to look around: the
// admin token, and curl and grpcurl lines that work with the suite's transport security.
func explore(dataDir string, a suite.Addrs, token, run, profileCode string) string {
	scheme, curl, grpcurl, tlsNote := "http", "curl -s", "grpcurl -plaintext", ""
	if a.CAFile != "" {
		scheme, curl, grpcurl = "https", "curl -s --cacert "+a.CAFile, "grpcurl -cacert "+a.CAFile
		tlsNote = "Every listener serves TLS (certificates from a throw-away CA in " + a.CAFile + "),\nthe services call each other with client certificates (mTLS).\n"
	}
	cliEnv := "INTERLOAN_SERVER=" + scheme + "://" + a.Gateway + " INTERLOAN_TOKEN_FILE=" + a.AdminTokenFile
	if a.CAFile != "" {
		cliEnv += " INTERLOAN_CA_FILE=" + a.CAFile
	}
	return strings.NewReplacer(
		"{data}", dataDir, "{tlsnote}", tlsNote, "{tokenfile}", a.AdminTokenFile, "{tokens}", a.TokensFile, "{token}", token,
		"{curl}", curl, "{grpcurl}", grpcurl, "{gateway}", scheme+"://"+a.Gateway,
		"{harvester}", a.Harvester, "{requests}", a.Requests, "{run}", run, "{profile}", profileCode, "{clienv}", cliEnv,
	).Replace(`
The suite keeps running (data in {data}).
{tlsnote}Every call needs a token; this demo's admin token (also in {tokenfile}):
  export TOKEN={token}
Explore it, then press Ctrl-C:
  {curl} -H "Authorization: Bearer $TOKEN" {gateway}/v1/{run}
  {curl} -H "Authorization: Bearer $TOKEN" '{gateway}/v1/{run}/events?pageSize=5'
  {curl} -H "Authorization: Bearer $TOKEN" '{gateway}/v1/borrowingRequests?pageSize=3'
  {curl} -H "Authorization: Bearer $TOKEN" -X POST {gateway}/v1/runs:start -d '{"profile":"integrationProfiles/{profile}"}'
  {grpcurl} -H "authorization: Bearer $TOKEN" {harvester} list
  {grpcurl} -H "authorization: Bearer $TOKEN" -d '{"page_size":3,"status":"STATUS_REQUEST_SENT"}' {requests} interloan.requests.v1.RequestService/ListBorrowingRequests
  {grpcurl} -H "authorization: Bearer $TOKEN" -d '{"name":"{run}"}' {harvester} interloan.harvester.v1.HarvesterService/GetRun
Or with the operator CLI:
  export {clienv}
  go run ./cmd/interloan runs report {run}
More tokens: interloan token create --role viewer --principal NAME --tokens-file {tokens}
`)
}

// complete reports whether a run ended well and imported every request it fetched.
func complete(run *harvesterv1.Run) bool {
	c := run.GetCounters()
	ok := run.GetState() == harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetState() == harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
	return ok && c.GetCreated()+c.GetUpdated()+c.GetUnchanged() == c.GetFetched()
}

type clients struct {
	profiles  profilesv1.ProfileServiceClient
	mapping   mappingv1.MappingServiceClient
	harvester harvesterv1.HarvesterServiceClient
}

// readToken reads a token file the suite wrote.
func readToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("the data directory has no admin token (admin.token); create one with `interloan token create --role admin`")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func dial(a suite.Addrs, token string) (*clients, func(), error) {
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for _, addr := range []string{a.Profiles, a.Mapping, a.Harvester} {
		// Without the suite's TLS the token goes over loopback in plain text.
		c, err := client.Dial(addr, tlsconfig.Config{CAFile: a.CAFile}, token)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, c)
	}
	return &clients{
		profiles:  profilesv1.NewProfileServiceClient(conns[0]),
		mapping:   mappingv1.NewMappingServiceClient(conns[1]),
		harvester: harvesterv1.NewHarvesterServiceClient(conns[2]),
	}, closeAll, nil
}

// seed configures what an administrator would: the local library, the mapping of our
// external code to it, the lenders as partners, and the profile. Re-running the demo on
// the same data directory finds them in place (ALREADY_EXISTS is fine) but refreshes the
// profile, whose URL and secrets change with every demo.
func seed(ctx context.Context, c *clients, system typev1.ExternalSystem, ourCode string, partners []string, p *profilesv1.IntegrationProfile) error {
	exists := func(err error) error {
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return err
	}
	_, err := c.mapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Code: localLib, DisplayName: "Abc stadsbibliotek", IsResourceSharingLibrary: true}})
	if err := exists(err); err != nil {
		return err
	}
	_, err = c.mapping.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: system, ExternalCode: ourCode, LocalLibraryCode: localLib}})
	if err := exists(err); err != nil {
		return err
	}
	for _, l := range partners {
		_, err := c.mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
			Code: l, DisplayName: l + " bibliotek", Status: mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE, System: system}})
		if err := exists(err); err != nil {
			return err
		}
	}
	_, err = c.profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
	if status.Code(err) == codes.AlreadyExists {
		p.Name = "integrationProfiles/" + p.Code
		_, err = c.profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: p})
	}
	return err
}

// harvestStart is a profile's harvest start on day t.
func harvestStart(t time.Time) *profilesv1.HarvestStart {
	return &profilesv1.HarvestStart{Date: &typev1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}}
}

// Await polls a run until it ends.
func Await(ctx context.Context, h harvesterv1.HarvesterServiceClient, name string) (*harvesterv1.Run, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := h.GetRun(ctx, &harvesterv1.GetRunRequest{Name: name})
		if err != nil {
			return nil, err
		}
		if s := run.GetState(); s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// printReport writes a run's report like Alma's job report: state, window, counters,
// alerts and the first events.
func printReport(ctx context.Context, out io.Writer, h harvesterv1.HarvesterServiceClient, run *harvesterv1.Run) error {
	c := run.GetCounters()
	fmt.Fprintf(out, "%s — %s\n", run.GetDisplayName(), run.GetName())
	fmt.Fprintf(out, "  state:     %s\n", strings.TrimPrefix(run.GetState().String(), "RUN_STATE_"))
	if w := run.GetWindow(); w != nil {
		fmt.Fprintf(out, "  window:    %s .. %s\n", w.GetStartTime().AsTime().Format(time.DateOnly), w.GetEndTime().AsTime().Format(time.DateOnly))
	}
	if run.GetStartTime() != nil && run.GetEndTime() != nil {
		fmt.Fprintf(out, "  duration:  %s\n", run.GetEndTime().AsTime().Sub(run.GetStartTime().AsTime()).Round(time.Millisecond))
	}
	fmt.Fprintf(out, "  fetched %d · created %d · updated %d · unchanged %d · skipped %d · failed %d\n",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
	for _, a := range run.GetAlerts() {
		fmt.Fprintf(out, "  alert %s: %s\n", strings.TrimPrefix(a.GetCode().String(), "ALERT_CODE_"), a.GetMessage())
	}
	ev, err := h.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: run.GetName(), PageSize: 5})
	if err != nil {
		return err
	}
	if len(ev.GetRunEvents()) > 0 {
		fmt.Fprintln(out, "  first events:")
	}
	for _, e := range ev.GetRunEvents() {
		line := fmt.Sprintf("    %-18s %-9s %s", e.GetExternalId(), strings.TrimPrefix(e.GetOutcome().String(), "OUTCOME_"), e.GetBorrowingRequest())
		if e.GetReason() != "" {
			line += "  " + e.GetReasonCode() + ": " + e.GetReason()
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
