package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/platform/backup"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/tlsconfig"
	harvesterapp "github.com/interloan/interloan/services/harvester/app"
	mappingapp "github.com/interloan/interloan/services/mapping/app"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
	requestsapp "github.com/interloan/interloan/services/requests/app"
)

// dataService is a service with a data file: where it listens by default, how a backup
// replaces its file, and how a candidate file is proven (in restore's child process).
type dataService struct {
	port    int
	restore func(dataDir string, src io.Reader, verify func(path string) error, force bool) (int64, error)
	verify  func(path string) error
}

var dataServices = map[string]dataService{
	"profiles":  {profilesapp.DefaultGRPCPort, profilesapp.Restore, profilesapp.Verify},
	"mapping":   {mappingapp.DefaultGRPCPort, mappingapp.Restore, mappingapp.Verify},
	"harvester": {harvesterapp.DefaultGRPCPort, harvesterapp.Restore, harvesterapp.Verify},
	"requests":  {requestsapp.DefaultGRPCPort, requestsapp.Restore, requestsapp.Verify},
}

func serviceNames() string { return "profiles, mapping, harvester or requests" }

// backupCmd is `interloan backup`: a consistent snapshot of one service's data file,
// streamed over gRPC from the running service (admin token), verified against its
// checksum, to --out or stdout.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	var service, addr, out, token, tokenFile string
	var tlsCfg tlsconfig.Config
	set := config.New("interloan backup")
	set.SetOutput(stderr)
	set.StringVar(&service, "service", "", "the service to back up: "+serviceNames())
	set.String(&addr, "addr", "INTERLOAN_BACKUP_ADDR", "", "the service's gRPC address (default localhost:<its port>)")
	set.StringVar(&out, "out", "", "file to write (default stdout; on failure the file is removed)")
	set.String(&tokenFile, "token-file", "INTERLOAN_TOKEN_FILE", "", "file holding an admin bearer token")
	set.Secret(&token, "token", "INTERLOAN_TOKEN", "admin bearer token (prefer --token-file: a flag shows in the process list)")
	set.String(&tlsCfg.CAFile, "ca-file", "INTERLOAN_CA_FILE", "", "CA verifying the service's TLS certificate (interloan up: data/tls/ca.crt); TLS is off without it or --tls-cert")
	set.String(&tlsCfg.CertFile, "tls-cert", "INTERLOAN_TLS_CERT", "", "client certificate, for a service that requires one (mTLS)")
	set.String(&tlsCfg.KeyFile, "tls-key", "INTERLOAN_TLS_KEY", "", "key of --tls-cert")
	if code, ok := parse(set, args); !ok {
		return code
	}
	given := map[string]bool{}
	set.Visit(func(f *flag.Flag) { given[f.Name] = true })
	token, err := ctl.ChooseToken(given, token, tokenFile)
	svc, known := dataServices[service]
	if !known || set.NArg() > 0 || token == "" || err != nil {
		fmt.Fprintf(stderr, "interloan backup: --service (%s) and an admin token (--token-file or --token) are required, and nothing else (%v)\n", serviceNames(), err)
		return 2
	}
	if addr == "" {
		addr = fmt.Sprintf("localhost:%d", svc.port)
	}
	if out == "" && ctl.IsTerminal(stdout) {
		fmt.Fprintln(stderr, "interloan backup: refusing to write a binary snapshot to a terminal; use --out FILE or redirect stdout")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := fetchBackup(ctx, addr, token, tlsCfg, out, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "interloan backup:", err)
		return 1
	}
	fmt.Fprintf(stderr, "backed up %s: %d bytes, checksum verified\n", service, n)
	return 0
}

func fetchBackup(ctx context.Context, addr, token string, tlsCfg tlsconfig.Config, out string, stdout io.Writer) (n int64, err error) {
	conn, err := client.Dial(addr, tlsCfg, token, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(2*backup.ChunkSize)))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stream, err := adminv1.NewBackupServiceClient(conn).Backup(ctx, &adminv1.BackupRequest{})
	if err != nil {
		return 0, err
	}
	w := stdout
	if out != "" {
		f, ferr := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return 0, ferr
		}
		defer func() {
			if err == nil {
				err = f.Sync() // reported complete only once it is on disk
			}
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil { // the named result: whatever failed, Fetch or Close
				os.Remove(out) // an incomplete backup must not pass for one
			}
		}()
		w = f
	}
	return backup.Fetch(stream, w)
}
