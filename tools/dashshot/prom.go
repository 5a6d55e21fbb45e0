package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scrapeInterval is Prometheus's; rateInterval replaces Grafana's $__rate_interval as
// Grafana computes it (four scrape intervals at least).
const (
	scrapeInterval = 2 * time.Second
	rateInterval   = "8s"
)

// prometheus is a Prometheus server this tool runs.
type prometheus struct {
	url  string
	cmd  *exec.Cmd
	done chan error
}

// startPrometheus runs Prometheus scraping each service's /metrics (job = the service's
// name) and waits until it is ready. The all-in-one serves its one registry on every
// port, so only the harvester's port is kept; the others give their `up` alone, as
// separate processes' would.
func startPrometheus(ctx context.Context, dir string, targets map[string]string) (*prometheus, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := lis.Addr().String()
	lis.Close()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: 1s\nscrape_configs:\n", scrapeInterval)
	for _, job := range slices.Sorted(maps.Keys(targets)) {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets: [%q]\n", job, targets[job])
		if job != "harvester" {
			cfg.WriteString("    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: '.+'\n        action: drop\n")
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "prometheus", "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &prometheus{url: "http://" + addr, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("prometheus exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("prometheus not ready after 30s")
		}
	}
}

func (p *prometheus) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// series is one result series: its labels and its points (one for an instant query).
type series struct {
	labels map[string]string
	legend string
	times  []time.Time
	values []float64
}

// evaluate runs the panel's queries: instant at end for stat and table panels, over
// [start, end] for time series.
func (p *prometheus) evaluate(ctx context.Context, panel *panel, start, end time.Time) error {
	for _, t := range panel.targets {
		expr := expandVariables(t.expr, rateInterval)
		q := url.Values{"query": {expr}}
		path := "/api/v1/query"
		if panel.kind == "timeseries" {
			path = "/api/v1/query_range"
			q.Set("start", unix(start))
			q.Set("end", unix(end))
			q.Set("step", strconv.Itoa(int(scrapeInterval.Seconds())))
		} else {
			q.Set("time", unix(end))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var body struct {
			Status, Error string
			Data          struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
					Values [][]any           `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if body.Status != "success" {
			return fmt.Errorf("%s: %s", expr, body.Error)
		}
		for _, r := range body.Data.Result {
			s := series{labels: r.Metric, legend: legend(t.legend, r.Metric)}
			points := r.Values
			if r.Value != nil {
				points = [][]any{r.Value}
			}
			for _, pt := range points {
				ts, _ := pt[0].(float64)
				v, _ := strconv.ParseFloat(fmt.Sprint(pt[1]), 64)
				s.times = append(s.times, time.Unix(0, int64(ts*1e9)))
				s.values = append(s.values, v)
			}
			panel.series = append(panel.series, s)
		}
	}
	slices.SortFunc(panel.series, func(a, b series) int { return strings.Compare(a.legend, b.legend) })
	return nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

// legend fills a Grafana legendFormat ("{{profile}}") from a series' labels; an empty
// format names the series by its labels.
func legend(format string, labels map[string]string) string {
	if format == "" {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			parts = append(parts, k+"="+labels[k])
		}
		return strings.Join(parts, ", ")
	}
	out := format
	for k, v := range labels {
		out = strings.ReplaceAll(out, "{{"+k+"}}", v)
	}
	return out
}
