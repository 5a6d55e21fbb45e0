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
