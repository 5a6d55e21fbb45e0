package server

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the default target applies only when GOGC leaves the choice open.
func TestTuneGC(t *testing.T) {
	restore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(restore) })
	for _, tc := range []struct {
		gogc string // "-": unset
		want int
	}{
		{"-", DefaultGCPercent},
		{"100", 100},
		{"off", 100}, // the runtime read it at start; TuneGC leaves it alone
	} {
		debug.SetGCPercent(100)
		if tc.gogc == "-" {
			t.Setenv("GOGC", "")
			os.Unsetenv("GOGC")
		} else {
			t.Setenv("GOGC", tc.gogc)
		}
		TuneGC()
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC %q: percent %d, want %d", tc.gogc, got, tc.want)
		}
	}
}

// TestTuneGCMemoryLimit: an operator's GOMEMLIMIT (or AUTOMEMLIMIT=off) wins over the
// cgroup's limit, and a bad AUTOMEMLIMIT changes nothing.
func TestTuneGCMemoryLimit(t *testing.T) {
	const before = 3 << 30
	restore := debug.SetMemoryLimit(before)
	t.Cleanup(func() { debug.SetMemoryLimit(restore) })
	for _, tc := range []struct{ name, key, value string }{
		{"GOMEMLIMIT set", "GOMEMLIMIT", "3GiB"},
		{"AUTOMEMLIMIT off", "AUTOMEMLIMIT", "off"},
		{"AUTOMEMLIMIT unreadable", "AUTOMEMLIMIT", "lots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(before)
			t.Setenv(tc.key, tc.value)
			if got := TuneGC(); got != before {
				t.Errorf("TuneGC returned %d, want the limit before (%d)", got, before)
			}
			if got := debug.SetMemoryLimit(-1); got != before {
				t.Errorf("memory limit %d, want %d", got, before)
			}
		})
	}
}
