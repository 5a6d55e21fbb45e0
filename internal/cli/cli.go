// Package cli is the `interloan` command: the all-in-one launcher (up), the demo, the
// token, key, backup, restore and certificate commands, and the operator commands of
// package ctl.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/internal/demo"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/telemetry"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
)

const usage = `interloan: interlibrary-loan borrowing requests, imported from Libris and Netpunkt.

Usage:
  interloan demo [flags]  fake Libris (or --system netpunkt) + the whole suite + an import run, with its report
  interloan up [flags]    run every service in one process (data in ./data)
  interloan token create --role ROLE[,ROLE] --principal NAME [--tokens-file data/tokens]
                          create a bearer token: printed once, its hash added to the file
  interloan keys new --out FILE
                          create a credential encryption key file (0600; never overwrites)
  interloan keys rotate --secret-key-file NEW --previous-secret-key-files OLD[,OLD2] [--data-dir data]
                          re-encrypt every profile API key under NEW (profiles service stopped)
  interloan backup --service SVC --token-file F [--addr HOST:PORT] [--ca-file CA] [--out FILE]
                          stream a consistent snapshot of a running service's data file (admin)
  interloan restore --service SVC [--data-dir data] [--in FILE] [--force]
                          replace a stopped service's data file with a backup (checked first)
  interloan certs create --dir DIR [--hosts H1,H2] [--namespace NS] [--valid 2160h]
                          a throw-away CA and one TLS certificate per service (dev clusters, tests)

` + ctl.Usage + `
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
	case "token":
		return token(args[1:], stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	case "certs":
		return certs(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "profiles", "import", "runs", "requests", "mappings", "partners":
		return ctl.Main(args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// receiptsLine says where Netpunkt posts receipts to the all-in-one.
func receiptsLine(lis net.Listener, scheme string) string {
	if lis == nil {
		return "off (--receipt-port -1)"
	}
	return scheme + "://" + lis.Addr().String() + "/netpunkt/receipts/{profile}"
}

func up(args []string, stdout, stderr io.Writer) int {
	var cfg suite.Config
	set := config.New("interloan up")
	set.SetOutput(stderr)
	set.String(&cfg.DataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "directory for every service's bbolt file")
	set.String(&cfg.Host, "host", "INTERLOAN_HOST", "127.0.0.1", "interface to listen on (0.0.0.0 for all)")
	set.Int(&cfg.BasePort, "base-port", "INTERLOAN_BASE_PORT", 9100, "gRPC ports are base+1..base+4 (profiles, mapping, harvester, requests), their HTTP ports +100")
	set.Int(&cfg.GatewayPort, "gateway-port", "INTERLOAN_GATEWAY_PORT", 8080, "REST gateway port")
	set.String(&cfg.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "credential encryption key file; with neither this nor --secret-key, <data-dir>/profiles-secret.key is created")
	set.Secret(&cfg.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "credential encryption key itself (prefer the file)")
	set.String(&cfg.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	set.String(&cfg.TokensFile, "tokens-file", "INTERLOAN_TOKENS_FILE", "", "bearer-token file of every service (default <data-dir>/tokens, created with an admin token in <data-dir>/admin.token)")
	set.String(&cfg.ServiceTokenFile, "service-token-file", "INTERLOAN_SERVICE_TOKEN_FILE", "", "the harvester's token file (default without TLS: <data-dir>/harvester.token, created when missing; with TLS its certificate authenticates it)")
	set.Bool(&cfg.TLS, "tls", "INTERLOAN_TLS", true, "TLS on every listener and mTLS between the services, with a throw-away CA created in <data-dir>/tls at each start")
	set.String(&cfg.AllowedHosts, "allowed-hosts", "INTERLOAN_ALLOWED_HOSTS", "", "the harvester's --allowed-hosts: comma-separated hosts external systems may be called on (exact, or *.domain); empty allows any host")
	set.Bool(&cfg.AllowPrivateNetworks, "allow-private-networks", "INTERLOAN_ALLOW_PRIVATE_NETWORKS", false, "the harvester's --allow-private-networks: let external systems be called on loopback, private and link-local addresses (development and fakes only)")
	set.String(&cfg.CORSAllowedOrigins, "cors-allowed-origins", "INTERLOAN_CORS_ALLOWED_ORIGINS", "", "the gateway's --cors-allowed-origins: comma-separated origins (scheme://host[:port]) browsers may call the REST API from; empty: no CORS")
	var receiptPort int
	set.Int(&receiptPort, "receipt-port", "INTERLOAN_RECEIPT_PORT", 9190, "the harvester's listener for Netpunkt's pushed receipts (POST /netpunkt/receipts/{profile}); -1 disables")
	if code, ok := parse(set, args); !ok {
		return code
	}
	if receiptPort >= 0 {
		lis, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, fmt.Sprint(receiptPort)))
		if err != nil {
			fmt.Fprintln(stderr, "interloan up: receipt listener:", err)
			return 1
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
Every call needs a bearer token (tokens file %s); %s.
Try: %s -H "authorization: Bearer $(cat %s)" %s list
`, cfg.DataDir, a.Profiles, a.Mapping, a.Harvester, a.Requests, scheme, a.Gateway, receiptsLine(cfg.ReceiptListener, scheme), a.TokensFile, admin, grpcurl, orPlaceholder(a.AdminTokenFile), a.Profiles)
	}
	logging.CaptureLibraries(logging.New(nil, "interloan", cfg.LogLevel))
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
	set.StringVar(&o.System, "system", demo.SystemLibris, "external system to import from: libris, or netpunkt (pull, then pushed receipts)")
	set.IntVar(&o.NetpunktPort, "netpunkt-port", 8090, "fake Netpunkt HTTP port, with --system netpunkt (0: a free port)")
	set.IntVar(&o.ReceiptPort, "receipt-port", 9190, "the harvester's receipt listener, with --system netpunkt (0: a free port)")
	set.IntVar(&o.Count, "count", 200, "borrowing requests the fake Libris holds")
	set.IntVar(&o.Days, "days", 14, "spread the requests over the last N days")
	set.IntVar(&seed, "seed", 1, "seed of the generated data")
	set.BoolVar(&o.Exit, "exit", false, "stop after the report; exit 0 only if the run imported every request it fetched")
	set.Bool(&o.TLS, "tls", "INTERLOAN_TLS", true, "TLS on every listener and mTLS between the services, with a throw-away CA")
	set.String(&o.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "warn", "log level of the services: debug, info, warn, error")
	if code, ok := parse(set, args); !ok {
		return code
	}
	o.Seed = int64(seed)
	o.Self = selfCommand()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "interloan demo:", err)
		return 1
	}
	return 0
}

// parse parses args into set. When ok is false the command ends with code: 0 after -h,
// 2 after a flag or environment error, which set has already printed.
func parse(set *config.Set, args []string) (code int, ok bool) {
	switch err := set.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	case err != nil:
		return 2, false
	}
	return 0, true
}

func orPlaceholder(file string) string {
	if file == "" {
		return "TOKEN-FILE"
	}
	return file
}

// token is `interloan token create`: the token goes to stdout once, only its hash to the
// file; services watching the file accept it within seconds.
func token(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] != "create" {
		fmt.Fprint(stderr, "usage: interloan token create --role ROLE[,ROLE] --principal NAME [--tokens-file data/tokens]\n")
		return 2
	}
	var roles, principal, file string
	set := config.New("interloan token create")
	set.SetOutput(stderr)
	set.StringVar(&roles, "role", "", "roles, comma-separated: admin, operator, viewer, harvester")
	set.StringVar(&principal, "principal", "", "who the token is for (a person or service name; appears in logs and run history)")
	set.String(&file, "tokens-file", "INTERLOAN_TOKENS_FILE", "data/tokens", "tokens file to add the token's hash to (created if missing)")
	if code, ok := parse(set, args[1:]); !ok {
		return code
	}
	tok, err := CreateToken(file, principal, roles)
	if err != nil {
		fmt.Fprintln(stderr, "interloan token create:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "Token for %s (%s) added to %s; it is shown only now. Send it as `Authorization: Bearer <token>`.\n", principal, roles, file)
	return 0
}

// CreateToken creates a token for principal with the comma-separated roles, adds its
// hash to tokensFile and returns it (what `interloan token create` does).
func CreateToken(tokensFile, principal, roles string) (string, error) {
	rs, err := auth.ParseRoles(roles)
	if err != nil {
		return "", fmt.Errorf("--role: %w", err)
	}
	if principal == "" {
		return "", errors.New("--principal is required")
	}
	if err := os.MkdirAll(filepath.Dir(tokensFile), 0o700); err != nil {
		return "", err
	}
	return suite.CreateToken(tokensFile, "", principal, rs...)
}

const keysUsage = `usage:
  interloan keys new --out FILE
  interloan keys rotate --secret-key-file NEW --previous-secret-key-files OLD[,OLD2] [--data-dir data]
`

// keys is `interloan keys new|rotate`: the credential encryption keys of the profiles
// service. Rotation is an offline operation on the profiles bbolt file, so it needs no
// RPC, no token and no key-handling code in a running service.
func keys(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	switch args[0] {
	case "new":
		return keysNew(args[1:], stdout, stderr)
	case "rotate":
		return keysRotate(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unknown keys command %q\n%s", args[0], keysUsage)
		return 2
	}
}

// certs is `interloan certs create`: pki.WriteSuite for a directory, with the service
// names of a Kubernetes namespace when given.
func certs(args []string, stdout, stderr io.Writer) int {
	const certsUsage = "usage: interloan certs create --dir DIR [--hosts H1,H2] [--namespace NS] [--valid 2160h]\n"
	if len(args) < 1 || args[0] != "create" {
		fmt.Fprint(stderr, certsUsage)
		return 2
	}
	var dir, hosts, namespace string
	var valid time.Duration
	set := config.New("interloan certs create")
	set.SetOutput(stderr)
	set.StringVar(&dir, "dir", "", "directory to write ca.crt and <service>.crt/.key to (keys 0600)")
	set.StringVar(&hosts, "hosts", "localhost,127.0.0.1,::1", "comma-separated host names and IPs every certificate is valid for")
	set.StringVar(&namespace, "namespace", "", "Kubernetes namespace: each service's certificate is also valid for <service>, <service>.NS, <service>.NS.svc and <service>.NS.svc.cluster.local")
	set.DurationVar(&valid, "valid", 90*24*time.Hour, "validity of the CA and the certificates")
	if code, ok := parse(set, args[1:]); !ok {
		return code
	}
	if dir == "" || set.NArg() > 0 || valid <= 0 {
		fmt.Fprint(stderr, certsUsage)
		return 2
	}
	ids := pki.SuiteIdentities()
	for i := range ids {
		ids[i].Hosts = append(ids[i].Hosts, ids[i].Name)
		if namespace != "" {
			n := ids[i].Name + "." + namespace
			ids[i].Hosts = append(ids[i].Hosts, n, n+".svc", n+".svc.cluster.local")
		}
	}
	files, err := pki.WriteSuite(dir, ids, strings.Split(hosts, ","), valid)
	if err != nil {
		fmt.Fprintln(stderr, "interloan certs create:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote CA %s and certificates for %d services to %s (the CA key was not kept)\n", files.CA, len(files.Cert), dir)
	return 0
}

func keysNew(args []string, stdout, stderr io.Writer) int {
	var out string
	set := config.New("interloan keys new")
	set.SetOutput(stderr)
	set.StringVar(&out, "out", "", "file to write the new key to (mode 0600; must not exist)")
	if code, ok := parse(set, args); !ok {
		return code
	}
	if out == "" || set.NArg() > 0 {
		fmt.Fprint(stderr, "interloan keys new: --out FILE is required (and nothing else)\n")
		return 2
	}
	id, err := profilesapp.NewKeyFile(out)
	if err != nil {
		fmt.Fprintln(stderr, "interloan keys new:", err)
		return 1
	}
	// The key id, never the key: stdout may be a log.
	fmt.Fprintf(stdout, "wrote key %s to %s\n", id, out)
	return 0
}

func keysRotate(args []string, stdout, stderr io.Writer) int {
	var cfg profilesapp.RotateConfig
	set := config.New("interloan keys rotate")
	set.SetOutput(stderr)
	set.String(&cfg.DataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "directory holding profiles.db (the profiles service must be stopped)")
	set.String(&cfg.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "the new key file: every secret is re-encrypted under it")
	set.Secret(&cfg.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "the new key itself (prefer the file)")
	set.String(&cfg.PreviousSecretKeyFiles, "previous-secret-key-files", "INTERLOAN_PREVIOUS_SECRET_KEY_FILES", "", "comma-separated files of the keys secrets may still be sealed with")
	if code, ok := parse(set, args); !ok {
		return code
	}
	if cfg.SecretKeyFile == "" && cfg.SecretKey == "" || set.NArg() > 0 {
		fmt.Fprint(stderr, "interloan keys rotate: --secret-key-file NEW is required (and no arguments)\n")
		return 2
	}
	// Ctrl-C before the commit rolls the transaction back: all or nothing still holds.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := profilesapp.RotateKeys(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "interloan keys rotate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "every secret is now under key %s: %d re-encrypted, %d already current, 0 undecryptable\n",
		rep.KeyID, rep.Reencrypted, rep.Current)
	return 0
}
