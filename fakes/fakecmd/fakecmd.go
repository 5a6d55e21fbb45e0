// Package fakecmd is the plumbing the fake servers' commands (fakes/cmd/fakelibris,
// fakes/cmd/fakenetpunkt) share: exiting on a signal or a bad flag, listening, serving until the
// context ends and shutting down gracefully.
package fakecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/interloan/interloan/platform/httpserve"
)

// Run is a command's body: serve until ctx ends, parsing args and writing its log to logw.
type Run func(ctx context.Context, args []string, logw io.Writer) error

// Main runs run with the process's arguments until SIGINT or SIGTERM, and exits 1 with
// the error (prefixed with name) when it fails; -help is not a failure.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// NewFlagSet returns the flag set of command name: usage and errors go to logw, and a bad
// flag is returned by Parse rather than exiting.
func NewFlagSet(name string, logw io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(logw)
	return fs
}

// Parse parses args and refuses positional arguments: a fake takes flags only.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// LastDays spans the last days days, today included, ending now: the dates the fakes
// spread their generated requests over.
func LastDays(days int) (from, now time.Time) {
	now = time.Now()
	return now.AddDate(0, 0, -(days - 1)), now
}

// Serve listens on addr, calls started with the bound address (for the start line of the
// log; addr may have port 0), and serves h until ctx ends, then shuts down gracefully,
// giving calls in flight 5 seconds.
func Serve(ctx context.Context, addr string, h http.Handler, started func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	started(ln.Addr())
	return httpserve.Run(ctx, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln, 5*time.Second)
}

// List splits a comma-separated flag value, dropping blanks.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
