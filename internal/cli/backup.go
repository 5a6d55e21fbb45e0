package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
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

// backupCommand is `interloan backup`: a consistent snapshot of one service's data
// file, streamed over gRPC from the running service (admin token), verified against its
// checksum, to --out or stdout.
func backupCommand() *cobra.Command {
	var service, addr, out, token, tokenFile string
	var tlsCfg tlsconfig.Config
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Stream a consistent snapshot of a running service's data file (admin)",
		Long: "Stream a consistent snapshot of a running service's data file over gRPC (admin token), verified\n" +
			"against the checksum the service sends, to --out or stdout.",
		Example: "  interloan backup --service requests --token-file data/admin.token --ca-file data/tls/ca.crt --out requests.backup",
		Args:    ctl.NoArgs,
	}
	ctl.Annotate(cmd, adminv1.BackupService_Backup_FullMethodName)
	set := config.New("interloan backup")
	set.StringVar(&service, "service", "", "the service to back up: "+serviceNames())
	set.String(&addr, "addr", "INTERLOAN_BACKUP_ADDR", "", "the service's gRPC address (default localhost:<its port>)")
	set.StringVar(&out, "out", "", "file to write (default stdout; on failure the file is removed)")
	set.String(&tokenFile, "token-file", "INTERLOAN_TOKEN_FILE", "", "file holding an admin bearer token")
	set.Secret(&token, "token", "INTERLOAN_TOKEN", "admin bearer token (prefer --token-file: a flag shows in the process list)")
	set.String(&tlsCfg.CAFile, "ca-file", "INTERLOAN_CA_FILE", "", "CA verifying the service's TLS certificate (interloan up: data/tls/ca.crt); TLS is off without it or --tls-cert")
	set.String(&tlsCfg.CertFile, "tls-cert", "INTERLOAN_TLS_CERT", "", "client certificate, for a service that requires one (mTLS)")
	set.String(&tlsCfg.KeyFile, "tls-key", "INTERLOAN_TLS_KEY", "", "key of --tls-cert")
	ctl.BindEnv(cmd.Flags(), set, nil)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		given := func(name string) bool { return cmd.Flags().Changed(name) }
		token, err := ctl.ChooseToken(given, token, tokenFile)
		svc, known := dataServices[service]
		if !known || token == "" || err != nil {
			return ctl.Usagef("--service (%s) and an admin token (--token-file or --token) are required (%v)", serviceNames(), err)
		}
		if addr == "" {
			addr = fmt.Sprintf("localhost:%d", svc.port)
		}
		stdout := cmd.OutOrStdout()
		if out == "" && ctl.IsTerminal(stdout) {
			return ctl.Usagef("refusing to write a binary snapshot to a terminal; use --out FILE or redirect stdout")
		}
		n, err := fetchBackup(cmd.Context(), addr, token, tlsCfg, out, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "backed up %s: %d bytes, checksum verified\n", service, n)
		return nil
	}
	return cmd
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
