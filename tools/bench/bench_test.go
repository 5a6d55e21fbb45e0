package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want float64
	}{
		{"one sample is every percentile", ms(7), 99, 7},
		{"median of four is the second (nearest rank)", ms(4, 1, 3, 2), 50, 2},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99},
		{"p99 of 1000 is the 990th", ms(seq(1000)...), 99, 990},
		{"p100 is the maximum", ms(5, 9, 1), 100, 9},
		{"p0 is the minimum", ms(5, 9, 1), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(p%v) = %v ms, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[n-1-i] = i + 1 // descending: percentile must sort
	}
	return out
}

func TestVmHWM(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     float64
		err      bool
	}{
		{"found", "Name:\tharvester\nVmPeak:\t 900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n", 50, false},
		{"missing", "Name:\tharvester\nVmRSS:\t 40000 kB\n", 0, true},
		{"garbage", "VmHWM:\tlots\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := vmHWM(strings.NewReader(tc.in))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("vmHWM = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		err      bool
	}{
		{"plain", "42 (harvester) S 1 42 42 0 -1 4194304 125 0 0 0 250 30 0 0 20 0 9 0 1225679", 2800 * time.Millisecond, false},
		{"spaces and parentheses in the name", "42 (a (b) c) R 1 42 42 0 -1 4194304 125 0 0 0 7 3 0 0", 100 * time.Millisecond, false},
		{"cut short", "42 (x) S 1 42", 0, true},
		{"not a number", "42 (x) S 1 42 42 0 -1 4194304 125 0 0 0 a 3 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statCPU(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("statCPU = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestModelName(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := modelName(strings.NewReader(in)); got != "AMD EPYC 7B13" {
		t.Errorf("modelName = %q", got)
	}
	if got := modelName(strings.NewReader("processor\t: 0\n")); got != "" {
		t.Errorf("modelName without one = %q", got)
	}
}

func TestResultsPathNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC)
	for _, want := range []string{"2026-11-27.json", "2026-11-27-2.json", "2026-11-27-3.json"} {
		p, err := resultsPath(dir, day)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) != want {
			t.Fatalf("resultsPath = %s, want %s", filepath.Base(p), want)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckRun(t *testing.T) {
	run := func(state harvesterv1.RunState, c *harvesterv1.RunCounters) *harvesterv1.Run {
		return &harvesterv1.Run{Name: "runs/1", State: state, Counters: c}
	}
	ok := harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS
	created := harvesterv1.Outcome_OUTCOME_CREATED
	for _, tc := range []struct {
		name string
		run  *harvesterv1.Run
		err  bool
	}{
		{"all created", run(ok, &harvesterv1.RunCounters{Fetched: 10, Created: 10}), false},
		{"one skipped", run(harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS, &harvesterv1.RunCounters{Fetched: 10, Created: 9, Skipped: 1}), true},
		{"fewer fetched", run(ok, &harvesterv1.RunCounters{Fetched: 9, Created: 9}), true},
		{"unchanged, not created", run(ok, &harvesterv1.RunCounters{Fetched: 10, Unchanged: 10}), true},
		{"failed run", run(harvesterv1.RunState_RUN_STATE_FAILED, &harvesterv1.RunCounters{Fetched: 10, Created: 10}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkRun(tc.run, 10, created); (err != nil) != tc.err {
				t.Errorf("checkRun = %v, want error %v", err, tc.err)
			}
		})
	}
}

func TestFiguresAndTargets(t *testing.T) {
	var f figures
	f.add("import_rps", 25000)
	f.add("list_p99_ms", 7.5)
	r := newReport(Options{N: 10}, f, cpuTimes{})
	verdicts := map[string]string{}
	for _, tg := range r.Targets {
		verdicts[tg.Figure] = tg.verdict()
	}
	for fig, want := range map[string]string{"import_rps": "met", "list_p99_ms": "MISSED", "import_vs_raw": "not measured"} {
		if verdicts[fig] != want {
			t.Errorf("target %s: %s, want %s", fig, verdicts[fig], want)
		}
	}
	if got := formatValue(f.get("list_p99_ms")); got != "7.5" {
		t.Errorf("formatValue = %s", got)
	}
}

func TestCPUTimes(t *testing.T) {
	const stat = "cpu  100 5 50 800 10 1 2 32 7 0\ncpu0 50 2 25 400 5 0 1 16 3 0\nintr 1 2 3\n"
	for _, tc := range []struct {
		name string
		in   string
		want cpuTimes
		ok   bool
	}{
		{"aggregate line", stat, cpuTimes{total: 1000, steal: 32}, true},
		{"kernel without guest fields", "cpu 1 2 3 4 5 6 7 8\n", cpuTimes{total: 36, steal: 8}, true},
		{"too few fields", "cpu 1 2 3 4\n", cpuTimes{}, false},
		{"not a number", "cpu 1 2 3 x 5 6 7 8\n", cpuTimes{}, false},
		{"no cpu line", "intr 1 2\n", cpuTimes{}, false},
	} {
		got, ok := parseCPUTimes(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if pct, ok := stealPct(cpuTimes{total: 1000, steal: 32}, cpuTimes{total: 1200, steal: 62}); !ok || pct != 15 {
		t.Errorf("stealPct = %v %v, want 15", pct, ok)
	}
	if _, ok := stealPct(cpuTimes{total: 1000}, cpuTimes{total: 1000}); ok {
		t.Error("stealPct without time passing")
	}
}
