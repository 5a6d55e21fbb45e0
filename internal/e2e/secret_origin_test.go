package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging"
)

// keyRecorder serves a fake Libris and remembers every api-key header that reached it.
type keyRecorder struct {
	next http.Handler
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	if v := r.Header.Values("api-key"); len(v) > 0 {
		k.keys = append(k.keys, v...)
	}
	k.mu.Unlock()
	k.next.ServeHTTP(w, r)
}

func (k *keyRecorder) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.keys...)
}

// TestSecretBoundToOrigin: a profile's API key is bound to the origin (scheme, host,
// port) of the base URL it was entered for. Moving the API to another path on the same
// origin keeps working; pointing the profile at another origin — what someone holding an
// admin token would do to have the harvester send them the key — makes the key unusable:
// the run fails API_KEY_MISSING without contacting the new origin, the harvester's
// credential read is refused, and readiness lists api_key. Entering the key again for the
// new address makes the profile run there.
func TestSecretBoundToOrigin(t *testing.T) {
	e := startEnv(t, nil, testenv.Options{Logger: logging.Discard()})
	ctx := e.ctx

	const key = "libris-key-entered-for-the-real-origin"
	today := time.Now()
	gen := fakelibris.GenerateOptions{Seed: 7, Sigel: testenv.LibrisSigel, Count: 6, From: today.AddDate(0, 0, -2), To: today, Lenders: testenv.LibrisLenders}

	// The real Libris answers below two paths of one origin: the API moved, the host did not.
	real := fakelibris.New(fakelibris.Options{BasePath: "/"})
	real.AddKey(key, testenv.LibrisSigel)
	real.Put(fakelibris.Generate(gen)...)
	mux := http.NewServeMux()
	mux.Handle("/librisfjarrlan/api/", http.StripPrefix("/librisfjarrlan/api", real))
	mux.Handle("/v2/librisfjarrlan/api/", http.StripPrefix("/v2/librisfjarrlan/api", real))
	realSrv := httptest.NewServer(mux)
	defer realSrv.Close()

	// Another origin (same host, another port) that would accept the key and serve the
	// same requests: if the key reached it, the run would succeed there.
	other := fakelibris.New(fakelibris.Options{})
	other.AddKey(key, testenv.LibrisSigel)
	other.Put(fakelibris.Generate(gen)...)
	attacker := &keyRecorder{next: other}
	attackerSrv := httptest.NewServer(attacker)
	defer attackerSrv.Close()

	w := testenv.World{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, Library: testenv.LibrisSigel, Partners: testenv.LibrisLenders,
		Profile: testenv.Profile(typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, "libris-abc", realSrv.URL+"/librisfjarrlan/api", testenv.LibrisSigel, key, gen.From)}
	e.must(e.Seed(ctx, w))
	profile := w.ProfileName()
	harvester := e.caller("harvester", e.newToken("svc", "harvester"))

	setBaseURL := func(base string) *profilesv1.IntegrationProfile {
		t.Helper()
		p, err := e.Profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
			IntegrationProfile: &profilesv1.IntegrationProfile{Name: profile, SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: base}}},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"libris.base_url"}}})
		e.must(err)
		return p
	}
	credentials := func() (*profilesv1.ProfileCredentials, error) {
		return harvester.creds.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: profile})
	}
	imported := func(what string, r *harvesterv1.Run) {
		t.Helper()
		if r.GetState() == harvesterv1.RunState_RUN_STATE_FAILED || r.GetCounters().GetFetched() != int64(gen.Count) {
			t.Fatalf("%s: %v %s alerts %v", what, r.GetState(), counters(r), r.GetAlerts())
		}
	}
	realOrigin := realSrv.URL // httptest URLs are origins: scheme, host and explicit port

	// 1. The key as entered: the run reads the real Libris.
	first := e.run(profile)
	imported("first run", first)
	if first.GetCounters().GetCreated() != int64(gen.Count) {
		t.Fatalf("first run created %s", counters(first))
	}
	if c, err := credentials(); err != nil || c.GetApiKey() != key || c.GetOrigin() != realOrigin {
		t.Fatalf("credentials = origin %q, key set %v, %v; want the key bound to %s", c.GetOrigin(), c.GetApiKey() != "", err, realOrigin)
	}

	// 2. Another path on the same origin: still the same server, still the key's origin.
	if p := setBaseURL(realSrv.URL + "/v2/librisfjarrlan/api"); !p.GetReadiness().GetRunnable() {
		t.Fatalf("readiness after a path change = %v", p.GetReadiness())
	}
	imported("run after a path change", e.run(profile))

	// 3. Another origin: nothing reaches it, and every reader of the profile says why.
	p := setBaseURL(attackerSrv.URL + "/librisfjarrlan/api")
	if p.GetReadiness().GetRunnable() || !slices.Contains(p.GetReadiness().GetMissingFields(), "api_key") {
		t.Errorf("readiness after an origin change = %v, want api_key missing", p.GetReadiness())
	}
	_, err := credentials()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), realOrigin) || strings.Contains(err.Error(), key) {
		t.Errorf("credentials after an origin change: %v; want FAILED_PRECONDITION naming %s, never the key", err, realOrigin)
	}
	moved := e.run(profile)
	if a := moved.GetAlerts(); moved.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(a) == 0 ||
		a[len(a)-1].GetCode() != harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING || !strings.Contains(a[len(a)-1].GetMessage(), "again") {
		t.Errorf("run after an origin change: %v alerts %v; want FAILED with API_KEY_MISSING asking to enter the key again", moved.GetState(), a)
	}
	if a := moved.GetAlerts(); len(a) > 0 {
		t.Logf("the refused run says: %s", a[len(a)-1].GetMessage())
	}
	if keys := attacker.seen(); len(keys) != 0 {
		t.Fatalf("the new origin received %d api-key header(s) the key was not entered for", len(keys))
	}
	if n := other.Calls(""); n != 0 {
		t.Errorf("the new origin was called %d times before the key was entered for it", n)
	}

	// 4. The key entered again for the new address: the profile runs there.
	p, err = e.Profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: profile, ApiKey: key},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"api_key"}}})
	e.must(err)
	if !p.GetReadiness().GetRunnable() {
		t.Fatalf("readiness after entering the key again = %v", p.GetReadiness())
	}
	imported("run after entering the key again", e.run(profile))
	if c, err := credentials(); err != nil || c.GetOrigin() != attackerSrv.URL {
		t.Fatalf("credentials after entering the key again: origin %q, %v", c.GetOrigin(), err)
	}
	if len(attacker.seen()) == 0 {
		t.Error("the run after entering the key again did not use the new address")
	}
}
