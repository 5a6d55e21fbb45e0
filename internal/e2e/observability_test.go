package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/telemetry"
)

// TestTracesAcrossServices: an import run is one trace rooted at its "import run" span,
// spanning the harvester's calls to profiles, mapping, the ledger and Libris, with each
// service's server span the child of the caller's client span; a REST call is one trace
// from the gateway's span through its gRPC client span to the service's server span.
func TestTracesAcrossServices(t *testing.T) {
	l := startCaptured(t)
	today := time.Now()
	l.suite.Libris.AddKey("key-abc", "Abc")
	l.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 3, Sigel: "Abc", Count: 30, From: today, To: today, Lenders: []string{"Xyz"}})...)
	l.library("MAIN")
	l.mapLibris("Abc", "MAIN")
	l.partner("XYZ")
	run := l.run(l.profile("abc", "Abc", "key-abc", "MAIN", today))
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("run: %v %v", run.GetState(), run.GetAlerts())
	}

	spans := l.spans.Ended()
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "import run" && hasAttr(s, "interloan.run", run.GetName()) {
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no import run span for %s among %d spans", run.GetName(), len(spans))
	}
	inRun := inTrace(spans, root.SpanContext().TraceID())
	checkConnected(t, inRun, root)
	for _, want := range []struct {
		name string
		kind trace.SpanKind
	}{
		{"interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials", trace.SpanKindClient},
		{"interloan.profiles.v1.ProfileCredentialsService/GetProfileCredentials", trace.SpanKindServer},
		{"interloan.mapping.v1.MappingService/ResolvePartnerCodes", trace.SpanKindClient},
		{"interloan.mapping.v1.MappingService/ResolvePartnerCodes", trace.SpanKindServer},
		{"interloan.requests.v1.IngestService/IngestBorrowingRequests", trace.SpanKindClient},
		{"interloan.requests.v1.IngestService/IngestBorrowingRequests", trace.SpanKindServer},
		{"Libris GET", trace.SpanKindClient},
	} {
		if s := find(inRun, want.name, want.kind); s == nil {
			t.Errorf("the run's trace has no %v span %s", want.kind, want.name)
		} else if want.kind == trace.SpanKindServer {
			// The server span is the child of the harvester's client span of the same call.
			client := find(inRun, want.name, trace.SpanKindClient)
			if client == nil || s.Parent().SpanID() != client.SpanContext().SpanID() {
				t.Errorf("%s: the server span's parent is not the client span", want.name)
			}
		}
	}

	// A REST call: gateway span → gRPC client span → the ledger's server span.
	if code, body := l.rest(http.MethodGet, "/v1/borrowingRequests?pageSize=1", l.adminToken, ""); code != http.StatusOK {
		t.Fatalf("REST: %d %s", code, body)
	}
	// The harvester lists open requests too: look for the call whose client span is the
	// child of an HTTP server span (the gateway's), the root of its trace.
	const method = "interloan.requests.v1.RequestService/ListBorrowingRequests"
	restTrace := func() bool {
		for _, server := range l.spans.Ended() {
			if server.Name() != method || server.SpanKind() != trace.SpanKindServer {
				continue
			}
			spans := inTrace(l.spans.Ended(), server.SpanContext().TraceID())
			client := find(spans, method, trace.SpanKindClient)
			if client == nil || server.Parent().SpanID() != client.SpanContext().SpanID() {
				continue
			}
			for _, gw := range spans {
				if gw.SpanKind() == trace.SpanKindServer && gw.SpanContext().SpanID() == client.Parent().SpanID() && !gw.Parent().IsValid() {
					return true
				}
			}
		}
		return false
	}
	deadline := time.Now().Add(5 * time.Second) // the gateway's span ends after the answer is written
	for !restTrace() {
		if time.Now().After(deadline) {
			t.Fatal("no trace gateway HTTP span → gRPC client span → ledger server span for the REST call")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsScrape: each process's /metrics (here the all-in-one's, on the harvester's
// and the ledger's HTTP ports) shows the run, request, run duration, ledger,
// external API and gRPC metrics with their labels after an import.
func TestMetricsScrape(t *testing.T) {
	if err := telemetry.SetupMetrics(); err != nil {
		t.Fatal(err)
	}
	e := start(t)
	today := time.Now()
	e.suite.Libris.AddKey("key-abc", "Abc")
	e.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 4, Sigel: "Abc", Count: 12, From: today, To: today, Lenders: []string{"Xyz"}})...)
	e.library("MAIN")
	e.mapLibris("Abc", "MAIN")
	e.partner("XYZ")
	if run := e.run(e.profile("metrics", "Abc", "key-abc", "MAIN", today)); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("run: %v %v", run.GetState(), run.GetAlerts())
	}
	scrape := func(url string) string {
		resp, err := e.suite.HTTP.Get(url)
		e.must(err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		e.must(err)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return string(b)
	}
	harvester := scrape("https://" + e.suite.Addrs.HTTP["harvester"] + "/metrics")
	ledger := scrape("https://" + e.suite.Addrs.HTTP["requests"] + "/metrics")
	for _, want := range []struct {
		text    string
		pattern string
	}{
		{harvester, `interloan_harvester_runs_total\{[^}]*profile="metrics"[^}]*state="COMPLETED_SUCCESS"[^}]*\} 1`},
		{harvester, `interloan_harvester_requests_total\{[^}]*outcome="created"[^}]*profile="metrics"[^}]*\} 12`},
		{harvester, `interloan_harvester_run_duration_seconds_count\{[^}]*profile="metrics"[^}]*\} 1`},
		{harvester, `http_client_request_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*\} [1-9]`},
		{harvester, `rpc_server_call_duration_seconds_count\{[^}]*rpc_method="interloan.harvester.v1.HarvesterService/StartRun"`},
		{ledger, `interloan_ledger_requests\{[^}]*status="REQUEST_SENT"[^}]*\} [0-9]+`},
		{ledger, `rpc_server_call_duration_seconds_count\{[^}]*rpc_method="interloan.requests.v1.IngestService/IngestBorrowingRequests"`},
		{ledger, `go_goroutines [0-9]+`},
	} {
		if !regexp.MustCompile(want.pattern).MatchString(want.text) {
			t.Errorf("no line matching %s; metric names seen:\n%s", want.pattern, names(want.text))
		}
	}
	for what, s := range map[string]string{"admin token": e.adminToken, "Libris key": "key-abc"} {
		if strings.Contains(harvester+ledger, s) {
			t.Errorf("the metrics contain the %s", what)
		}
	}
}

func hasAttr(s sdktrace.ReadOnlySpan, key, value string) bool {
	for _, a := range s.Attributes() {
		if a.Key == attribute.Key(key) && a.Value.AsString() == value {
			return true
		}
	}
	return false
}

// inTrace is the spans of one trace.
func inTrace(spans []sdktrace.ReadOnlySpan, id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func find(spans []sdktrace.ReadOnlySpan, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name && s.SpanKind() == kind {
			return s
		}
	}
	return nil
}

// checkConnected fails unless every span of the trace reaches root through its parents.
func checkConnected(t *testing.T, spans []sdktrace.ReadOnlySpan, root sdktrace.ReadOnlySpan) {
	t.Helper()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range spans {
		cur := s
		for hops := 0; cur != root; hops++ {
			p, ok := byID[cur.Parent().SpanID()]
			if !ok || hops > 50 {
				t.Errorf("span %q (%v) does not reach the run's root span", s.Name(), s.SpanKind())
				break
			}
			cur = p
		}
	}
}

// names lists the metric names of a scrape, for a readable failure.
func names(text string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if !seen[name] {
			seen[name] = true
			fmt.Fprintln(&b, name)
		}
	}
	return b.String()
}
