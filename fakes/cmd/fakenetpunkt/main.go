// Command fakenetpunkt serves a fake of DBC's OpenFindOrder with generated orders of one
// agency, for demos and manual testing of the harvester's Netpunkt connector. See package
// fakenetpunkt.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/interloan/interloan/fakes/fakecmd"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

const demoPassword = "demo-password"

func main() { fakecmd.Main("fakenetpunkt", run) }

// run serves until ctx ends, then shuts down gracefully. Request bodies (the password)
// are never logged.
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := fakecmd.NewFlagSet("fakenetpunkt", logw)
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
	if err := fakecmd.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case *agency == "" || *password == "":
		return errors.New("--agency and --password must not be empty")
	case *count < 0 || *days < 1:
		return errors.New("--count must be >= 0 and --days >= 1")
	}
	lenderList := fakecmd.List(*lenders)
	s := fakenetpunkt.New(fakenetpunkt.Options{BasePath: *basePath})
	s.AddCredential(fakenetpunkt.Credential{User: *user, Group: *group, Password: *password}, *agency)
	from, now := fakecmd.LastDays(*days)
	s.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: *seed, Agency: *agency, Count: *count, From: from, To: now, Lenders: lenderList})...)

	return fakecmd.Serve(ctx, *addr, s, func(addr net.Addr) {
		fmt.Fprintf(logw, "fakenetpunkt: serving %d orders of %s created %s..%s at http://%s%s\n",
			*count, *agency, from.Format(time.DateOnly), now.Format(time.DateOnly), addr, s.BasePath())
		if *password == demoPassword {
			// Printing is fine only because this is the well-known throwaway default.
			fmt.Fprintf(logw, "fakenetpunkt: WARNING: accepting the demo password %q; pass --password for anything but a demo\n", demoPassword)
		}
	})
}
