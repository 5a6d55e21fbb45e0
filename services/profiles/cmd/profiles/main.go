// Command profiles serves the profiles service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/services/profiles/app"
)

func main() {
	var cfg app.Config
	set := config.New("profiles")
	cfg.Bind(set)
	if err := set.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
