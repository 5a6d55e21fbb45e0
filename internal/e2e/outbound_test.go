package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging"
)

// TestOutboundPolicyRefusesLoopback: the harvester with its default outbound policy and
// the fakes on loopback. A profile whose base URL is the loopback address fails before
// anything is fetched; one naming localhost gets its connector, but the connection to
// the address the name resolves to is refused. Each run ends FAILED at once with an
// alert naming the policy and the flag that permits it, and the fakes are never called.
func TestOutboundPolicyRefusesLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lib, np := fakelibris.New(fakelibris.Options{}), fakenetpunkt.New(fakenetpunkt.Options{})
	env, err := testenv.Start(ctx, testenv.Options{Logger: logging.Discard(), Libris: lib, Netpunkt: np, RefusePrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()

	libWorld := env.Libris.World(testenv.WorldOptions{Count: 3})
	npWorld, _ := env.Netpunkt.World(testenv.WorldOptions{Count: 3})
	npWorld.Profile.GetNetpunkt().BaseUrl = strings.Replace(env.Netpunkt.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		world testenv.World
		alert harvesterv1.AlertCode
		says  string
	}{
		{libWorld, harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, "127.0.0.1 is a loopback address"},
		{npWorld, harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE, "is a loopback address"},
	} {
		t.Run(tc.world.Profile.GetCode(), func(t *testing.T) {
			if err := env.Seed(ctx, tc.world); err != nil {
				t.Fatalf("seed: %v", err)
			}
			start := time.Now()
			run, err := testenv.Import(ctx, env.Harvester, tc.world.ProfileName())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("run ended %s after %s", run.GetState(), time.Since(start))
			if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(run.GetAlerts()) == 0 {
				t.Fatalf("run %v, alerts %v", run.GetState(), run.GetAlerts())
			}
			a := run.GetAlerts()[0]
			t.Logf("alert %s: %s", a.GetCode(), a.GetMessage())
			if a.GetCode() != tc.alert || !strings.Contains(a.GetMessage(), "outbound policy") ||
				!strings.Contains(a.GetMessage(), tc.says) || !strings.Contains(a.GetMessage(), "--allow-private-networks") {
				t.Errorf("alert %s: %s", a.GetCode(), a.GetMessage())
			}
		})
	}
	if n, m := lib.Calls("/illrequests/"), np.Calls(); n != 0 || m != 0 {
		t.Errorf("the fakes were called: Libris %d, Netpunkt %d", n, m)
	}
}
