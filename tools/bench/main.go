// Command bench measures Interloan's speed on this machine (docs/performance.md): a full
// import of generated Libris requests through the real path (fake Libris HTTP → harvester
// → mapping → requests over loopback gRPC, durable bbolt commits), the same records
// straight into the ledger store and by a plain bbolt loop (the floor), a re-import, the
// migration of a large ledger from the previous schema, listing and REST latency on it,
// the harvester's memory, and the import again on that large ledger.
//
// It prints one `name=value` line per figure and writes them, with the machine and the
// sizes, to a JSON file (-json; with -save also bench/results/<date>.json). Figures are
// ratios of one run where they compare: the machine is shared and noisy, so absolute
// numbers move between runs more than ratios do. docs/performance.md explains each one.
//
//	go run ./tools/bench                       # full sizes (make bench)
//	go run ./tools/bench -n 10000 -ledger 50000 # make bench-quick
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/interloan/interloan/platform/server"
)

// Options are the harness's settings, from flags.
type Options struct {
	N               int           // requests in the fake Libris: one import
	Ledger          int           // requests filled into the ledger for listing and the large-ledger import
	Batch           int           // items per store batch for store_rps: the harvester's batch size
	ListSamples     int           // ListBorrowingRequests pages timed
	RESTDuration    time.Duration // how long the gateway is loaded
	RESTConcurrency int           // concurrent REST clients
	WorkDir         string        // data directories and built binaries; "" → a temporary one, removed
	JSONPath        string        // where the figures go
	Save            bool          // also write bench/results/<date>.json
	ResultsDir      string
	ProfileDir      string // with a directory: CPU and allocation profiles of the import path
	Verbose         bool   // the services' warnings on stderr
}

func main() {
	server.TuneGC() // the suite below runs as `interloan up` runs it
	var o Options
	flag.IntVar(&o.N, "n", 100_000, "generated Libris requests imported (one response)")
	flag.IntVar(&o.Ledger, "ledger", 1_000_000, "ledger size for list_* and import_rps_large_ledger")
	flag.IntVar(&o.Batch, "batch", harvesterBatch, "items per store batch for store_rps (the harvester's ingest batch size)")
	flag.IntVar(&o.ListSamples, "list-samples", 1000, "ListBorrowingRequests pages timed")
	flag.DurationVar(&o.RESTDuration, "rest-duration", 5*time.Second, "how long the gateway is loaded")
	flag.IntVar(&o.RESTConcurrency, "rest-concurrency", 16, "concurrent REST clients")
	flag.StringVar(&o.WorkDir, "workdir", "", "working directory (kept); default a temporary one, removed at the end")
	flag.StringVar(&o.JSONPath, "json", "", "JSON file for the figures (default <workdir>/bench.json, or bench/results/<date>.json with -save)")
	flag.BoolVar(&o.Save, "save", false, "write the figures to bench/results/<date>.json")
	flag.StringVar(&o.ResultsDir, "results-dir", "bench/results", "directory -save writes to")
	flag.StringVar(&o.ProfileDir, "profile", "", "write CPU and allocation profiles of the import and the re-import into this directory; they then run on the suite's own harvester, so harvester_peak_rss_mb is not measured")
	flag.BoolVar(&o.Verbose, "v", false, "show the services' warnings")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (o *Options) check() error {
	switch {
	case o.N < 1:
		return fmt.Errorf("-n must be at least 1")
	case o.Ledger < 0:
		return fmt.Errorf("-ledger must not be negative")
	case o.Batch < 1 || o.Batch > 1000:
		return fmt.Errorf("-batch must be between 1 and 1000")
	case o.ListSamples < 1:
		return fmt.Errorf("-list-samples must be at least 1")
	case o.RESTDuration <= 0 || o.RESTConcurrency < 1:
		return fmt.Errorf("-rest-duration and -rest-concurrency must be positive")
	}
	return nil
}
