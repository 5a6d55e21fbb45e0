package cli

import (
	"github.com/spf13/cobra"

	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/internal/demo"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
)

// demoCommand is `interloan demo`: a fake external system, the whole suite and one
// import run with its report.
func demoCommand() *cobra.Command {
	var o demo.Options
	var seed int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fake Libris (or --system netpunkt) + the whole suite + an import run, with its report",
		Long: "Start a fake Libris (or Netpunkt) with generated borrowing requests, the whole suite, a profile for it\n" +
			"and one import run; print the run's report and how to explore the running suite, until Ctrl-C\n" +
			"(or, with --exit, stop after the report).",
		Args: ctl.NoArgs,
	}
	set := config.New("interloan demo")
	set.String(&o.DataDir, "data-dir", "INTERLOAN_DEMO_DATA_DIR", "", "directory for the services' bbolt files (default: a temporary directory removed on exit)")
	set.String(&o.Host, "host", "INTERLOAN_HOST", "127.0.0.1", "interface to listen on")
	set.IntVar(&o.BasePort, "base-port", 9100, "gRPC ports are base+1..base+4, as for `interloan up` (0: free ports)")
	set.IntVar(&o.GatewayPort, "gateway-port", 8080, "REST gateway port (0: a free port)")
	set.IntVar(&o.ConsolePort, "console-port", 8081, "staff console port (0: a free port)")
	set.IntVar(&o.LibrisPort, "libris-port", 8089, "fake Libris HTTP port (0: a free port)")
	set.StringVar(&o.System, "system", demo.SystemLibris, "external system to import from: libris, or netpunkt (pull, then pushed receipts)")
	set.IntVar(&o.NetpunktPort, "netpunkt-port", 8090, "fake Netpunkt HTTP port, with --system netpunkt (0: a free port)")
	set.IntVar(&o.ReceiptPort, "receipt-port", 9190, "the harvester's receipt listener, with --system netpunkt (0: a free port)")
	set.IntVar(&o.Count, "count", 200, "borrowing requests the fake Libris holds")
	set.IntVar(&o.Days, "days", 14, "spread the requests over the last N days")
	set.IntVar(&seed, "seed", 1, "seed of the generated data")
	set.BoolVar(&o.Exit, "exit", false, "stop after the report; exit 0 only if the run imported every request it fetched")
	set.Bool(&o.TLS, "tls", "INTERLOAN_TLS", true, "TLS on every listener and mTLS between the services, with a throw-away CA")
	set.String(&o.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "warn", "log level of the services: debug, info, warn, error")
	ctl.BindEnv(cmd.Flags(), set, nil)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.Seed = int64(seed)
		o.Self = selfCommand()
		server.TuneGC()
		return demo.Run(cmd.Context(), o, cmd.OutOrStdout())
	}
	return cmd
}
