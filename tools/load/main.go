// Command load is `make load`: sustained mixed traffic on a whole suite on loopback for a
// bounded time — REST reads through the gateway (vegeta), gRPC list calls on the ledger
// (ghz), request actions, and an import run going on meanwhile — then one line of
// throughput, p50/p99 and errors per kind of traffic. It exits non-zero on any error:
// under load nothing may fail.
//
// The load tools are real ones, installed by the make target (`go install`), not by hand:
// vegeta for HTTP, ghz for gRPC. This program starts the suite (internal/testenv: fake
// Libris, the whole suite with TLS, a seeded profile), fills the ledger with one
// import, drives the tools and the Go traffic side by side, and reads the tools' JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Options are the flags.
type Options struct {
	Duration    time.Duration
	Requests    int // requests in the ledger (one import)
	Concurrency int // workers of each kind of traffic
	Ghz, Vegeta string
	JSON        string // also write the figures here
}

func main() {
	var o Options
	flag.DurationVar(&o.Duration, "duration", 30*time.Second, "how long the mixed traffic lasts")
	flag.IntVar(&o.Requests, "requests", 20000, "borrowing requests imported before the load starts")
	flag.IntVar(&o.Concurrency, "concurrency", 8, "concurrent workers of each kind of traffic")
	flag.StringVar(&o.Ghz, "ghz", "ghz", "path of the ghz binary (make load installs it)")
	flag.StringVar(&o.Vegeta, "vegeta", "vegeta", "path of the vegeta binary (make load installs it)")
	flag.StringVar(&o.JSON, "json", "", "also write the figures to this JSON file")
	flag.Parse()
	if o.Duration <= 0 || o.Requests <= 0 || o.Concurrency <= 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "load: -duration, -requests and -concurrency must be positive, and no arguments")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		if errors.Is(err, errTrafficFailed) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

// errTrafficFailed marks a load that ran but saw errors.
var errTrafficFailed = errors.New("some calls failed under load")

// log writes progress to stderr; the figures go to stdout.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "load: "+format+"\n", args...)
}
