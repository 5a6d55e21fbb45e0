// Command faults is `make faults`, the fault campaign of docs/robustness.md: one scenario
// per fault of Libris and of the suite, each checking the run's final state, alerts and
// counters, that nothing was lost or duplicated, and that the next run recovers. It
// prints a table and exits 1 on any unmet expectation.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/interloan/interloan/tools/campaign"
)

func main() {
	o := campaign.FaultsOptions{}
	only := flag.String("only", "", "comma-separated scenario names (default: all)")
	flag.BoolVar(&o.Quick, "quick", false, "leave out the slow scenarios (the 60s Libris timeout)")
	flag.Int64Var(&o.Seed, "seed", 0, "random seed of the data set (0: from the clock)")
	flag.StringVar(&o.Dir, "dir", "", "data directory (default: a temporary one, removed when the campaign passes)")
	list := flag.Bool("list", false, "list the scenarios and exit")
	flag.Parse()
	if *list {
		for _, s := range campaign.Scenarios() {
			fmt.Println(s.Name)
		}
		return
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1_000_000
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, o))
}

func run(ctx context.Context, o campaign.FaultsOptions) int {
	bin, remove, err := campaign.BuildTemp(ctx, "faults")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer remove()
	o.Bin = bin
	rows, err := campaign.Faults(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	for _, r := range rows {
		if r.Problem != "" {
			return 1
		}
	}
	fmt.Printf("scenarios=%d failed=0\n", len(rows))
	return 0
}
