package e2e

import (
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/telemetry"
)

// prometheusMade are the series and labels Prometheus itself adds to what it scrapes: no
// service exports them.
var (
	prometheusSeries = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}
	targetLabels     = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true, "service": true, "endpoint": true, "container": true}
)

// TestMonitoringQueriesMatchMetrics runs the suite, makes one scheduled profile import
// through the fake Libris so that every import series exists, and checks that each
// metric an alert of deploy/k8s/components/monitoring or a panel of its dashboard reads
// is in the services' /metrics, with every label its matchers test.
func TestMonitoringQueriesMatchMetrics(t *testing.T) {
	if err := telemetry.SetupMetrics(); err != nil {
		t.Fatal(err)
	}
	e := start(t)
	today := time.Now()
	e.suite.Libris.AddKey("key-mon", "Mon")
	e.suite.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 5, Sigel: "Mon", Count: 8, From: today, To: today, Lenders: []string{"Xyz"}})...)
	e.library("MAIN")
	e.mapLibris("Mon", "MAIN")
	e.partner("XYZ")
	name := e.profileScheduled("mon", "Mon", "key-mon", "MAIN", today, 10080) // weekly: never due in the test
	if run := e.run(name); run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
		t.Fatalf("run: %v %v", run.GetState(), run.GetAlerts())
	}

	// The scheduler takes the profile in at its next poll; the health series follow.
	var series map[string]map[string]bool
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		series = e.scrapeAll()
		if series["interloan_import_schedule_period_seconds"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no interloan_import_schedule_period_seconds after a minute")
		}
	}
	text := e.scrapeText("harvester")
	for _, want := range []string{
		`interloan_import_schedule_period_seconds\{[^}]*profile="mon"[^}]*\} 604800`,
		`interloan_import_last_success_timestamp_seconds\{[^}]*profile="mon"[^}]*\} [0-9.e+]+`,
		`interloan_import_last_run_timestamp_seconds\{[^}]*profile="mon"[^}]*state="COMPLETED_SUCCESS"[^}]*\} [0-9.e+]+`,
		`interloan_import_runs_active\{[^}]*profile="mon"[^}]*\} 0`,
		`interloan_import_retry_backlog\{[^}]*profile="mon"[^}]*\} 0`,
		`interloan_import_parked_items\{[^}]*profile="mon"[^}]*\} 0`,
		`interloan_external_requests_total\{[^}]*operation="outgoing",outcome="ok",system="libris"[^}]*\} [1-9]`,
		`interloan_external_request_duration_seconds_count\{[^}]*operation="outgoing",outcome="ok",system="libris"[^}]*\} [1-9]`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("no line matching %s; metric names seen:\n%s", want, names(text))
		}
	}

	// The component's test (deploy/k8s) writes every series selector of its alerts and
	// dashboard, parsed with Prometheus's PromQL parser, to metrics.txt: one metric a
	// line, followed by the labels its matchers test.
	list, err := os.ReadFile("../../deploy/k8s/components/monitoring/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, line := range strings.Split(string(list), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || prometheusSeries[fields[0]] {
			continue
		}
		metric, got := fields[0], series[fields[0]]
		if got == nil {
			t.Errorf("the monitoring component reads %s, which no service exports", metric)
			continue
		}
		checked = append(checked, metric)
		for _, l := range fields[1:] {
			if !got[l] && !targetLabels[l] {
				t.Errorf("the monitoring component matches %s on label %q, which it does not have (it has %v)", metric, l, slices.Sorted(maps.Keys(got)))
			}
		}
	}
	t.Logf("the alerts and dashboard read %d metrics, all exported: %s", len(checked), strings.Join(checked, " "))
	if len(checked) < 8 {
		t.Errorf("only %d metrics checked", len(checked))
	}
}

// profileScheduled is profile with an interval schedule of minutes.
func (e *env) profileScheduled(code, library, key, local string, start time.Time, minutes int32) string {
	e.t.Helper()
	name := e.profile(code, library, key, local, start)
	p, err := e.Profiles.GetIntegrationProfile(e.ctx, &profilesv1.GetIntegrationProfileRequest{Name: name})
	e.must(err)
	p.Schedule = &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: minutes}}}
	_, err = e.Profiles.UpdateIntegrationProfile(e.ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: p})
	e.must(err)
	return name
}

// scrapeText is the /metrics text of one service's HTTP port.
func (e *env) scrapeText(service string) string {
	e.t.Helper()
	resp, err := e.suite.HTTP.Get("https://" + e.suite.Addrs.HTTP[service] + "/metrics")
	e.must(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	e.must(err)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s /metrics: %d", service, resp.StatusCode)
	}
	return string(b)
}

// scrapeAll parses every service's /metrics and returns each series name with the
// label names its samples carry. In the all-in-one every port shows the process's one
// registry; each is read all the same, as Prometheus would.
func (e *env) scrapeAll() map[string]map[string]bool {
	e.t.Helper()
	out := map[string]map[string]bool{}
	for service := range e.suite.Addrs.HTTP {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(e.scrapeText(service)))
		if err != nil {
			e.t.Fatalf("%s /metrics: %v", service, err)
		}
		for name, f := range families {
			for _, m := range f.GetMetric() {
				var ls []string
				for _, lp := range m.GetLabel() {
					ls = append(ls, lp.GetName())
				}
				// A histogram is read through its _bucket (with le), _sum and _count series.
				names := []string{name}
				if f.GetType().String() == "HISTOGRAM" {
					names = []string{name + "_bucket", name + "_sum", name + "_count"}
				}
				for _, n := range names {
					if out[n] == nil {
						out[n] = map[string]bool{}
					}
					for _, l := range ls {
						out[n][l] = true
					}
					if strings.HasSuffix(n, "_bucket") {
						out[n][model.BucketLabel] = true
					}
				}
			}
		}
	}
	if len(out) == 0 {
		e.t.Fatalf("no metrics in %v", e.suite.Addrs.HTTP)
	}
	return out
}
