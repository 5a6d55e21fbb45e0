package server

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/interloan/interloan/platform/config"
)

// Main is the body of every service binary's main: bind flags (with env fallbacks),
// parse them, run until SIGINT/SIGTERM, and exit non-zero on failure.
func Main(name string, bind func(*config.Set), run func(context.Context) error) {
	set := config.New(name)
	bind(set)
	if err := set.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
