package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// run measures every figure and reports them.
func run(ctx context.Context, o Options) (err error) {
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "interloan-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	bins, err := build(ctx, filepath.Join(work, "bin"))
	if err != nil {
		return err
	}
	started := time.Now()
	startCPU, _ := readCPUTimes()

	var f figures
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench %6.1fs: %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}

	// An empty ledger: the import, the same window again, and the records it made.
	progress("import of %d requests into an empty ledger", o.N)
	items := filepath.Join(work, "items.pb")
	statuses, err := emptyLedger(ctx, o, bins, work, started, items, &f)
	if err != nil {
		return err
	}

	// The same records straight into a fresh store, in the harvester's batch size.
	progress("the same %d records straight into the store", o.N)
	st, err := storebench(ctx, bins.storebench, "-items", items, "-db", filepath.Join(work, "store.db"), "-batch", strconv.Itoa(o.Batch))
	if err != nil {
		return err
	}
	f.add("store_rps", float64(st.Items)/st.Seconds)
	f.add("import_vs_store", f.get("import_rps")/f.get("store_rps"))

	// The floor: the same records by a plain bbolt loop, one Put each, same batches.
	progress("the same %d records by a plain bbolt loop", o.N)
	raw, err := storebench(ctx, bins.storebench, "-mode", "raw", "-items", items, "-db", filepath.Join(work, "raw.db"), "-batch", strconv.Itoa(o.Batch))
	if err != nil {
		return err
	}
	f.add("raw_rps", float64(raw.Items)/raw.Seconds)
	f.add("import_vs_raw", f.get("import_rps")/f.get("raw_rps"))

	// A large ledger: the import again, then reads.
	progress("filling a ledger of %d requests", o.Ledger)
	if err := largeLedger(ctx, o, bins, work, started, items, statuses, &f, progress); err != nil {
		return err
	}

	r := newReport(o, f, startCPU)
	for _, fig := range f {
		fmt.Printf("%s=%s\n", fig.name, formatValue(fig.value))
	}
	for _, t := range r.Targets {
		fmt.Fprintf(os.Stderr, "target %s %s %s: %s (%s)\n", t.Figure, t.Op, formatValue(t.Value), t.verdict(), formatValue(f.get(t.Figure)))
	}
	if st := r.Machine.StealPct; st != nil {
		fmt.Fprintf(os.Stderr, "machine: load average %s at the end, %.1f%% of CPU time stolen by the hypervisor during the run\n", r.Machine.LoadAvg, *st)
	}
	path := o.JSONPath
	if path == "" && o.Save {
		if path, err = resultsPath(o.ResultsDir, time.Now()); err != nil {
			return err
		}
	}
	if path == "" {
		path = filepath.Join(os.TempDir(), "interloan-bench.json")
	}
	if err := r.write(path); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: figures written to", path)
	return nil
}

type binaries struct{ harvester, storebench string }

// build compiles the harvester service and the store's bench tool, which run as children.
func build(ctx context.Context, dir string) (binaries, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"./services/harvester/cmd/harvester", "./services/requests/internal/store/storebench")
	if out, err := cmd.CombinedOutput(); err != nil {
		return binaries{}, fmt.Errorf("build (run the bench from the repository root): %w\n%s", err, out)
	}
	return binaries{harvester: filepath.Join(dir, "harvester"), storebench: filepath.Join(dir, "storebench")}, nil
}

// emptyLedger imports the fake Libris into an empty ledger (import_rps,
// harvester_peak_rss_mb), imports the same window again (reimport_rps) and exports the
// records the import made to items. It returns the statuses those records have.
func emptyLedger(ctx context.Context, o Options, bins binaries, work string, now time.Time, items string, f *figures) (_ []requestsv1.Status, err error) {
	e, err := startSuite(ctx, filepath.Join(work, "empty"), o.N, now, o.Verbose)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, e.stop()) }()
	h := e.Harvester
	pids := []string{"self"}
	var child *childHarvester
	// profile profiles one import into the named files when asked to.
	profile := func(name string) (func() error, error) { return func() error { return nil }, nil }
	if o.ProfileDir != "" {
		profile = func(name string) (func() error, error) { return startProfile(o.ProfileDir, name) }
	} else {
		if child, err = startHarvester(ctx, bins.harvester, e, filepath.Join(work, "empty-harvester")); err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, child.stop()) }()
		h = child.client
		pids = append(pids, strconv.Itoa(child.cmd.Process.Pid))
	}

	stopProfile, err := profile("import")
	if err != nil {
		return nil, err
	}
	first, err := importOnce(ctx, h, e.profile, o.N, harvesterv1.Outcome_OUTCOME_CREATED, pids...)
	if err := errors.Join(err, stopProfile()); err != nil {
		return nil, err
	}
	f.add("import_rps", first.rps())
	f.add("import_cpu_us", first.cpuMicros())
	if child != nil {
		rss, err := child.peakRSSMB()
		if err != nil {
			return nil, err
		}
		f.add("harvester_peak_rss_mb", rss)
	}

	if stopProfile, err = profile("reimport"); err != nil {
		return nil, err
	}
	again, err := importOnce(ctx, h, e.profile, o.N, harvesterv1.Outcome_OUTCOME_UNCHANGED, pids...)
	if err := errors.Join(err, stopProfile()); err != nil {
		return nil, err
	}
	f.add("reimport_rps", again.rps())
	f.add("reimport_vs_import", again.rps()/first.rps())
	f.add("reimport_cpu_us", again.cpuMicros())

	n, statuses, err := exportItems(ctx, e.ledger, e.profile, items)
	if err != nil {
		return nil, err
	}
	if n != o.N {
		return nil, fmt.Errorf("the ledger lists %d requests of the profile after importing %d", n, o.N)
	}
	return statuses, nil
}

// largeLedger fills a ledger of o.Ledger requests through the store (under another
// profile), starts the suite on it, imports the fake Libris again
// (import_rps_large_ledger) and measures reads on it: list_* through gRPC, rest_* through
// the gateway.
func largeLedger(ctx context.Context, o Options, bins binaries, work string, now time.Time, items string, statuses []requestsv1.Status,
	f *figures, progress func(string, ...any)) (err error) {
	dir := filepath.Join(work, "large")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if o.Ledger > 0 {
		if _, err := storebench(ctx, bins.storebench, "-items", items, "-db", filepath.Join(dir, "requests.db"),
			"-batch", "1000", "-count", strconv.Itoa(o.Ledger), "-profile", fillProfile); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		// The filled ledger rewritten in the previous schema, then migrated by opening it:
		// the rest runs on a migrated ledger.
		progress("rewriting the ledger of %d in schema 3 and migrating it", o.Ledger)
		m, err := storebench(ctx, bins.storebench, "-mode", "migrate", "-db", filepath.Join(dir, "requests.db"))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if m.Items != o.Ledger {
			return fmt.Errorf("migrate: the migrated ledger counts %d requests, want %d", m.Items, o.Ledger)
		}
		f.add("migrate_s", m.Seconds)
	}
	e, err := startSuite(ctx, dir, o.N, now, o.Verbose)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.stop()) }()
	h := e.Harvester
	if o.ProfileDir == "" {
		child, err := startHarvester(ctx, bins.harvester, e, filepath.Join(work, "large-harvester"))
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, child.stop()) }()
		h = child.client
	}
	progress("import of %d requests into a ledger of %d", o.N, o.Ledger)
	large, err := importOnce(ctx, h, e.profile, o.N, harvesterv1.Outcome_OUTCOME_CREATED)
	if err != nil {
		return err
	}
	f.add("import_rps_large_ledger", large.rps())
	f.add("large_vs_empty", large.rps()/f.get("import_rps"))

	progress("%d list pages of 50 on a ledger of %d", o.ListSamples, o.Ledger+o.N)
	lat, err := listLatencies(ctx, e.ledger, statuses, o.ListSamples)
	if err != nil {
		return err
	}
	f.add("list_p50_ms", percentile(lat, 50))
	f.add("list_p99_ms", percentile(lat, 99))

	progress("%d console queue pages on a ledger of %d", o.ListSamples/5, o.Ledger+o.N)
	cc, err := signInConsole(ctx, e.ConsoleURL(), e.AdminToken)
	if err != nil {
		return err
	}
	clat, err := consoleQueueLatencies(ctx, cc, statuses, max(o.ListSamples/5, 20))
	if err != nil {
		return err
	}
	f.add("console_queue_p50_ms", percentile(clat, 50))
	f.add("console_queue_p99_ms", percentile(clat, 99))
	kb, err := consolePayloadKB(ctx, cc)
	if err != nil {
		return err
	}
	f.add("console_payload_kb", kb)

	progress("REST load: %d clients for %s", o.RESTConcurrency, o.RESTDuration)
	rest := loadREST(ctx, e.Addrs.Gateway, e.AdminToken, o.Ledger+o.N, o.RESTConcurrency, o.RESTDuration)
	if rest.requests == 0 {
		return errors.New("REST load: no request completed")
	}
	if rest.errors > 0 {
		return fmt.Errorf("REST load: %d of %d requests failed, the first: %s", rest.errors, rest.requests, rest.firstErr)
	}
	f.add("rest_p50_ms", percentile(rest.latencies, 50))
	f.add("rest_p99_ms", percentile(rest.latencies, 99))
	f.add("rest_rps", float64(rest.requests)/rest.seconds)
	return nil
}

// startProfile starts a CPU profile of this process (the suite, its harvester included)
// into dir/<name>.cpu.pprof and an execution trace into dir/<name>.trace; the returned
// function stops both and adds an allocation profile (dir/<name>.allocs.pprof,
// allocations since the process started).
func startProfile(dir, name string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	// The execution trace shows where the import waits (go tool trace -pprof=sync, net,
	// syscall or sched): the CPU profile only shows where it computes.
	tr, err := os.Create(filepath.Join(dir, name+".trace"))
	if err == nil {
		err = trace.Start(tr)
	}
	if err != nil {
		pprof.StopCPUProfile()
		return nil, errors.Join(err, cpu.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		trace.Stop()
		err := errors.Join(cpu.Close(), tr.Close())
		allocs, cerr := os.Create(filepath.Join(dir, name+".allocs.pprof"))
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		return errors.Join(err, pprof.Lookup("allocs").WriteTo(allocs, 0), allocs.Close())
	}, nil
}
