package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// result is one kind of traffic's figures.
type result struct {
	Name   string  `json:"name"`
	Calls  int64   `json:"calls"`
	Errors int64   `json:"errors"`
	RPS    float64 `json:"rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	Detail string  `json:"detail,omitempty"`
}

func run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	work, err := os.MkdirTemp("", "interloan-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	logf(stderr, "starting the suite (TLS) with a fake Libris of %d requests", o.Requests)
	env, err := testenv.Start(ctx, testenv.Options{DataDir: filepath.Join(work, "data"), TLS: true, Libris: fakelibris.New(fakelibris.Options{})})
	if err != nil {
		return err
	}
	defer env.Close()
	w := env.Libris.World(testenv.WorldOptions{Count: o.Requests, Days: 14})
	if err := env.Seed(ctx, w); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	began := time.Now()
	first, err := testenv.Import(ctx, env.Harvester, w.ProfileName())
	if err != nil {
		return err
	}
	if n := first.GetCounters().GetCreated(); n != int64(o.Requests) {
		return fmt.Errorf("the first import created %d requests, want %d (%s)", n, o.Requests, first.GetState())
	}
	logf(stderr, "imported %d requests in %s", o.Requests, time.Since(began).Round(time.Millisecond))

	// Everything runs for o.Duration side by side; the import starts a third of the way in.
	var (
		wg      sync.Mutex
		results []result
		errs    []error
	)
	add := func(r result, err error) {
		wg.Lock()
		defer wg.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
		if r.Name != "" {
			results = append(results, r)
		}
	}
	var all sync.WaitGroup
	for _, traffic := range []func() (result, error){
		func() (result, error) { return vegeta(ctx, o, env, work) },
		func() (result, error) { return ghz(ctx, o, env, work) },
		func() (result, error) { return actions(ctx, o, env.Requests) },
		func() (result, error) {
			select {
			case <-time.After(o.Duration / 3):
			case <-ctx.Done():
				return result{Name: "import"}, ctx.Err()
			}
			return importDuringLoad(ctx, env.Harvester, w.ProfileName())
		},
	} {
		all.Add(1)
		go func() { defer all.Done(); add(traffic()) }()
	}
	all.Wait()

	slices.SortFunc(results, func(a, b result) int { return strings.Compare(a.Name, b.Name) })
	failed := false
	for _, r := range results {
		fmt.Fprintf(stdout, "%s_calls=%d %s_errors=%d %s_rps=%.0f %s_p50_ms=%.2f %s_p99_ms=%.2f\n",
			r.Name, r.Calls, r.Name, r.Errors, r.Name, r.RPS, r.Name, r.P50ms, r.Name, r.P99ms)
		if r.Detail != "" {
			logf(stderr, "%s: %s", r.Name, r.Detail)
		}
		failed = failed || r.Errors > 0
	}
	if o.JSON != "" {
		b, _ := json.MarshalIndent(map[string]any{"duration": o.Duration.String(), "requests": o.Requests, "concurrency": o.Concurrency, "results": results}, "", "  ")
		if err := os.WriteFile(o.JSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	for _, err := range errs {
		logf(stderr, "%v", err)
	}
	switch {
	case len(errs) > 0:
		return fmt.Errorf("%w: %d kinds of traffic could not run", errTrafficFailed, len(errs))
	case failed:
		return errTrafficFailed
	}
	return nil
}

// actions adds notes to random requests (a lifecycle action that is always allowed and
// writes: audit event, change log, etag) from Concurrency workers, without etags, so
// concurrent writers never conflict by design.
func actions(ctx context.Context, o Options, rs requestsv1.RequestServiceClient) (result, error) {
	r := result{Name: "actions"}
	deadline := time.Now().Add(o.Duration)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				name := fmt.Sprintf("borrowingRequests/%d", 1+rnd.IntN(o.Requests))
				start := time.Now()
				_, err := rs.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: name, Note: "load test"})
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					r.Errors++
					if r.Detail == "" {
						r.Detail = "first error: " + err.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.Calls = int64(len(lat))
	r.RPS = float64(r.Calls) / o.Duration.Seconds()
	r.P50ms, r.P99ms = percentile(lat, 50), percentile(lat, 99)
	return r, ctx.Err()
}

// importDuringLoad imports the profile's window again while the rest of the traffic goes
// on: every request must come back UNCHANGED, or the annotations the actions wrote would
// have been mistaken for changes.
func importDuringLoad(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile string) (result, error) {
	r := result{Name: "import", Calls: 1}
	start := time.Now()
	run, err := testenv.Import(ctx, h, profile)
	if err != nil {
		r.Errors = 1
		return r, err
	}
	d := time.Since(start)
	c := run.GetCounters()
	r.RPS = float64(c.GetFetched()) / d.Seconds()
	r.P50ms = float64(d.Microseconds()) / 1000
	r.P99ms = r.P50ms
	r.Detail = fmt.Sprintf("%s: fetched %d, unchanged %d, created %d, updated %d, skipped %d, failed %d (rps = requests/s of the whole run, including the open-request refresh's paced single fetches)",
		run.GetState(), c.GetFetched(), c.GetUnchanged(), c.GetCreated(), c.GetUpdated(), c.GetSkipped(), c.GetFailed())
	if c.GetUnchanged() != c.GetFetched() || c.GetFetched() == 0 {
		r.Errors = 1
	}
	return r, nil
}

// percentile is the nearest-rank p-th percentile in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}
