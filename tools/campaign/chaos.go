package campaign

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// ChaosOptions configure Chaos.
type ChaosOptions struct {
	Cycles  int   // kill/restart cycles
	Seed    int64 // drives the data, the victims and the moments; printed for a rerun
	Initial int   // requests in Libris before the first cycle
	Grow    int   // requests that appear in Libris each cycle
	Churn   int   // requests Libris changes each cycle
	Bin     string
	Dir     string // throw-away data root; "" → a temporary directory, removed after
	Keep    bool   // keep Dir even when the campaign passes
}

func (o *ChaosOptions) defaults() {
	if o.Cycles <= 0 {
		o.Cycles = 20
	}
	if o.Initial <= 0 {
		o.Initial = 600
	}
	if o.Grow <= 0 {
		o.Grow = 60
	}
	if o.Churn <= 0 {
		o.Churn = 40
	}
}

// ChaosResult is what the crash campaign measured.
type ChaosResult struct {
	Cycles int
	Tally
	Killed   map[string]int // kills per service
	InRun    int            // kills that landed while a run was pending or running
	Problems []string       // panics or races in the service logs
}

// OK reports whether the campaign found nothing wrong.
func (r ChaosResult) OK() bool { return r.Tally.OK() && len(r.Problems) == 0 }

// runBound is how long one run may take before the campaign calls it stuck: minutes of
// headroom over the second or so a run of this size takes.
const runBound = 2 * time.Minute

// Chaos runs the crash campaign: each cycle changes Libris (new requests, churned
// last_modified), starts an import over the gateway, and meanwhile SIGKILLs one random
// service at a random moment and restarts it; the cycle ends when its run has ended. At
// the end, runs are started until one completes undisturbed, and the ledger is compared
// with the fake Libris: every request exactly once, as Libris has it now.
func Chaos(ctx context.Context, o ChaosOptions, out io.Writer) (ChaosResult, error) {
	o.defaults()
	res := ChaosResult{Killed: map[string]int{}}
	dir, cleanup, err := dataDir(o.Dir, "interloan-chaos-")
	if err != nil {
		return res, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	logf("chaos: seed=%d cycles=%d data=%s", o.Seed, o.Cycles, dir)
	c, err := StartCluster(ctx, o.Bin, dir, logf)
	if err != nil {
		return res, err
	}
	defer func() {
		c.Close()
		if res.OK() && !o.Keep {
			cleanup()
		} else {
			logf("chaos: data and service logs kept in %s", dir)
		}
	}()

	today := time.Now().UTC()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a05))
	world := NewWorld(c.Libris.Server, o.Initial+o.Cycles*o.Grow, o.Seed, today)
	if err := c.configure(ctx, today); err != nil {
		return res, fmt.Errorf("seeding: %w", err)
	}
	world.Reveal(o.Initial)
	first, err := c.importOnce(ctx, "chaos-initial")
	if err != nil {
		return res, err
	}
	last := runTime(first)
	logf("chaos: initial import of %d: %v in %s", o.Initial, first.GetState(), last.Round(time.Millisecond))

	for cycle := 1; cycle <= o.Cycles; cycle++ {
		grown, churned := world.Reveal(o.Grow), world.Churn(o.Churn)
		victim := Services[rng.IntN(len(Services))]
		// The kill lands anywhere from the run's start to a little after the last run's
		// duration, so mostly during the run, sometimes just after it.
		window := max(last+last/5, 50*time.Millisecond)
		at := time.Duration(rng.Int64N(int64(window)))
		down := time.Duration(rng.Int64N(int64(200 * time.Millisecond)))

		name, err := c.StartRun(ctx, fmt.Sprintf("chaos-%d-%d", o.Seed, cycle))
		if err != nil {
			return res, fmt.Errorf("cycle %d: %w", cycle, err)
		}
		killed := make(chan error, 1)
		go func() {
			time.Sleep(at)
			c.Kill(victim)
			time.Sleep(down)
			killed <- c.Start(ctx, victim)
		}()
		run, err := c.AwaitRun(ctx, name, runBound)
		if rerr := <-killed; rerr != nil {
			return res, fmt.Errorf("cycle %d: restarting %s: %w", cycle, victim, rerr)
		}
		if err != nil {
			return res, fmt.Errorf("cycle %d (killed %s after %s): %w", cycle, victim, at.Round(time.Millisecond), err)
		}
		if d := runTime(run); d > at {
			res.InRun++ // the run was still going when the kill came
		}
		if completed(run) {
			last = runTime(run)
		}
		res.Killed[victim]++
		res.Cycles = cycle
		ledger, err := c.Ledger(ctx)
		if err != nil {
			return res, fmt.Errorf("cycle %d: reading the ledger: %w", cycle, err)
		}
		logf("cycle %2d: +%d new, %d changed; killed %-9s at %5s (down %3s): run %s; ledger %d %s", cycle, grown, churned,
			victim, at.Round(time.Millisecond), down.Round(time.Millisecond), strings.TrimPrefix(run.GetState().String(), "RUN_STATE_"), len(ledger), brief(run))
	}

	// Let runs finish: start runs until one completes with nobody killed. A service
	// restarted in the last cycles may not be reachable by the harvester at once (its
	// gRPC channel waits out a reconnect backoff; docs/robustness.md), so keep trying,
	// a second apart, for up to 30s.
	var final *harvesterv1.Run
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; ; i++ {
		if final, err = c.importOnce(ctx, fmt.Sprintf("chaos-%d-final-%d", o.Seed, i)); err != nil {
			return res, err
		}
		if completed(final) || time.Now().After(deadline) {
			break
		}
		logf("final run %d: %s %s", i, strings.TrimPrefix(final.GetState().String(), "RUN_STATE_"), alertTexts(final))
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	logf("final run: %s %s %s", strings.TrimPrefix(final.GetState().String(), "RUN_STATE_"), counters(final), alerts(final))
	if res.Tally, err = world.Compare(ctx, c); err != nil {
		return res, err
	}
	res.Problems = c.LogProblems()
	if !completed(final) {
		res.Problems = append(res.Problems, "no undisturbed run completed after the campaign")
	}
	for _, e := range res.Examples {
		logf("  %s", e)
	}
	for _, p := range res.Problems {
		logf("  problem: %s", p)
	}
	logf("kills: %v (%d while a run was going); Libris holds %d requests", res.Killed, res.InRun, world.Revealed())
	return res, nil
}

// brief is a run's first alert, shortened for the cycle line.
func brief(r *harvesterv1.Run) string {
	a := alertTexts(r)
	if len(a) > 140 {
		a = a[:140] + "…"
	}
	return a
}

// runTime is how long a run took, by the harvester's clock.
func runTime(r *harvesterv1.Run) time.Duration {
	return r.GetEndTime().AsTime().Sub(r.GetStartTime().AsTime())
}

// importOnce starts a run and waits for its end.
func (c *Cluster) importOnce(ctx context.Context, requestID string) (*harvesterv1.Run, error) {
	name, err := c.StartRun(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return c.AwaitRun(ctx, name, runBound)
}

func completed(r *harvesterv1.Run) bool {
	s := r.GetState()
	return s == harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || s == harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS
}

func counters(r *harvesterv1.Run) string {
	c := r.GetCounters()
	return fmt.Sprintf("fetched=%d created=%d updated=%d unchanged=%d skipped=%d failed=%d",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
}

func alerts(r *harvesterv1.Run) string {
	var codes []string
	for _, a := range r.GetAlerts() {
		codes = append(codes, strings.TrimPrefix(a.GetCode().String(), "ALERT_CODE_"))
	}
	return strings.Join(codes, ",")
}

// dataDir returns dir, or a new temporary directory that cleanup removes.
func dataDir(dir, pattern string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o700)
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
