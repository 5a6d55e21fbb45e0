package server

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target (GOGC) of Interloan's processes
// when the environment sets none. Their heaps are small (the ledger's records live in
// bbolt's memory map, outside the heap) while an import allocates megabytes of
// short-lived garbage per batch: at Go's default of 100 the collector took about a fifth
// of the ledger's CPU. At 400 it runs a quarter as often, for a heap that peaks at up to
// five times the live one; GOMEMLIMIT, when set, still caps it.
const DefaultGCPercent = 400

// TuneGC sets the collector's target to DefaultGCPercent unless GOGC is set. The
// services' mains (Main) and `interloan up` call it first.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
