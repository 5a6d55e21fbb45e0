package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestSetupByEnv(t *testing.T) {
	for _, tc := range []struct {
		exporter, protocol string
		ok                 bool
	}{
		{"", "", true}, {"none", "", true}, {"console", "", true}, {"jaeger", "", false},
		{"otlp", "grpc", true}, {"otlp", "http/protobuf", true}, {"otlp", "http/json", false},
	} {
		t.Run(tc.exporter+" "+tc.protocol, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", tc.exporter)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // never dialled: no span is made
			shutdown, err := Setup(context.Background(), "test")
			if (err == nil) != tc.ok {
				t.Fatalf("Setup with %q/%q: %v", tc.exporter, tc.protocol, err)
			}
			if err == nil {
				if err := shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestResourceName: service.name is the name given to Setup unless OTEL_SERVICE_NAME says
// otherwise; service.version is always there.
func TestResourceName(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	for _, tc := range []struct{ env, want string }{{"", "profiles"}, {"ill-profiles", "ill-profiles"}} {
		t.Setenv("OTEL_SERVICE_NAME", tc.env)
		if _, err := Setup(context.Background(), "profiles"); err != nil {
			t.Fatal(err)
		}
		set := Resource().Set()
		if v, _ := set.Value("service.name"); v.AsString() != tc.want {
			t.Errorf("OTEL_SERVICE_NAME=%q: service.name %q, want %q", tc.env, v.AsString(), tc.want)
		}
		if v, _ := set.Value("service.version"); v.AsString() == "" {
			t.Error("no service.version")
		}
	}
}

// TestOTLPHTTP: with the standard variables for OTLP over HTTP, a span made through the
// provider Setup installs reaches a collector as protobuf on POST /v1/traces when
// shutdown flushes, with the service's name on its resource.
func TestOTLPHTTP(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*collectortrace.ExportTraceServiceRequest
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		req := &collectortrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Errorf("collector: %v", err)
		}
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer collector.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")

	shutdown, err := Setup(context.Background(), "harvester")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "import run")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, req := range reqs {
		for _, rs := range req.GetResourceSpans() {
			name := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					name = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					if s.GetName() == "import run" {
						found = true
						if name != "harvester" {
							t.Errorf("span from service.name %q, want harvester", name)
						}
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("the span did not reach the collector (%d export requests)", len(reqs))
	}
}
