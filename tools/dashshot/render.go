package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const dashboardPath = "deploy/k8s/components/monitoring/dashboards/import-health.json"

// Page geometry: Grafana's 24-column grid in a 1600-pixel page.
const (
	pageWidth = 1600
	colWidth  = (pageWidth - 16) / 24.0
	rowHeight = 34
	header    = 70
)

// panel is what the renderer uses of a dashboard panel, and its evaluated series.
type panel struct {
	Title, Description string
	kind               string
	x, y, w, h         int
	unit               string
	decimals           *int
	thresholds         []threshold
	mappings           map[string]mapping
	targets            []target
	series             []series
}

type target struct{ expr, legend string }

type threshold struct {
	color string
	value *float64
}

type mapping struct{ text, color string }

// readDashboard reads the dashboard's title and panels.
func readDashboard(path string) (string, []panel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title, Description, Type string
			GridPos                  struct{ X, Y, W, H int }
			FieldConfig              struct {
				Defaults struct {
					Unit       string `json:"unit"`
					Decimals   *int   `json:"decimals"`
					Thresholds struct {
						Steps []struct {
							Color string   `json:"color"`
							Value *float64 `json:"value"`
						} `json:"steps"`
					} `json:"thresholds"`
					Mappings []struct {
						Options map[string]struct{ Text, Color string } `json:"options"`
					} `json:"mappings"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []panel
	for _, p := range d.Panels {
		def := p.FieldConfig.Defaults
		pn := panel{Title: p.Title, Description: p.Description, kind: p.Type, x: p.GridPos.X, y: p.GridPos.Y, w: p.GridPos.W, h: p.GridPos.H,
			unit: def.Unit, decimals: def.Decimals, mappings: map[string]mapping{}}
		for _, s := range def.Thresholds.Steps {
			pn.thresholds = append(pn.thresholds, threshold{color: s.Color, value: s.Value})
		}
		for _, m := range def.Mappings {
			for v, o := range m.Options {
				pn.mappings[v] = mapping{text: o.Text, color: o.Color}
			}
		}
		for _, t := range p.Targets {
			pn.targets = append(pn.targets, target{expr: t.Expr, legend: t.LegendFormat})
		}
		out = append(out, pn)
	}
	return d.Title, out, nil
}

// grafanaVar is a dashboard variable in a query: $name, ${name} or ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range|[A-Za-z_]\w*)(:\w+)?\}?`)

// expandVariables replaces Grafana's variables as Grafana does before sending a query:
// its interval variables by interval, the dashboard's label variables (used in =~
// matchers, "All" selected) by a regular expression matching every value.
func expandVariables(expr, interval string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.Contains(v, "__") {
			return interval
		}
		return ".*"
	})
}

// palette is Grafana's classic series palette.
var palette = []string{"#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a", "#ff9830", "#96d98d"}

var namedColors = map[string]string{"green": "#73bf69", "orange": "#ff9830", "red": "#f2495c", "yellow": "#fade2a", "blue": "#5794f2"}

func color(name string) string {
	if c, ok := namedColors[name]; ok {
		return c
	}
	return name
}

// format renders v in the panel's unit.
func (p *panel) format(v float64) string {
	if m, ok := p.mappings[strconv.FormatFloat(v, 'f', -1, 64)]; ok && m.text != "" {
		return m.text
	}
	switch {
	case math.IsNaN(v):
		return "NaN"
	case p.unit == "s":
		return duration(v)
	case p.unit == "dateTimeAsIso":
		return time.UnixMilli(int64(v)).UTC().Format("2006-01-02 15:04:05Z")
	case p.unit == "reqps":
		return strconv.FormatFloat(v, 'f', 2, 64) + " req/s"
	case p.decimals != nil:
		return strconv.FormatFloat(v, 'f', *p.decimals, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// duration is a number of seconds as Grafana's "s" unit shows it.
func duration(s float64) string {
	switch a := math.Abs(s); {
	case a < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case a < 60:
		return fmt.Sprintf("%.1f s", s)
	case a < 3600:
		return fmt.Sprintf("%.1f min", s/60)
	case a < 86400:
		return fmt.Sprintf("%.1f hour", s/3600)
	}
	return fmt.Sprintf("%.1f day", s/86400)
}

// background is the colour a stat value takes: its value mapping's, else the last
// threshold step it reaches.
func (p *panel) background(v float64) string {
	if m, ok := p.mappings[strconv.FormatFloat(v, 'f', -1, 64)]; ok && m.color != "" {
		return color(m.color)
	}
	c := ""
	for _, t := range p.thresholds {
		if t.value == nil || v >= *t.value {
			c = color(t.color)
		}
	}
	return c
}

func pageHeight(panels []panel) int {
	rows := 0
	for _, p := range panels {
		rows = max(rows, p.y+p.h)
	}
	return header + rows*rowHeight + 40
}

// renderPage lays the panels out on the dashboard's grid.
func renderPage(title string, panels []panel, start, end time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font-family:"DejaVu Sans",sans-serif;font-size:13px}
.head{height:%dpx;padding:12px 16px;box-sizing:border-box}
.head h1{margin:0;font-size:20px;font-weight:500;color:#fff}
.head p{margin:4px 0 0;color:#8e8e9e;font-size:12px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:3px;box-sizing:border-box;overflow:hidden}
.panel h2{margin:0;padding:6px 10px;font-size:13px;font-weight:500;color:#fff}
.stats{display:flex;flex-wrap:wrap;gap:6px;padding:4px 10px}
.stat{flex:1;min-width:110px;border-radius:3px;padding:6px 8px}
.stat .v{font-size:26px;font-weight:600;color:#fff}.stat .n{font-size:12px}
table{border-collapse:collapse;width:100%%}td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #2c3235}
th{color:#6e9fff;font-weight:500}
.legend{padding:0 10px;font-size:12px}.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:3px;margin-right:5px;vertical-align:middle}
.empty{padding:20px;color:#8e8e9e}
</style></head><body><div class="head"><h1>%s</h1>
<p>Rendered by tools/dashshot from the dashboard JSON, with each panel's query evaluated by Prometheus on a live suite's metrics
(%s – %s UTC, profile = All). This is not Grafana.</p></div>`, header, html.EscapeString(title),
		start.UTC().Format("15:04:05"), end.UTC().Format("15:04:05"))
	for i := range panels {
		p := &panels[i]
		left, top := 8+float64(p.x)*colWidth, header+p.y*rowHeight
		w, h := float64(p.w)*colWidth-8, p.h*rowHeight-8
		fmt.Fprintf(&b, `<div class="panel" style="left:%.0fpx;top:%dpx;width:%.0fpx;height:%dpx"><h2>%s</h2>`, left, top, w, h, html.EscapeString(p.Title))
		switch {
		case len(p.series) == 0:
			b.WriteString(`<div class="empty">No data</div>`)
		case p.kind == "stat":
			b.WriteString(`<div class="stats">`)
			for _, s := range p.series {
				v := s.values[len(s.values)-1]
				bg := p.background(v)
				if bg == "" {
					bg = "#22252b"
				}
				fmt.Fprintf(&b, `<div class="stat" style="background:%s"><div class="v">%s</div><div class="n">%s</div></div>`, bg, html.EscapeString(p.format(v)), html.EscapeString(s.legend))
			}
			b.WriteString(`</div>`)
		case p.kind == "table":
			renderTable(&b, p)
		default:
			renderChart(&b, p, int(w)-20, h-60, start, end)
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</body></html>`)
	return b.String()
}

// renderTable shows each series' labels and value, as Grafana's labelsToFields does.
func renderTable(b *strings.Builder, p *panel) {
	var cols []string
	seen := map[string]bool{}
	for _, s := range p.series {
		for k := range s.labels {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	b.WriteString("<table><tr>")
	for _, c := range cols {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(c))
	}
	b.WriteString("<th>Value</th></tr>")
	for _, s := range p.series {
		b.WriteString("<tr>")
		for _, c := range cols {
			fmt.Fprintf(b, "<td>%s</td>", html.EscapeString(s.labels[c]))
		}
		fmt.Fprintf(b, "<td>%s</td></tr>", html.EscapeString(p.format(s.values[len(s.values)-1])))
	}
	b.WriteString("</table>")
}

// renderChart draws the series as lines over [start, end] with a y axis from 0.
func renderChart(b *strings.Builder, p *panel, w, h int, start, end time.Time) {
	const left, bottom, padTop = 70, 18, 8
	top := 0.0
	for _, s := range p.series {
		for _, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				top = max(top, v)
			}
		}
	}
	top = niceStep(top*1.05/4) * 4
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 { return left + float64(w-left-30)*t.Sub(start).Seconds()/span }
	y := func(v float64) float64 { return padTop + float64(h-bottom-padTop)*(1-v/top) }
	fmt.Fprintf(b, `<svg width="%d" height="%d" style="margin:0 10px">`, w, h)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2c3235"/><text x="%d" y="%.1f" fill="#8e8e9e" font-size="11" text-anchor="end">%s</text>`,
			left, w, y(v), y(v), left-6, y(v)+4, html.EscapeString(p.format(v)))
	}
	for i := 0; i <= 4; i++ {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#8e8e9e" font-size="11" text-anchor="middle">%s</text>`, x(t), h-2, t.UTC().Format("15:04:05"))
	}
	for i, s := range p.series {
		var pts []string
		for j, v := range s.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.times[j]), y(v)))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>`, palette[i%len(palette)], strings.Join(pts, " "))
	}
	b.WriteString(`</svg><div class="legend">`)
	for i, s := range p.series {
		fmt.Fprintf(b, `<span><i style="background:%s"></i>%s</span>`, palette[i%len(palette)], html.EscapeString(s.legend))
	}
	b.WriteString(`</div>`)
}

// niceStep is the smallest of 1, 2, 2.5 and 5 times a power of ten at least raw, so
// the axis reads in round numbers.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 0.25
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// screenshot renders the page in headless Chromium and writes a PNG of it.
func screenshot(ctx context.Context, page, out string, height int) error {
	abs, err := filepath.Abs(page)
	if err != nil {
		return err
	}
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(outAbs), 0o755); err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "dashshot-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+profile, "--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,%d", pageWidth, height),
		"--screenshot="+outAbs, "file://"+abs)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chromium: %v: %s", err, b)
	}
	return nil
}
