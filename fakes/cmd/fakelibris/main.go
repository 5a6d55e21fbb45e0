// Command fakelibris serves a fake Libris ILL API with generated borrowing requests of one
// sigel, for demos and manual testing of the harvester. See package fakelibris.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/interloan/interloan/fakes/fakecmd"
	"github.com/interloan/interloan/fakes/fakelibris"
)

const demoKey = "demo-key"

func main() { fakecmd.Main("fakelibris", run) }

// run serves until ctx ends, then shuts down gracefully. Request headers (the api-key) are
// never logged.
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := fakecmd.NewFlagSet("fakelibris", logw)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address")
	sigel := fs.String("sigel", "Abc", "requesting library (case-sensitive sigel) whose requests are generated")
	key := fs.String("key", demoKey, "api-key header value accepted for --sigel")
	count := fs.Int("count", 200, "number of generated requests")
	days := fs.Int("days", 30, "order dates spread over the last N days, today included")
	lenders := fs.String("lenders", "Xyz,Qrs,Lkp", "comma-separated lender sigels")
	seed := fs.Int64("seed", 1, "generator seed")
	notFound := fs.Int("not-found-status", http.StatusNotFound, "HTTP status for an unknown id: 200, 400 or 404")
	maxRange := fs.Int("max-range-days", 0, "longest outgoing date range in days; 0 = unlimited")
	basePath := fs.String("base-path", fakelibris.DefaultBasePath, "path prefix of the API")
	if err := fakecmd.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case *sigel == "" || *key == "":
		return errors.New("--sigel and --key must not be empty")
	case *count < 0 || *days < 1 || *maxRange < 0:
		return errors.New("--count and --max-range-days must be >= 0, --days >= 1")
	case *notFound != 200 && *notFound != 400 && *notFound != 404:
		return fmt.Errorf("--not-found-status %d: want 200, 400 or 404", *notFound)
	}
	lenderList := fakecmd.List(*lenders)

	s := fakelibris.New(fakelibris.Options{BasePath: *basePath, NotFoundStatus: *notFound, MaxRangeDays: *maxRange})
	s.AddKey(*key, *sigel)
	s.AddLibraries(fakelibris.LibraryFor(*sigel))
	for _, l := range lenderList {
		s.AddLibraries(fakelibris.LibraryFor(l))
	}
	from, now := fakecmd.LastDays(*days)
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{
		Seed: *seed, Sigel: *sigel, Count: *count, From: from, To: now, Lenders: lenderList,
	})...)

	return fakecmd.Serve(ctx, *addr, s, func(addr net.Addr) {
		fmt.Fprintf(logw, "fakelibris: serving %d requests of %s ordered %s..%s at http://%s%s\n",
			s.Len(), *sigel, from.Format(time.DateOnly), now.Format(time.DateOnly), addr, s.BasePath())
		if *key == demoKey {
			// Printing is fine only because this is the well-known throwaway default.
			fmt.Fprintf(logw, "fakelibris: WARNING: accepting the demo api-key %q; pass --key for anything but a demo\n", demoKey)
		}
	})
}
