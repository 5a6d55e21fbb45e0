package server

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultGCPercent is the garbage collector's target (GOGC) of Interloan's processes
// when the environment sets none. Their heaps are small (the ledger's records live in
// bbolt's memory map, outside the heap) while an import allocates megabytes of
// short-lived garbage per batch: at Go's default of 100 the collector took about a fifth
// of the ledger's CPU. At 400 it runs a quarter as often, for a heap that peaks at up to
// five times the live one, which the memory limit below still caps.
const DefaultGCPercent = 400

// memoryLimitRatio is the share of the container's memory limit given to the Go heap
// as GOMEMLIMIT: the rest is for bbolt's page cache, stacks and the runtime's overhead.
const memoryLimitRatio = 0.9

// TuneGC sets the collector's target to DefaultGCPercent unless GOGC is set, and the
// heap's soft limit to memoryLimitRatio of the cgroup's memory limit (a Kubernetes
// container's limit) unless GOMEMLIMIT or AUTOMEMLIMIT=off is set: with a higher GOGC
// the collector must know where the container's ceiling is, or a burst of garbage gets
// the process OOM-killed. It returns the memory limit in force (math.MaxInt64: none).
// The services' mains (Main) and `interloan up` call it first.
func TuneGC() int64 {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
	// Outside a cgroup (macOS, some CI sandboxes) Set fails and leaves the runtime's
	// limit as it was; a cgroup without a memory limit means no limit (math.MaxInt64).
	limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	if err != nil {
		slog.Debug("GOMEMLIMIT not set from the cgroup", "error", err)
	}
	return limit
}
