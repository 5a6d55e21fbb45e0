// Command chaos is `make chaos`, the crash campaign of docs/robustness.md: the five
// services as separate processes, a random one SIGKILLed at a random moment of an import,
// restarted, and at the end the ledger compared with the fake Libris. It prints
// `cycles=N lost=0 duplicated=0 mismatched=0` and exits 1 when anything was lost,
// duplicated, mismatched, or a service panicked.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/interloan/interloan/tools/campaign"
)

func main() {
	o := campaign.ChaosOptions{}
	flag.IntVar(&o.Cycles, "cycles", 20, "kill/restart cycles")
	flag.Int64Var(&o.Seed, "seed", 0, "random seed (0: from the clock); printed, so a failing campaign can be rerun")
	flag.IntVar(&o.Initial, "initial", 600, "requests in Libris before the first cycle")
	flag.IntVar(&o.Grow, "grow", 60, "requests that appear in Libris each cycle")
	flag.IntVar(&o.Churn, "churn", 40, "requests Libris changes (status, last_modified) each cycle")
	flag.StringVar(&o.Dir, "dir", "", "data directory (default: a temporary one, removed when the campaign passes)")
	flag.Parse()
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1_000_000
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, o))
}

func run(ctx context.Context, o campaign.ChaosOptions) int {
	bin, remove, err := campaign.BuildTemp(ctx, "chaos")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer remove()
	o.Bin = bin
	res, err := campaign.Chaos(ctx, o, os.Stdout)
	fmt.Printf("seed=%d cycles=%d %s\n", o.Seed, res.Cycles, res.Tally)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	if !res.OK() {
		return 1
	}
	return 0
}
