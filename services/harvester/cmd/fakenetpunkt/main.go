// Command fakenetpunkt serves a fake of DBC's OpenFindOrder with generated orders of one
// agency, for demos and manual testing of the harvester's Netpunkt connector. See package
// fakenetpunkt.
package main

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

	"github.com/interloan/interloan/services/harvester/fakenetpunkt"
)

const demoPassword = "demo-password"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "fakenetpunkt:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully. Request bodies (the password)
// are never logged.
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("fakenetpunkt", flag.ContinueOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	agency := fs.String("agency", "DK-775100", "requesting agency (DK-nnnnnn or six digits) whose orders are generated")
	user := fs.String("user", "netpunkt", "DBC user (userIdAut) accepted")
	group := fs.String("group", "775100", "DBC group (groupIdAut) accepted")
	password := fs.String("password", demoPassword, "DBC password (passwordAut) accepted")
	count := fs.Int("count", 200, "number of generated orders")
	days := fs.Int("days", 30, "creation dates spread over the last N days, today included")
	lenders := fs.String("lenders", "DK-710100,DK-715700", "comma-separated responder agencies")
	seed := fs.Uint64("seed", 1, "generator seed")
	basePath := fs.String("base-path", fakenetpunkt.DefaultBasePath, "path of the service")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *agency == "" || *password == "":
		return errors.New("--agency and --password must not be empty")
	case *count < 0 || *days < 1:
		return errors.New("--count must be >= 0 and --days >= 1")
	}
	var lenderList []string
	for _, l := range strings.Split(*lenders, ",") {
		if l = strings.TrimSpace(l); l != "" {
			lenderList = append(lenderList, l)
		}
	}
	s := fakenetpunkt.New(fakenetpunkt.Options{BasePath: *basePath})
	s.AddCredential(fakenetpunkt.Credential{User: *user, Group: *group, Password: *password}, *agency)
	now := time.Now()
	from := now.AddDate(0, 0, -(*days - 1))
	s.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: *seed, Agency: *agency, Count: *count, From: from, To: now, Lenders: lenderList})...)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(logw, "fakenetpunkt: serving %d orders of %s created %s..%s at http://%s%s\n",
		*count, *agency, from.Format(time.DateOnly), now.Format(time.DateOnly), ln.Addr(), s.BasePath())
	if *password == demoPassword {
		// Printing is fine only because this is the well-known throwaway default.
		fmt.Fprintf(logw, "fakenetpunkt: WARNING: accepting the demo password %q; pass --password for anything but a demo\n", demoPassword)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
