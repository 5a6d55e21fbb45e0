package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/telemetry"
)

// Main is the body of every service binary's main: bind flags (with env fallbacks),
// parse them, send the libraries' logs to the JSON log, set up tracing from the
// environment, run until SIGINT/SIGTERM, and exit non-zero on failure.
func Main(name string, bind func(*config.Set), run func(context.Context) error) {
	TuneGC()
	set := config.New(name)
	bind(set)
	if err := set.Parse(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		os.Exit(2)
	}
	logging.CaptureLibraries(logging.New(nil, name, os.Getenv("INTERLOAN_LOG_LEVEL")))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := telemetry.Setup(ctx, name)
	if err == nil {
		err = run(ctx)
		err = errors.Join(err, shutdown(context.Background()))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // services prefix their own errors with their name
		os.Exit(1)
	}
}
