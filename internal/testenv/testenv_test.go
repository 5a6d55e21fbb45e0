package testenv

import (
	"context"
	"go/build"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/logging"
)

// The demo binary links this package: its non-test files must not pull in testing.
func TestNoTestingImport(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"testing", "net/http/httptest"} {
		if slices.Contains(pkg.Imports, bad) {
			t.Errorf("a non-test file imports %s", bad)
		}
	}
}

// A Libris world over TLS: seeded through the APIs, imported completely, seeded again on
// the same data (a new fake, new key), imported again; Close stops everything and removes
// the temporary data directory.
func TestLibrisWorld(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	until := time.Now() // both fakes generate the same requests, last_modified included
	start := func() (*Env, World) {
		t.Helper()
		env, err := Start(ctx, Options{DataDir: dir, TLS: true, Logger: logging.Discard(), Libris: fakelibris.New(fakelibris.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		w := env.Libris.World(WorldOptions{Count: 25, Days: 3, Seed: 4, Until: until})
		if err := env.Seed(ctx, w); err != nil {
			t.Fatalf("seed: %v", err)
		}
		return env, w
	}
	env, w := start()
	if env.Addrs.CAFile == "" || env.GatewayURL() != "https://"+env.Addrs.Gateway || env.ReceiptURL != "" {
		t.Fatalf("addresses: %+v, gateway %s, receipts %q", env.Addrs, env.GatewayURL(), env.ReceiptURL)
	}
	run, err := Import(ctx, env.Harvester, w.ProfileName())
	if err != nil {
		t.Fatal(err)
	}
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetCounters().GetCreated() != 25 {
		t.Fatalf("run: %v %v %v", run.GetState(), run.GetCounters(), run.GetAlerts())
	}
	partners, err := env.Mapping.ListPartners(ctx, &mappingv1.ListPartnersRequest{})
	if err != nil || len(partners.GetPartners()) != len(LibrisLenders) {
		t.Fatalf("partners: %v %v", partners, err)
	}
	resp, err := env.HTTP.Get(env.GatewayURL() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway over TLS: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if err := env.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}

	// The same data directory again: the seed finds its things in place and points the
	// profile at the new fake, with its new key.
	env, w = start()
	defer env.Close()
	p, err := env.Profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: w.ProfileName()})
	if err != nil || p.GetLibris().GetBaseUrl() != env.Libris.URL {
		t.Fatalf("profile after the second seed: %v %v", p, err)
	}
	if run, err = Import(ctx, env.Harvester, w.ProfileName()); err != nil || run.GetCounters().GetUnchanged() != 25 {
		t.Fatalf("second import: %v %v", run, err)
	}
	n, err := env.Requests.CountBorrowingRequests(ctx, &requestsv1.CountBorrowingRequestsRequest{})
	if err != nil || n.GetTotal() != 25 {
		t.Fatalf("count: %v %v", n, err)
	}
}

// A Netpunkt world without TLS, with the receipt listener: a pushed receipt starts a run,
// which AwaitRunsAfter finds once it has ended.
func TestNetpunktWorldAndReceipts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Logger: logging.Discard(), Netpunkt: fakenetpunkt.New(fakenetpunkt.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	dir := env.DataDir
	defer func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the temporary data directory is still there: %v", err)
		}
	}()
	w, orders := env.Netpunkt.World(WorldOptions{Count: 10, Seed: 2})
	if len(orders) != 10 || w.Profile.GetReceiptPassword() == "" || w.Profile.GetApiKey() == "" {
		t.Fatalf("world: %d orders, profile %v", len(orders), w.Profile)
	}
	if err := env.Seed(ctx, w); err != nil {
		t.Fatal(err)
	}
	first, err := Import(ctx, env.Harvester, w.ProfileName())
	if err != nil || first.GetCounters().GetCreated() != 10 {
		t.Fatalf("pull: %v %v", first, err)
	}
	o := orders[0]
	o.RequesterOrderState, o.ProviderOrderState, o.ProviderAnswer = "requested", "shipped", "will_supply"
	o.LastModification = time.Now().Add(time.Minute)
	env.Netpunkt.Put(o) // DBC's order base has the new state too
	status, body, err := fakenetpunkt.Push(ctx, env.HTTP, env.ReceiptURL+"/netpunkt/receipts/"+w.Profile.GetCode(), o, w.Profile.GetReceiptPassword())
	if err != nil || status != http.StatusOK || body != "ok" {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	runs, err := AwaitRunsAfter(actx, env.Harvester, w.ProfileName(), first.GetName(), func(runs []*harvesterv1.Run) (bool, error) {
		return true, nil
	})
	if err != nil || len(runs) == 0 || runs[0].GetTrigger() != harvesterv1.Trigger_TRIGGER_API || runs[0].GetSubmittedBy() != "Netpunkt receipt" {
		t.Fatalf("runs after the push: %v %v", runs, err)
	}
}
