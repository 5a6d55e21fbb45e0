package k8s

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// monitoring is the optional Prometheus Operator component.
const monitoring = "components/monitoring"

// TestMonitoringComponent renders every overlay with components/monitoring and checks
// that each workload has one Service with a `metrics` port leading to the container port
// that serves /metrics, that the ServiceMonitor scrapes those ports and no other, that
// every alert and dashboard query is valid PromQL, that each alert names its runbook
// section in docs/operations.md, and that the dashboard ConfigMap carries the file and
// the label Grafana's sidecar looks for, that the monitoring namespace may reach each
// workload's metrics port and no other port, and that the "service down" queries name
// every workload. internal/e2e checks that the metrics named in the queries exist.
func TestMonitoringComponent(t *testing.T) {
	dashboard, err := os.ReadFile(monitoring + "/dashboards/import-health.json")
	if err != nil {
		t.Fatal(err)
	}
	runbook, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			o := renderWith(t, overlay, monitoring)
			checkNamespace(t, o)
			ws := o.workloads()
			if len(o.serviceMonitors) != 1 || len(o.rules) != 1 {
				t.Fatalf("%d ServiceMonitors and %d PrometheusRules, want one each", len(o.serviceMonitors), len(o.rules))
			}
			sm := o.serviceMonitors[0]
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
				t.Fatalf("ServiceMonitor endpoints %+v, want the metrics port's /metrics", sm.Spec.Endpoints)
			}
			sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
			scraped := map[string]int{}
			metricsPort := map[string]int32{}
			for name, svc := range o.services {
				for _, sp := range svc.Spec.Ports {
					if sp.Name != "metrics" {
						continue
					}
					if !sel.Matches(labels.Set(svc.Labels)) {
						t.Errorf("Service %s has a metrics port the ServiceMonitor does not select", name)
					}
					w := selected(svc.Spec.Selector, ws)
					if len(w) != 1 {
						continue // checkServices reports it
					}
					c := ws[w[0]].pod.Spec.Containers[0]
					// The services serve /metrics on their health port, the gateway on a port of its own.
					want := "http"
					if binaries[w[0]].edge() {
						want = "metrics"
					}
					got, err := containerPort(c, sp.TargetPort)
					wantPort, _ := containerPort(c, intstr.FromString(want))
					if err != nil || got != wantPort {
						t.Errorf("Service %s: metrics port leads to %d (%v), want the %s port %d", name, got, err, want, wantPort)
					}
					scraped[w[0]]++
					metricsPort[w[0]] = got
				}
			}
			for name := range ws {
				if scraped[name] != 1 {
					t.Errorf("%s: %d Services with a metrics port, want one", name, scraped[name])
				}
			}
			checkPrometheusPolicy(t, o, ws, metricsPort)

			var alerts []string
			for _, g := range o.rules[0].Spec.Groups {
				for _, r := range g.Rules {
					if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr.String()); err != nil {
						t.Errorf("%s: %v", r.Alert, err)
					}
					alerts = append(alerts, r.Alert)
					if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
						t.Errorf("%s: wants a severity, a summary and a description", r.Alert)
					}
					anchor := "docs/operations.md#" + strings.ToLower(r.Alert)
					if r.Annotations["runbook"] != anchor || !bytes.Contains(runbook, []byte("\n### "+r.Alert+"\n")) {
						t.Errorf("%s: runbook %q, want %s and that section in docs/operations.md", r.Alert, r.Annotations["runbook"], anchor)
					}
				}
			}
			slices.Sort(alerts)
			if want := []string{"InterloanImportBacklogGrowing", "InterloanImportFailing", "InterloanImportStale", "InterloanServiceDown"}; !slices.Equal(alerts, want) {
				t.Errorf("alerts %v, want %v", alerts, want)
			}

			cm, ok := o.configMaps["interloan-dashboard-import-health"]
			if !ok {
				t.Fatal("no dashboard ConfigMap")
			}
			if cm.Labels["grafana_dashboard"] != "1" || cm.Data["import-health.json"] != string(dashboard) {
				t.Errorf("dashboard ConfigMap: labels %v, the file's content: %v", cm.Labels, cm.Data["import-health.json"] == string(dashboard))
			}
		})
	}
	var rules monitoringv1.PrometheusRule
	if err := yamlStrict(monitoring+"/prometheusrule.yaml", &rules); err != nil {
		t.Fatal(err)
	}
	queries, err := dashboardQueries(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 8 {
		t.Errorf("%d dashboard queries", len(queries))
	}
	selectors := map[string]map[string]bool{}
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			queries = append(queries, r.Expr.String())
		}
	}
	for _, q := range queries {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Errorf("query %s: %v", q, err)
			continue
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name == "up" {
				checkUpJobs(t, q, vs)
			}
			if vs, ok := n.(*parser.VectorSelector); ok {
				if selectors[vs.Name] == nil {
					selectors[vs.Name] = map[string]bool{}
				}
				for _, m := range vs.LabelMatchers {
					if m.Name != model.MetricNameLabel {
						selectors[vs.Name][m.Name] = true
					}
				}
			}
			return nil
		})
	}
	var list strings.Builder
	list.WriteString(metricsListHeader)
	for _, name := range slices.Sorted(maps.Keys(selectors)) {
		list.WriteString(strings.Join(append([]string{name}, slices.Sorted(maps.Keys(selectors[name]))...), " ") + "\n")
	}
	const path = monitoring + "/metrics.txt"
	if *update {
		if err := os.WriteFile(path, []byte(list.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != list.String() {
		t.Errorf("%s is not what the alerts and dashboard read (%v); run go test -run TestMonitoringComponent -update in deploy/k8s. Want:\n%s", path, err, list.String())
	}
}

// checkPrometheusPolicy: the allow-prometheus policy selects every workload and admits
// the monitoring namespace to its metrics port (the one its Service's metrics port leads
// to), and to no other port.
func checkPrometheusPolicy(t *testing.T, o *objects, ws map[string]workload, metricsPort map[string]int32) {
	t.Helper()
	var allow *networkingv1.NetworkPolicy
	for _, p := range o.policies {
		if p.Name == "allow-prometheus" {
			allow = p
		}
	}
	if allow == nil {
		t.Fatal("no NetworkPolicy allow-prometheus")
	}
	monitoringNS := labels.Set{"kubernetes.io/metadata.name": "monitoring"}
	for _, r := range allow.Spec.Ingress {
		for _, peer := range r.From {
			if peer.IPBlock != nil || peer.NamespaceSelector == nil || !matches(peer.NamespaceSelector, monitoringNS) || matches(peer.NamespaceSelector, nsLabels) {
				t.Errorf("allow-prometheus admits %+v, want the monitoring namespace alone", peer)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ws)) {
		w := ws[name]
		if !matches(&allow.Spec.PodSelector, labels.Set(w.pod.Labels)) {
			t.Errorf("allow-prometheus does not select %s", name)
			continue
		}
		var admitted []int32
		for _, cp := range w.pod.Spec.Containers[0].Ports {
			if slices.ContainsFunc(allow.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool { return portMatches(r.Ports, cp) }) {
				admitted = append(admitted, cp.ContainerPort)
			}
		}
		if want := []int32{metricsPort[name]}; !slices.Equal(admitted, want) {
			t.Errorf("allow-prometheus admits %s's ports %v, want its metrics port %v", name, admitted, want)
		}
	}
}

// checkUpJobs: a query on up by job names every workload (ServiceMonitor's jobLabel is
// the workload's name), so no workload can be down unnoticed.
func checkUpJobs(t *testing.T, query string, vs *parser.VectorSelector) {
	t.Helper()
	for _, m := range vs.LabelMatchers {
		if m.Name != "job" {
			continue
		}
		if m.Type != promlabels.MatchRegexp {
			t.Errorf("query %s: want job=~ naming every workload", strings.TrimSpace(query))
			return
		}
		if got, want := slices.Sorted(slices.Values(strings.Split(m.Value, "|"))), slices.Sorted(maps.Keys(binaries)); !slices.Equal(got, want) {
			t.Errorf("query %s: up of jobs %v, want every workload %v", strings.TrimSpace(query), got, want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite components/monitoring/metrics.txt")

const metricsListHeader = `# Every series the alerts (prometheusrule.yaml) and the dashboard (dashboards/) read,
# each followed by the labels their matchers test, as Prometheus's PromQL parser finds
# them. Written by deploy/k8s's TestMonitoringComponent -update, which fails when it is
# stale; internal/e2e checks each against a running suite's /metrics.
`

// grafanaVar is a dashboard variable in a query: $name, ${name} or ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range|[A-Za-z_]\w*)(:\w+)?\}?`)

// dashboardQueries returns the PromQL of every panel target of a Grafana dashboard, with
// Grafana's variables replaced as Grafana would before sending it: interval variables by
// a duration, every other (a label value) by a regular expression matching all.
func dashboardQueries(dashboard []byte) ([]string, error) {
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, grafanaVar.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if strings.Contains(v, "__") {
					return "5m"
				}
				return ".*"
			}))
		}
	}
	return out, nil
}

// yamlStrict decodes the YAML file at path into v, refusing unknown fields.
func yamlStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, v)
}
