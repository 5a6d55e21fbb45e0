// Package cli is the `interloan` command: the all-in-one launcher today, the demo and the
// operator commands as they arrive.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/interloan/interloan/internal/demo"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/telemetry"
)

const usage = `interloan: interlibrary-loan borrowing requests, imported from Libris and Netpunkt.

Usage:
  interloan demo [flags]  fake Libris + the whole suite + one import run, with its report
  interloan up [flags]    run every service in one process (data in ./data)

Run "interloan <command> -h" for the flags.
`

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return up(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func up(args []string, stdout, stderr io.Writer) int {
	var cfg suite.Config
	set := config.New("interloan up")
	set.SetOutput(stderr)
	set.String(&cfg.DataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "directory for every service's bbolt file")
	set.String(&cfg.Host, "host", "INTERLOAN_HOST", "127.0.0.1", "interface to listen on (0.0.0.0 for all)")
	set.IntVar(&cfg.BasePort, "base-port", 9100, "gRPC ports are base+1..base+4 (profiles, mapping, harvester, requests), their HTTP ports +100")
	set.IntVar(&cfg.GatewayPort, "gateway-port", 8080, "REST gateway port")
	set.String(&cfg.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "credential encryption key file; with neither this nor --secret-key, <data-dir>/profiles-secret.key is created")
	set.Secret(&cfg.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "credential encryption key itself (prefer the file)")
	set.String(&cfg.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	if err := set.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	cfg.Ready = func(a suite.Addrs) {
		fmt.Fprintf(stdout, `Interloan is up (data in %s). Press Ctrl-C to stop.
  profiles  gRPC %s
  mapping   gRPC %s
  harvester gRPC %s
  requests  gRPC %s
  gateway   HTTP http://%s/healthz
Try: grpcurl -plaintext %s list
`, cfg.DataDir, a.Profiles, a.Mapping, a.Harvester, a.Requests, a.Gateway, a.Profiles)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := telemetry.Setup(ctx, "interloan")
	if err == nil {
		err = errors.Join(suite.Run(ctx, cfg), shutdown(context.Background()))
	}
	if err != nil {
		fmt.Fprintln(stderr, "interloan up:", err)
		return 1
	}
	return 0
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	var o demo.Options
	var seed int
	set := config.New("interloan demo")
	set.SetOutput(stderr)
	set.String(&o.DataDir, "data-dir", "INTERLOAN_DEMO_DATA_DIR", "", "directory for the services' bbolt files (default: a temporary directory removed on exit)")
	set.String(&o.Host, "host", "INTERLOAN_HOST", "127.0.0.1", "interface to listen on")
	set.IntVar(&o.BasePort, "base-port", 9100, "gRPC ports are base+1..base+4, as for `interloan up` (0: free ports)")
	set.IntVar(&o.GatewayPort, "gateway-port", 8080, "REST gateway port (0: a free port)")
	set.IntVar(&o.LibrisPort, "libris-port", 8089, "fake Libris HTTP port (0: a free port)")
	set.IntVar(&o.Count, "count", 200, "borrowing requests the fake Libris holds")
	set.IntVar(&o.Days, "days", 14, "spread the requests over the last N days")
	set.IntVar(&seed, "seed", 1, "seed of the generated data")
	set.BoolVar(&o.Exit, "exit", false, "stop after the report; exit 0 only if the run imported every request it fetched")
	set.String(&o.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "warn", "log level of the services: debug, info, warn, error")
	if err := set.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	o.Seed = int64(seed)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "interloan demo:", err)
		return 1
	}
	return 0
}
