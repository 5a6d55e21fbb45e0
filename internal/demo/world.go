package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// world is the external system a demo imports from: a fake serving generated requests,
// and how to configure Interloan for it.
type world struct {
	profile string // the profile's code
	intro   string // what the fake serves, for the report
	seeded  string // what seed configured, for the report
	seed    func(ctx context.Context, c *clients) error
	// push, when set, sends receipts to the harvester's receipt listener at base (https
	// verified with caFile when set) and returns how many it accepted.
	push  func(ctx context.Context, out io.Writer, base, caFile string) (int, error)
	close func()
}

// serve serves h on host:port until the returned server is closed.
func serve(host string, port int, h http.Handler) (*http.Server, string, error) {
	lis, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	return srv, "http://" + lis.Addr().String(), nil
}

// The Libris world: our library "Abc" (sigel) is local library MAIN; its lenders.
const sigel = "Abc"

var librisLenders = []string{"Xyz", "Qrs", "Lkp"}

func librisWorld(o Options, today time.Time) (*world, error) {
	key := randomKey() // a throw-away key only this demo knows
	fake := fakelibris.New(fakelibris.Options{})
	fake.AddKey(key, sigel)
	from := today.AddDate(0, 0, -(o.Days - 1))
	fake.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: o.Seed, Sigel: sigel, Count: o.Count, From: from, To: today, Lenders: librisLenders})...)
	srv, base, err := serve(o.Host, o.LibrisPort, fake)
	if err != nil {
		return nil, fmt.Errorf("fake Libris: %w", err)
	}
	url := base + fakelibris.DefaultBasePath
	const code = "libris-abc"
	return &world{
		profile: code,
		intro:   fmt.Sprintf("Fake Libris at %s with %d borrowing requests of library %s over the last %d days.", url, o.Count, sigel, o.Days),
		seeded: fmt.Sprintf("Seeded library %s, mapping LIBRIS %s → %s, partners %s, profile integrationProfiles/%s.",
			localLib, sigel, localLib, strings.Join(librisLenders, ", "), code),
		seed: func(ctx context.Context, c *clients) error {
			return seed(ctx, c, typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, sigel, librisLenders, &profilesv1.IntegrationProfile{
				Code: code, DisplayName: "Libris " + sigel, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
				SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: url, LibraryCode: sigel}},
				ResourceSharingLibrary: localLib, ApiKey: key, Active: true, HarvestStart: harvestStart(from),
			})
		},
		close: func() { srv.Close() },
	}, nil
}

// The Netpunkt world: our agency DK-775100 is local library MAIN; its lenders by ISIL.
const (
	agency      = "DK-775100"
	dbcUser     = "netpunkt-demo"
	pushedCount = 5 // orders whose change Netpunkt pushes
)

var netpunktLenders = []string{"DK-710100", "DK-715700", "DK-726500"}

func netpunktWorld(o Options, today time.Time) (*world, error) {
	password, receiptPassword := randomKey(), randomKey() // throw-away, only this demo knows them
	fake := fakenetpunkt.New(fakenetpunkt.Options{})
	fake.AddCredential(fakenetpunkt.Credential{User: dbcUser, Group: "775100", Password: password}, agency)
	from := today.AddDate(0, 0, -(o.Days - 1))
	orders := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: uint64(o.Seed), Agency: agency, Count: o.Count, From: from, To: today, Lenders: netpunktLenders})
	fake.Put(orders...)
	srv, base, err := serve(o.Host, o.NetpunktPort, fake)
	if err != nil {
		return nil, fmt.Errorf("fake Netpunkt: %w", err)
	}
	url := base + fakenetpunkt.DefaultBasePath
	const code = "netpunkt-775100"
	// After the pull, the lenders ship the oldest orders: Netpunkt pushes a receipt for
	// each. They were created before the next run's window (which re-reads only the last
	// days), so only the receipts bring the change in. The receipts write the requester
	// as the bare agency number and the lender in lower case, as some senders do.
	var pushed []fakenetpunkt.Order
	for _, ord := range orders[:min(pushedCount, len(orders))] {
		ord.RequesterOrderState, ord.ProviderOrderState, ord.ProviderAnswer = "requested", "shipped", "will_supply"
		ord.LastModification = today.Add(time.Minute)
		pushed = append(pushed, ord)
	}
	return &world{
		profile: code,
		intro:   fmt.Sprintf("Fake Netpunkt (OpenFindOrder) at %s with %d orders of agency %s over the last %d days.", url, o.Count, agency, o.Days),
		seeded: fmt.Sprintf("Seeded library %s, mapping NETPUNKT %s → %s, partners %s, profile integrationProfiles/%s (DBC password and receipt password set).",
			localLib, agency, localLib, strings.Join(netpunktLenders, ", "), code),
		seed: func(ctx context.Context, c *clients) error {
			return seed(ctx, c, typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT, agency, netpunktLenders, &profilesv1.IntegrationProfile{
				Code: code, DisplayName: "Netpunkt " + agency, System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
				SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{
					BaseUrl: url, AgencyId: agency, User: dbcUser, Group: "775100"}},
				ResourceSharingLibrary: localLib, ApiKey: password, ReceiptPassword: receiptPassword, Active: true, HarvestStart: harvestStart(from),
			})
		},
		push: func(ctx context.Context, out io.Writer, base, caFile string) (int, error) {
			hc, err := receiptClient(caFile)
			if err != nil {
				return 0, err
			}
			endpoint := base + "/netpunkt/receipts/" + code
			fmt.Fprintf(out, "\nThe lenders ship %d orders; Netpunkt pushes an OpenReceipt message for each to %s:\n", len(pushed), endpoint)
			// First a receipt with a wrong password, which must be refused and not stored.
			status, _, err := fakenetpunkt.Push(ctx, hc, endpoint, pushed[0], "not-the-password")
			if err != nil {
				return 0, err
			}
			fmt.Fprintf(out, "  %s with a wrong password → HTTP %d (refused, nothing stored)\n", pushed[0].OrderID, status)
			accepted := 0
			for _, ord := range pushed {
				fake.Put(ord) // DBC's order base has the new state too
				wire := ord
				wire.RequesterID, wire.ResponderID = strings.TrimPrefix(ord.RequesterID, "DK-"), strings.ToLower(ord.ResponderID)
				status, _, err := fakenetpunkt.Push(ctx, hc, endpoint, wire, receiptPassword)
				if err != nil {
					return accepted, err
				}
				fmt.Fprintf(out, "  %s (%s → %s, now shipped) → HTTP %d\n", ord.OrderID, wire.ResponderID, wire.RequesterID, status)
				if status == http.StatusOK {
					accepted++
				}
			}
			return accepted, nil
		},
		close: func() { srv.Close() },
	}, nil
}

// receiptClient is an HTTP client that trusts the suite's CA when it has one.
func receiptClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	set, err := tlsconfig.Load(tlsconfig.Config{CAFile: caFile})
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: set.Client()}}, nil
}

// awaitPushRuns waits for the runs the receipts started (after the run named after), until
// they have updated the pushed orders — a receipt that arrives while a run is under way
// waits for the next one — and returns them oldest first.
func awaitPushRuns(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile, after string, pushed int) ([]*harvesterv1.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		resp, err := h.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: profile, PageSize: 20})
		if err != nil {
			return nil, err
		}
		var runs []*harvesterv1.Run // newest first until reversed
		for _, r := range resp.GetRuns() {
			if r.GetName() == after {
				break
			}
			runs = append(runs, r)
		}
		updated, ended := 0, len(runs) > 0
		for _, r := range runs {
			updated += int(r.GetCounters().GetUpdated())
			if s := r.GetState(); s == harvesterv1.RunState_RUN_STATE_PENDING || s == harvesterv1.RunState_RUN_STATE_RUNNING {
				ended = false
			}
		}
		if ended && updated >= pushed {
			for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
				runs[i], runs[j] = runs[j], runs[i]
			}
			return runs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the pushed receipts were not imported within a minute (%d of %d updated): %w", updated, pushed, ctx.Err())
		case <-t.C:
		}
	}
}
