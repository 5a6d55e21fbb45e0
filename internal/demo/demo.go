// Package demo is `interloan demo`: a fake external system (Libris, or Netpunkt with
// --system netpunkt) with generated borrowing requests, the whole suite, a seeded library,
// library mapping, partners and profile, and one import run whose report is printed; for
// Netpunkt, then receipts pushed to the harvester and the runs they start. Everything goes
// through the public APIs, as a real client would configure Interloan; nothing needs the
// network. The environment itself is internal/testenv's; this package is the walkthrough
// printed around it.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/telemetry"
)

// Options configure the demo.
type Options struct {
	DataDir     string // "" → a temporary directory, removed when the demo ends
	Host        string
	BasePort    int // as `interloan up`; 0 picks free ports
	GatewayPort int
	ConsolePort int // the staff console; 0 picks a free one
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
	// Self is how a person runs this command in the lines the demo prints: "interloan"
	// when installed, "go run ./cmd/interloan" from a checkout (the default).
	Self string
}

// The systems --system chooses between.
const (
	SystemLibris   = "libris"
	SystemNetpunkt = "netpunkt"
)

// pushedCount is how many of the Netpunkt world's orders change after the first run, as
// Netpunkt tells the harvester by pushed receipts.
const pushedCount = 5

// ErrIncomplete is returned with --exit when the run did not import every request it fetched.
var ErrIncomplete = errors.New("the import run did not import every request it fetched")

// session is a started demo: the environment and the world it was seeded with.
type session struct {
	env   *testenv.Env
	world testenv.World
	// pushed are the Netpunkt orders whose change arrives by receipt (none for Libris).
	pushed []fakenetpunkt.Order
}

// start starts the environment over the fake of o.System, seeds it and writes what it
// set up to out.
func start(ctx context.Context, o Options, out io.Writer) (_ *session, err error) {
	eo := testenv.Options{DataDir: o.DataDir, Host: o.Host, BasePort: o.BasePort, GatewayPort: o.GatewayPort, ConsolePort: o.ConsolePort, TLS: o.TLS, LogLevel: o.LogLevel}
	if o.System == SystemNetpunkt {
		eo.Netpunkt, eo.NetpunktPort, eo.ReceiptPort = fakenetpunkt.New(fakenetpunkt.Options{}), o.NetpunktPort, o.ReceiptPort
	} else {
		eo.Libris, eo.LibrisPort = fakelibris.New(fakelibris.Options{}), o.LibrisPort
	}
	env, err := testenv.Start(ctx, eo)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.Close())
		}
	}()
	s := &session{env: env}
	today := o.Now()
	wo := testenv.WorldOptions{Count: o.Count, Days: o.Days, Seed: o.Seed, Until: today}
	var intro, seeded string
	if env.Netpunkt != nil {
		var orders []fakenetpunkt.Order
		s.world, orders = env.Netpunkt.World(wo)
		intro = fmt.Sprintf("Fake Netpunkt (OpenFindOrder) at %s with %d orders of agency %s over the last %d days.", env.Netpunkt.URL, o.Count, s.world.Library, o.Days)
		seeded = fmt.Sprintf("Seeded library %s, mapping NETPUNKT %s → %s, partners %s, profile %s (DBC password and receipt password set).",
			testenv.LocalLibrary, s.world.Library, testenv.LocalLibrary, strings.Join(s.world.Partners, ", "), s.world.ProfileName())
		// After the pull, the lenders ship the oldest orders: Netpunkt pushes a receipt for
		// each. They were created before the next run's window (which re-reads only the
		// last days), so only the receipts bring the change in.
		for _, ord := range orders[:min(pushedCount, len(orders))] {
			ord.RequesterOrderState, ord.ProviderOrderState, ord.ProviderAnswer = "requested", "shipped", "will_supply"
			ord.LastModification = today.Add(time.Minute)
			s.pushed = append(s.pushed, ord)
		}
	} else {
		s.world = env.Libris.World(wo)
		intro = fmt.Sprintf("Fake Libris at %s with %d borrowing requests of library %s over the last %d days.", env.Libris.URL, o.Count, s.world.Library, o.Days)
		seeded = fmt.Sprintf("Seeded library %s, mapping LIBRIS %s → %s, partners %s, profile %s.",
			testenv.LocalLibrary, s.world.Library, testenv.LocalLibrary, strings.Join(s.world.Partners, ", "), s.world.ProfileName())
	}
	fmt.Fprintln(out, intro)
	if err := env.Seed(ctx, s.world); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(out, "%s\n\n", seeded)
	return s, nil
}

// Run runs the demo and writes its report to out. Without Exit it keeps the suite running
// until ctx ends.
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	if o.Count <= 0 {
		o.Count = 200
	}
	if o.Days <= 0 {
		o.Days = 14
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch o.System {
	case "", SystemLibris, SystemNetpunkt:
	default:
		return fmt.Errorf("--system %q: want %s or %s", o.System, SystemLibris, SystemNetpunkt)
	}
	// The same telemetry as the services (OTEL_* variables); its shutdown, deferred first,
	// flushes the spans after the suite has stopped.
	shutdown, err := telemetry.Setup(ctx, "interloan")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdown(context.Background())) }()
	s, err := start(ctx, o, out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.env.Close()) }()
	h, profile := s.env.Harvester, s.world.ProfileName()
	run, err := testenv.Import(ctx, h, profile)
	if err != nil {
		return err
	}
	if err := printReport(ctx, out, h, run); err != nil {
		return err
	}
	ok := complete(run)
	if s.pushed != nil {
		accepted, err := s.push(ctx, out)
		if err != nil {
			return fmt.Errorf("pushing receipts: %w", err)
		}
		runs, err := awaitPushRuns(ctx, h, profile, run.GetName(), accepted)
		if err != nil {
			return err
		}
		for _, r := range runs {
			fmt.Fprintln(out)
			if err := printReport(ctx, out, h, r); err != nil {
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
	fmt.Fprint(out, explore(cmp.Or(o.Self, "go run ./cmd/interloan"), s.env, run.GetName(), s.world.ProfileName()))
	<-ctx.Done()
	return nil
}

// push sends the receipts of the shipped orders to the harvester's receipt listener, the
// first once with a wrong password, and returns how many it accepted. The receipts write
// the requester as the bare agency number and the lender in lower case, as some senders do.
func (s *session) push(ctx context.Context, out io.Writer) (int, error) {
	p := s.world.Profile
	endpoint := s.env.ReceiptURL + "/netpunkt/receipts/" + p.GetCode()
	fmt.Fprintf(out, "\nThe lenders ship %d orders; Netpunkt pushes an OrderReceipt message for each to %s:\n", len(s.pushed), endpoint)
	// First a receipt with a wrong password, which must be refused and not stored.
	_, status, err := fakenetpunkt.Push(ctx, s.env.HTTP, endpoint, s.pushed[0], "not-the-password")
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "  %s with a wrong password → %s (refused, nothing stored)\n", s.pushed[0].OrderID, status)
	accepted := 0
	for _, ord := range s.pushed {
		s.env.Netpunkt.Put(ord) // DBC's order base has the new state too
		wire := ord
		wire.RequesterID, wire.ResponderID = strings.TrimPrefix(ord.RequesterID, "DK-"), strings.ToLower(ord.ResponderID)
		_, status, err := fakenetpunkt.Push(ctx, s.env.HTTP, endpoint, wire, p.GetReceiptPassword())
		if err != nil {
			return accepted, err
		}
		fmt.Fprintf(out, "  %s (%s → %s, now shipped) → %s\n", ord.OrderID, wire.ResponderID, wire.RequesterID, status)
		if status == "ok" {
			accepted++
		}
	}
	return accepted, nil
}

// awaitPushRuns waits for the runs the receipts started (after the run named after), until
// they have updated the pushed orders — a receipt that arrives while a run is under way
// waits for the next one — and returns them oldest first.
func awaitPushRuns(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile, after string, pushed int) ([]*harvesterv1.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	updated := 0
	runs, err := testenv.AwaitRunsAfter(ctx, h, profile, after, func(runs []*harvesterv1.Run) (bool, error) {
		updated = 0
		for _, r := range runs {
			updated += int(r.GetCounters().GetUpdated())
		}
		return updated >= pushed, nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("the pushed receipts were not imported within a minute (%d of %d updated): %w", updated, pushed, ctx.Err())
	}
	return runs, err
}

// explore is the text that tells the person running the demo how to look around: the
// admin token, and curl and grpcurl lines that work with the suite's transport security.
func explore(self string, env *testenv.Env, run, profile string) string {
	a := env.Addrs
	curl, grpcurl, tlsNote := "curl -s", "grpcurl -plaintext", ""
	if a.CAFile != "" {
		curl, grpcurl = "curl -s --cacert "+a.CAFile, "grpcurl -cacert "+a.CAFile
		tlsNote = "Every listener serves TLS (certificates from a throw-away CA in " + a.CAFile + "),\nthe services call each other with client certificates (mTLS).\n"
	}
	cliEnv := "INTERLOAN_SERVER=" + env.GatewayURL() + " INTERLOAN_TOKEN_FILE=" + a.AdminTokenFile
	if a.CAFile != "" {
		cliEnv += " INTERLOAN_CA_FILE=" + a.CAFile
	}
	return strings.NewReplacer(
		"{data}", env.DataDir, "{tlsnote}", tlsNote, "{tokenfile}", a.AdminTokenFile, "{tokens}", a.TokensFile, "{token}", env.AdminToken,
		"{curl}", curl, "{grpcurl}", grpcurl, "{gateway}", env.GatewayURL(), "{console}", env.ConsoleURL(), "{cabrowser}", a.BrowserNote(),
		"{harvester}", a.Harvester, "{requests}", a.Requests, "{run}", run, "{profile}", profile, "{clienv}", cliEnv, "{self}", self,
	).Replace(`
The suite keeps running (data in {data}).
{tlsnote}Every call needs a token; this demo's admin token (also in {tokenfile}):
  export TOKEN={token}
Staff console: {console}/ — sign in with that token. {cabrowser}
Explore it, then press Ctrl-C:
  {curl} -H "Authorization: Bearer $TOKEN" {gateway}/v1/{run}
  {curl} -H "Authorization: Bearer $TOKEN" '{gateway}/v1/{run}/events?pageSize=5'
  {curl} -H "Authorization: Bearer $TOKEN" '{gateway}/v1/borrowingRequests?pageSize=3'
  {curl} -H "Authorization: Bearer $TOKEN" -X POST {gateway}/v1/runs:start -d '{"profile":"{profile}"}'
  {grpcurl} -H "authorization: Bearer $TOKEN" {harvester} list
  {grpcurl} -H "authorization: Bearer $TOKEN" -d '{"page_size":3,"status":"STATUS_REQUEST_SENT"}' {requests} interloan.requests.v1.RequestService/ListBorrowingRequests
  {grpcurl} -H "authorization: Bearer $TOKEN" -d '{"name":"{run}"}' {harvester} interloan.harvester.v1.HarvesterService/GetRun
Or with the operator CLI:
  export {clienv}
  {self} runs report {run}
More tokens: {self} token create --role viewer --principal NAME --tokens-file {tokens}
`)
}

// complete reports whether a run ended well and imported every request it fetched.
func complete(run *harvesterv1.Run) bool {
	c := run.GetCounters()
	ok := run.GetState() == harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetState() == harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
	return ok && c.GetCreated()+c.GetUpdated()+c.GetUnchanged() == c.GetFetched()
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
