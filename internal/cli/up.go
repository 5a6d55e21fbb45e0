package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/telemetry"
)

// upCommand is `interloan up`: every service in one process.
func upCommand() *cobra.Command {
	var cfg suite.Config
	var receiptPort int
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run every service in one process (data in ./data)",
		Long: "Run the whole suite in one process: profiles, mapping, harvester, requests, the REST gateway and the staff console, each\n" +
			"on its own port, talking to each other over loopback gRPC as a cluster would. TLS and mTLS are on by\n" +
			"default with a throw-away CA in <data-dir>/tls; an admin token is left in <data-dir>/admin.token.",
		Args: ctl.NoArgs,
	}
	set := config.New("interloan up")
	set.String(&cfg.DataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "directory for every service's bbolt file")
	set.String(&cfg.Host, "host", "INTERLOAN_HOST", "127.0.0.1", "interface to listen on (0.0.0.0 for all)")
	set.Int(&cfg.BasePort, "base-port", "INTERLOAN_BASE_PORT", 9100, "gRPC ports are base+1..base+4 (profiles, mapping, harvester, requests), their HTTP ports +100")
	set.Int(&cfg.GatewayPort, "gateway-port", "INTERLOAN_GATEWAY_PORT", 8080, "REST gateway port")
	set.Int(&cfg.ConsolePort, "console-port", "INTERLOAN_CONSOLE_PORT", 8081, "staff console port")
	set.String(&cfg.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "credential encryption key file; with neither this nor --secret-key, <data-dir>/profiles-secret.key is created")
	set.Secret(&cfg.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "credential encryption key itself (prefer the file)")
	set.String(&cfg.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	set.String(&cfg.TokensFile, "tokens-file", "INTERLOAN_TOKENS_FILE", "", "bearer-token file of every service (default <data-dir>/tokens, created with an admin token in <data-dir>/admin.token)")
	set.String(&cfg.ServiceTokenFile, "service-token-file", "INTERLOAN_SERVICE_TOKEN_FILE", "", "the harvester's token file (default without TLS: <data-dir>/harvester.token, created when missing; with TLS its certificate authenticates it)")
	set.Bool(&cfg.TLS, "tls", "INTERLOAN_TLS", true, "TLS on every listener and mTLS between the services, with a throw-away CA created in <data-dir>/tls at each start")
	set.String(&cfg.AllowedHosts, "allowed-hosts", "INTERLOAN_ALLOWED_HOSTS", "", "the harvester's --allowed-hosts: comma-separated hosts external systems may be called on (exact, or *.domain); empty allows any host")
	set.Bool(&cfg.AllowPrivateNetworks, "allow-private-networks", "INTERLOAN_ALLOW_PRIVATE_NETWORKS", false, "the harvester's --allow-private-networks: let external systems be called on loopback, private and link-local addresses (development and fakes only)")
	set.String(&cfg.CORSAllowedOrigins, "cors-allowed-origins", "INTERLOAN_CORS_ALLOWED_ORIGINS", "", "the gateway's --cors-allowed-origins: comma-separated origins (scheme://host[:port]) browsers may call the REST API from; empty: no CORS")
	set.Int(&receiptPort, "receipt-port", "INTERLOAN_RECEIPT_PORT", 9190, "the harvester's listener for Netpunkt's pushed receipts (POST /netpunkt/receipts/{profile}); -1 disables")
	ctl.BindEnv(cmd.Flags(), set, nil)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return up(cmd.Context(), cfg, receiptPort, cmd.OutOrStdout())
	}
	return cmd
}

func up(ctx context.Context, cfg suite.Config, receiptPort int, stdout io.Writer) error {
	if receiptPort >= 0 {
		lis, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, fmt.Sprint(receiptPort)))
		if err != nil {
			return fmt.Errorf("receipt listener: %w", err)
		}
		defer lis.Close() // the harvester closes it too; this covers a suite that never started
		cfg.ReceiptListener = lis
	}
	cfg.Ready = func(a suite.Addrs) {
		// Where the token is, never the token: stdout may be a log.
		admin := "an admin token: " + selfCommand() + " token create --role admin --principal NAME --tokens-file " + a.TokensFile
		if a.AdminTokenFile != "" {
			admin = "the admin token is in " + a.AdminTokenFile
		}
		scheme, grpcurl := "http", "grpcurl -plaintext"
		if a.CAFile != "" {
			scheme, grpcurl = "https", "grpcurl -cacert "+a.CAFile
		}
		fmt.Fprintf(stdout, `Interloan is up (data in %s). Press Ctrl-C to stop.
  profiles  gRPC %s
  mapping   gRPC %s
  harvester gRPC %s
  requests  gRPC %s
  gateway   %s://%s/healthz
  receipts  %s
Staff console: %s/ (sign in with a token). %s
Every call needs a bearer token (tokens file %s); %s.
Try: %s -H "authorization: Bearer $(cat %s)" %s list
`, cfg.DataDir, a.Profiles, a.Mapping, a.Harvester, a.Requests, scheme, a.Gateway, receiptsLine(cfg.ReceiptListener, scheme), a.ConsoleURL(), a.BrowserNote(),
			a.TokensFile, admin, grpcurl, orPlaceholder(a.AdminTokenFile), a.Profiles)
	}
	server.TuneGC()
	logging.CaptureLibraries(logging.New(nil, "interloan", cfg.LogLevel))
	shutdown, err := telemetry.Setup(ctx, "interloan")
	if err != nil {
		return err
	}
	return errors.Join(suite.Run(ctx, cfg), shutdown(context.Background()))
}

// receiptsLine says where Netpunkt posts receipts to the all-in-one.
func receiptsLine(lis net.Listener, scheme string) string {
	if lis == nil {
		return "off (--receipt-port -1)"
	}
	return scheme + "://" + lis.Addr().String() + "/netpunkt/receipts/{profile}"
}

func orPlaceholder(file string) string {
	if file == "" {
		return "TOKEN-FILE"
	}
	return file
}
