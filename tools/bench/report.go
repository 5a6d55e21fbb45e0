package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// figure is one measured value, named as it is printed.
type figure struct {
	name  string
	value float64
}

// figures keeps the order they were measured in, which is the order they are printed in.
type figures []figure

func (f *figures) add(name string, v float64) { *f = append(*f, figure{name, v}) }

// get is the named figure, or NaN when it was not measured.
func (f figures) get(name string) float64 {
	for _, x := range f {
		if x.name == name {
			return x.value
		}
	}
	return math.NaN()
}

// formatValue prints a figure with three decimals at most and no trailing zeros.
func formatValue(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// target is one of the speed goals for this machine (docs/performance.md, "Targets").
type target struct {
	Figure string  `json:"figure"`
	Op     string  `json:"op"` // ">=" or "<="
	Value  float64 `json:"value"`
	Met    *bool   `json:"met"` // null when the figure was not measured
}

func (t target) verdict() string {
	switch {
	case t.Met == nil:
		return "not measured"
	case *t.Met:
		return "met"
	}
	return "MISSED"
}

// targets are the goals docs/performance.md lists. large_vs_empty stands for "no growth of import cost per request
// with ledger size", allowing for the noise of a shared machine.
var targets = []target{
	{Figure: "import_rps", Op: ">=", Value: 20000},
	{Figure: "import_vs_raw", Op: ">=", Value: 0.12},
	{Figure: "reimport_rps", Op: ">=", Value: 50000},
	{Figure: "large_vs_empty", Op: ">=", Value: 0.9},
	{Figure: "list_p99_ms", Op: "<=", Value: 5},
	{Figure: "rest_p99_ms", Op: "<=", Value: 10},
	{Figure: "harvester_peak_rss_mb", Op: "<=", Value: 150},
	{Figure: "console_queue_p99_ms", Op: "<=", Value: 200},
	{Figure: "console_payload_kb", Op: "<=", Value: 150},
}

// report is the JSON file: when, where, with which sizes, the figures and the targets.
type report struct {
	Time     time.Time          `json:"time"`
	Commit   string             `json:"commit,omitempty"`
	Machine  machine            `json:"machine"`
	Settings map[string]any     `json:"settings"`
	Figures  map[string]float64 `json:"figures"`
	Targets  []target           `json:"targets"`
}

type machine struct {
	NProc int    `json:"nproc"`
	CPU   string `json:"cpu"`
	OS    string `json:"os"`
	Go    string `json:"go"`
	// LoadAvg is /proc/loadavg when the bench ended: how busy the machine was with
	// other work, which moves absolute figures far more than ratios.
	LoadAvg string `json:"loadavg,omitempty"`
	// StealPct is the share of the machine's CPU time the hypervisor gave to other
	// guests while the bench ran (/proc/stat's steal): time this run's processes were
	// ready but not running, which no load average shows. Absent where unknown.
	StealPct *float64 `json:"steal_pct,omitempty"`
}

// newReport gathers the figures, targets, settings and machine of a run that began with
// the CPU times start (readCPUTimes).
func newReport(o Options, f figures, start cpuTimes) report {
	r := report{
		Time:    time.Now().UTC(),
		Commit:  gitCommit(),
		Machine: machine{NProc: runtime.NumCPU(), CPU: cpuModel(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), LoadAvg: loadAvg()},
		Settings: map[string]any{
			"n": o.N, "ledger": o.Ledger, "batch": o.Batch, "list_samples": o.ListSamples,
			"rest_duration": o.RESTDuration.String(), "rest_concurrency": o.RESTConcurrency,
			"harvester": "own process", "window_days": windowDays,
		},
		Figures: map[string]float64{},
	}
	if end, ok := readCPUTimes(); ok && start.total > 0 {
		if pct, ok := stealPct(start, end); ok {
			r.Machine.StealPct = &pct
		}
	}
	if o.ProfileDir != "" {
		r.Settings["harvester"] = "in the suite's process (profiling)"
	}
	for _, x := range f {
		if !math.IsNaN(x.value) {
			r.Figures[x.name] = x.value
		}
	}
	for _, t := range targets {
		if v, ok := r.Figures[t.Figure]; ok {
			met := v >= t.Value
			if t.Op == "<=" {
				met = v <= t.Value
			}
			t.Met = &met
		}
		r.Targets = append(r.Targets, t)
	}
	return r
}

func (r report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// resultsPath is dir/<date>.json, or <date>-2.json, -3, … when that day has results.
func resultsPath(dir string, now time.Time) (string, error) {
	day := now.UTC().Format(time.DateOnly)
	for i := 1; ; i++ {
		name := day + ".json"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.json", day, i)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		} else if err != nil {
			return "", err
		}
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo ("" where there is none).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	return modelName(f)
}

func modelName(r io.Reader) string {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg is the first three fields of /proc/loadavg ("" where there is none).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// cpuTimes are the machine's CPU times in clock ticks, all CPUs together: the total and
// the part stolen by the hypervisor.
type cpuTimes struct{ total, steal uint64 }

// readCPUTimes reads /proc/stat's "cpu" line (ok false where there is none).
func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	return parseCPUTimes(string(b))
}

// parseCPUTimes reads the aggregate "cpu" line of /proc/stat: user nice system idle
// iowait irq softirq steal [guest guest_nice]. Guest time is already counted in user and
// nice, so only the first eight fields make the total.
func parseCPUTimes(stat string) (cpuTimes, bool) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, s := range f[1:9] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, false
			}
			t.total += v
			if i == 7 {
				t.steal = v
			}
		}
		return t, true
	}
	return cpuTimes{}, false
}

// stealPct is the stolen share of the CPU time between a and b, in percent.
func stealPct(a, b cpuTimes) (float64, bool) {
	if b.total <= a.total || b.steal < a.steal {
		return 0, false
	}
	return 100 * float64(b.steal-a.steal) / float64(b.total-a.total), true
}

// gitCommit is the checked-out commit, "" outside a git checkout.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
