package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging/logtest"
)

// The secrets of TestSecretLeak: distinctive, so that finding one anywhere is a leak and
// never a coincidence.
const (
	leakAPIKey   = "LEAKCHECK-libris-key-7f3a9c"   // the profile that imports
	leakWrongKey = "LEAKCHECK-wrong-key-51d2e8"    // the profile Libris refuses (AUTH_FAILED)
	leakBadToken = "il_LEAKCHECK-bad-token-c40e19" // a bearer token nobody issued
)

// leakEnv is a running suite whose every log record and trace span is captured, and
// which keeps everything the test received from it.
type leakEnv struct {
	*env
	harvesterKey string // a line of the harvester's TLS private key (its identity in the suite)
	logs         *logtest.Buffer
	spans        *tracetest.SpanRecorder

	mu       sync.Mutex
	received strings.Builder // every gRPC/REST answer and error the test got
	runs     strings.Builder // the runs, their alerts and events
}

// startCaptured is start with a JSON debug logger into a buffer (the services' loggers,
// and slog's and log's defaults), and an in-memory span recorder as the global tracer
// provider, installed before any service builds its otelgrpc/otelhttp handlers. All of it
// is restored when the test ends, after the suite has stopped.
func startCaptured(t *testing.T) *leakEnv {
	t.Helper()
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	prevSlog, prevLogOut, prevLogFlags := slog.Default(), log.Writer(), log.Flags()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	otel.SetTracerProvider(tp)
	// As telemetry.Setup installs it, so trace context flows gateway → services.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	slog.SetDefault(logger.With("service", "slog.Default"))
	t.Cleanup(func() { // registered first: runs last, once the suite is down
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		slog.SetDefault(prevSlog)
		log.SetOutput(prevLogOut) // slog.SetDefault redirected the log package
		log.SetFlags(prevLogFlags)
		_ = tp.Shutdown(context.Background())
	})

	e := startSuite(t, logger, "debug")
	key, err := os.ReadFile(filepath.Join(e.suite.DataDir, suite.TLSDirName, "harvester.key"))
	e.must(err)
	lines := strings.Split(string(key), "\n") // "-----BEGIN PRIVATE KEY-----", base64 lines …
	if len(lines) < 3 {
		t.Fatalf("harvester key file: %d lines", len(lines))
	}
	return &leakEnv{env: e, harvesterKey: lines[1], logs: logs, spans: spans}
}

// got keeps an answer (message or error) the test received.
func (l *leakEnv) got(m proto.Message, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m != nil {
		b, _ := protojson.Marshal(m)
		l.received.Write(b)
		l.received.WriteByte('\n')
	}
	if err != nil {
		b, _ := protojson.Marshal(status.Convert(err).Proto()) // message and details
		fmt.Fprintf(&l.received, "%v\n%s\n", err, b)
	}
}

// keepRun keeps a run and all its events, for the alerts/events check.
func (l *leakEnv) keepRun(r *harvesterv1.Run) {
	l.t.Helper()
	l.got(r, nil)
	b, _ := protojson.Marshal(r)
	l.mu.Lock()
	l.runs.Write(b)
	l.runs.WriteByte('\n')
	l.mu.Unlock()
	token := ""
	for {
		resp, err := l.Harvester.ListRunEvents(l.ctx, &harvesterv1.ListRunEventsRequest{Parent: r.GetName(), PageSize: 1000, PageToken: token})
		l.got(resp, err)
		l.must(err)
		b, _ := protojson.Marshal(resp)
		l.mu.Lock()
		l.runs.Write(b)
		l.runs.WriteByte('\n')
		l.mu.Unlock()
		if token = resp.GetNextPageToken(); token == "" {
			return
		}
	}
}

// rest is env.rest that keeps the answer's status, headers and body.
func (l *leakEnv) rest(method, path, token, body string) (int, string) {
	l.t.Helper()
	code, header, b := l.env.rest(method, path, token, body)
	l.mu.Lock()
	fmt.Fprintf(&l.received, "%s %s → %d %v\n%s\n", method, path, code, header, b)
	l.mu.Unlock()
	return code, b
}

// spanText is everything a span carries that could hold a secret: its name, status
// message, attributes, events, links and resource.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	attrs := func(kv []attribute.KeyValue) {
		for _, a := range kv {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Emit())
		}
	}
	fmt.Fprintf(&b, "span %q kind=%s status=%s %q", s.Name(), s.SpanKind(), s.Status().Code, s.Status().Description)
	attrs(s.Attributes())
	for _, ev := range s.Events() {
		fmt.Fprintf(&b, " event %q", ev.Name)
		attrs(ev.Attributes)
	}
	for _, ln := range s.Links() {
		b.WriteString(" link")
		attrs(ln.Attributes)
	}
	if r := s.Resource(); r != nil {
		attrs(r.Attributes())
	}
	b.WriteByte('\n')
	return b.String()
}

// TestSecretLeak runs a full import, a Libris refusal, REST and gRPC reads and refusals on
// the running suite with every log record and trace span captured, then asserts that
// neither the Libris API keys nor the bearer tokens appear in the logs, the spans, any
// answer, the runs' alerts and events, or the services' bbolt files.
func TestSecretLeak(t *testing.T) {
	l := startCaptured(t)
	secrets := map[string]string{
		"the Libris API key":          leakAPIKey,
		"the refused Libris API key":  leakWrongKey,
		"the admin token":             l.adminToken,
		"the admin token, unprefixed": strings.TrimPrefix(l.adminToken, "il_"),
		"the harvester's private key": l.harvesterKey,
		"the rejected bearer token":   leakBadToken,
	}
	for what, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("%s is too short to be distinctive: %q", what, s)
		}
	}

	today := time.Now()
	const n = 40
	l.suite.Libris.AddKey(leakAPIKey, "Abc")
	l.suite.Libris.AddKey("the-right-key-for-def", "Def")
	l.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 11, Sigel: "Abc", Count: n, From: today, To: today, Lenders: []string{"Xyz"}})...)
	l.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 12, Sigel: "Def", Count: 5, From: today, To: today, Lenders: []string{"Xyz"}})...)
	l.library("MAIN")
	l.mapLibris("Abc", "MAIN")
	l.mapLibris("Def", "MAIN")
	l.partner("Xyz")

	// The key goes in through the gateway, as an administrator's browser would send it: a
	// copy-paste slip with a trailing space first (refused; the answer must not quote it),
	// then the key itself.
	in := testenv.Profile(typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, "leak", l.extURL, "Abc", leakAPIKey+" ", today)
	body, err := protojson.Marshal(in)
	l.must(err)
	if code, resp := l.rest("POST", "/v1/integrationProfiles", l.adminToken, string(body)); code != http.StatusBadRequest {
		t.Fatalf("POST a profile whose key ends in a space = %d %s, want 400", code, resp)
	}
	in.ApiKey = leakAPIKey
	body, err = protojson.Marshal(in)
	l.must(err)
	code, resp := l.rest("POST", "/v1/integrationProfiles", l.adminToken, string(body))
	if code != http.StatusOK {
		t.Fatalf("POST /v1/integrationProfiles = %d %s", code, resp)
	}
	checkProfileJSON(t, "POST /v1/integrationProfiles", resp)
	const profile = "integrationProfiles/leak"

	// A full import.
	run := l.run(profile)
	l.keepRun(run)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetCounters().GetCreated() != n {
		t.Fatalf("import: %v %s %v", run.GetState(), counters(run), run.GetAlerts())
	}

	// A profile whose key Libris refuses: AUTH_FAILED, and the key is in no alert.
	wrong := l.profile("wrong", "Def", leakWrongKey, "MAIN", today)
	failed := l.run(wrong)
	l.keepRun(failed)
	if a := failed.GetAlerts(); failed.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(a) != 1 || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED {
		t.Fatalf("wrong key: %v %v", failed.GetState(), a)
	}

	// gRPC reads, and an update refused for a key with a leading space.
	p, err := l.Profiles.GetIntegrationProfile(l.ctx, &profilesv1.GetIntegrationProfileRequest{Name: profile})
	l.got(p, err)
	l.must(err)
	if !p.GetApiKeySet() || p.GetApiKey() != "" {
		t.Errorf("GetIntegrationProfile: api_key_set=%v api_key=%q", p.GetApiKeySet(), p.GetApiKey())
	}
	list, err := l.Profiles.ListIntegrationProfiles(l.ctx, &profilesv1.ListIntegrationProfilesRequest{})
	l.got(list, err)
	l.must(err)
	if len(list.GetIntegrationProfiles()) != 2 {
		t.Errorf("ListIntegrationProfiles: %d profiles, want 2", len(list.GetIntegrationProfiles()))
	}
	upd, err := l.Profiles.UpdateIntegrationProfile(l.ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: profile, ApiKey: " " + leakAPIKey},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"api_key"}}})
	l.got(upd, err)
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("UpdateIntegrationProfile with a key starting with a space: %v, want INVALID_ARGUMENT", err)
	}
	r, err := l.Harvester.GetRun(l.ctx, &harvesterv1.GetRunRequest{Name: failed.GetName()})
	l.got(r, err)
	l.must(err)

	// REST reads with the admin token, and refusals of a token nobody issued.
	code, resp = l.rest("GET", "/v1/"+profile, l.adminToken, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/%s = %d %s", profile, code, resp)
	}
	checkProfileJSON(t, "GET /v1/"+profile, resp)
	if code, resp = l.rest("GET", "/v1/integrationProfiles", l.adminToken, ""); code != http.StatusOK {
		t.Errorf("GET /v1/integrationProfiles = %d %s", code, resp)
	}
	if code, resp = l.rest("GET", "/v1/runs?profile="+profile, l.adminToken, ""); code != http.StatusOK || !strings.Contains(resp, run.GetName()) {
		t.Errorf("GET /v1/runs = %d %s", code, resp)
	}
	if code, resp = l.rest("GET", "/v1/"+failed.GetName(), l.adminToken, ""); code != http.StatusOK || !strings.Contains(resp, "ALERT_CODE_AUTH_FAILED") {
		t.Errorf("GET /v1/%s = %d %s", failed.GetName(), code, resp)
	}
	if code, resp = l.rest("GET", "/v1/"+profile, leakBadToken, ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/%s with a bad token = %d %s, want 401", profile, code, resp)
	}
	_, err = l.caller("bad", leakBadToken).profiles.GetIntegrationProfile(l.ctx, &profilesv1.GetIntegrationProfileRequest{Name: profile})
	l.got(nil, err)
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetIntegrationProfile with a bad token: %v, want UNAUTHENTICATED", err)
	}

	// Stop the suite, so that every log record and span (shutdown included) is in.
	if err := l.suite.Close(); err != nil {
		t.Errorf("suite: %v", err)
	}
	logs := l.logs.String()
	var spans strings.Builder
	names := map[string]int{}
	for _, s := range l.spans.Ended() {
		spans.WriteString(spanText(s))
		names[s.Name()]++
	}
	for _, s := range l.spans.Started() { // any span left open, too
		spans.WriteString(spanText(s))
	}

	// The capture works: without this, a test that captured nothing would pass.
	for _, want := range []string{run.GetName(), failed.GetName(), `"service":"profiles"`, `"service":"harvester"`, `"service":"gateway"`,
		"/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the captured logs (%d bytes) do not hold %q", len(logs), want)
		}
	}
	for _, want := range []string{
		"interloan.profiles.v1.ProfileService/GetIntegrationProfile",            // our gRPC call, and the gateway's
		"interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials", // the harvester fetching the key
		"interloan.requests.v1.IngestService/IngestBorrowingRequests",           // the import
		"interloan.harvester.v1.HarvesterService/StartRun",                      // a manual run
		"interloan.profiles.v1.ProfileService/CreateIntegrationProfile",         // the key going in
		"interloan.profiles.v1.ProfileService/UpdateIntegrationProfile",         // refused
		"interloan.harvester.v1.HarvesterService/ListRunEvents",                 // events
	} {
		if names[want] == 0 {
			t.Errorf("no span %q was recorded", want)
		}
	}
	var gatewaySpans int
	for _, s := range l.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer && s.InstrumentationScope().Name == "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp" {
			gatewaySpans++
		}
	}
	if gatewaySpans < 7 {
		t.Errorf("%d gateway (otelhttp) server spans recorded, want one per REST call (7)", gatewaySpans)
	}
	if t.Failed() {
		t.Logf("span names: %v", names)
		t.FailNow()
	}
	t.Logf("captured %d bytes of logs, %d spans (%d through the gateway), %d bytes of answers", len(logs), len(l.spans.Ended()), gatewaySpans, l.received.Len())

	// Nothing panicked on the way.
	if strings.Contains(logs, "panic in handler") {
		t.Errorf("a handler panicked:\n%s", grepLines(logs, "panic in handler"))
	}

	// The secrets appear nowhere.
	places := []struct{ what, text string }{
		{"the logs", logs},
		{"the trace spans", spans.String()},
		{"the gRPC and REST answers", l.received.String()},
		{"the runs' alerts and events", l.runs.String()},
	}
	dbs, err := filepath.Glob(filepath.Join(l.suite.DataDir, "*.db"))
	l.must(err)
	if len(dbs) != 4 || !slices.Contains(dbs, filepath.Join(l.suite.DataDir, "profiles.db")) {
		t.Errorf("bbolt files in the data directory: %v", dbs)
	}
	for _, db := range dbs {
		b, err := os.ReadFile(db)
		l.must(err)
		places = append(places, struct{ what, text string }{filepath.Base(db), string(b)})
	}
	for _, place := range places {
		for what, s := range secrets {
			if strings.Contains(place.text, s) {
				t.Errorf("%s leaks into %s:\n%s", what, place.what, grepLines(place.text, s))
			}
		}
	}
}

// checkProfileJSON checks a REST profile answer: the key is set and not shown.
func checkProfileJSON(t *testing.T, what, body string) {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if p["apiKeySet"] != true {
		t.Errorf("%s: apiKeySet = %v, want true: %s", what, p["apiKeySet"], body)
	}
	if _, ok := p["apiKey"]; ok {
		t.Errorf("%s: the answer has an apiKey field: %s", what, body)
	}
}

// grepLines returns the lines of text holding s (at most 5, each cut to 600 bytes).
func grepLines(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			if len(line) > 600 {
				line = line[:600] + "…"
			}
			out = append(out, line)
			if len(out) == 5 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
