// Package cli is the `interloan` command: the all-in-one launcher (up), the demo, the
// token, key, backup, restore and certificate commands, version and shell completion,
// and the operator commands of package ctl, in one cobra command tree (NewCommand).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/version"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
)

const long = `Interloan imports interlibrary-loan borrowing requests from Libris (Sweden) and
Netpunkt (Denmark) into a request ledger. This one command runs the whole suite (up),
a demo of it (demo), the administration tasks that need no running service (token,
keys, certs, restore), and, like etcdctl, the operator's client: every public RPC of
the suite through the REST gateway (profiles, libraries, mappings, partners, import,
runs, parked, jobs, requests, audit), plus backup and whoami over gRPC.

Operator commands print tables, or the API's own JSON with -o json (yaml); they read
--server, --token-file and --ca-file from INTERLOAN_SERVER, INTERLOAN_TOKEN_FILE and
INTERLOAN_CA_FILE. ` + ctl.ExitCodes

// NewCommand is the whole `interloan` command tree.
func NewCommand() *cobra.Command {
	root := ctl.NewRoot("Interlibrary-loan borrowing requests, imported from Libris and Netpunkt", long)
	root.AddCommand(upCommand(), demoCommand(), tokenCommand(), keysCommand(), certsCommand(),
		backupCommand(), restoreCommand(), versionCommand())
	ctl.Register(root)
	ctl.Finish(root)
	return root
}

// Main runs the command line and returns the process exit code. Ctrl-C (or SIGTERM)
// cancels the command's context: up and demo stop their services, a watch stops
// watching.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ctl.Execute(ctx, NewCommand(), args, os.Stdin, stdout, stderr)
}

// versionCommand is `interloan version`: the module version and VCS revision.
func versionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and VCS revision of this build",
		Long:  "Print the module version and the VCS revision this binary was built from (from its build information).",
		Args:  ctl.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version.Get()
			switch output {
			case "", "text":
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "interloan", v)
				return err
			case "json":
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return ctl.Usagef("--output %q: want text or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// tokenCommand is `interloan token create`: the token goes to stdout once, only its
// hash to the file; services watching the file accept it within seconds.
func tokenCommand() *cobra.Command {
	group := ctl.Group("token", "Bearer tokens")
	var roles, principal, file string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a bearer token: printed once, its hash added to the tokens file",
		Long: "Create a bearer token for a principal with roles. The token is printed once on stdout; only its hash\n" +
			"goes to the tokens file, which the services re-read within seconds.",
		Example: "  interloan token create --role operator --principal alice --tokens-file data/tokens",
		Args:    ctl.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := CreateToken(file, principal, roles)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "Token for %s (%s) added to %s; it is shown only now. Send it as `Authorization: Bearer <token>`.\n", principal, roles, file)
			return nil
		},
	}
	set := config.New("interloan token create")
	set.StringVar(&roles, "role", "", "roles, comma-separated: admin, operator, viewer, harvester")
	set.StringVar(&principal, "principal", "", "who the token is for (a person or service name; appears in logs and run history)")
	set.String(&file, "tokens-file", "INTERLOAN_TOKENS_FILE", "data/tokens", "tokens file to add the token's hash to (created if missing)")
	ctl.BindEnv(create.Flags(), set, nil)
	group.AddCommand(create)
	return group
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

// keysCommand is `interloan keys new|rotate`: the credential encryption keys of the
// profiles service. Rotation is an offline operation on the profiles bbolt file, so it
// needs no RPC, no token and no key-handling code in a running service.
func keysCommand() *cobra.Command {
	group := ctl.Group("keys", "Credential encryption keys of the profiles service")

	var out string
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Create a credential encryption key file (0600; never overwrites)",
		Long:  "Create a credential encryption key file (mode 0600; an existing file is never overwritten).",
		Args:  ctl.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return ctl.Usagef("--out FILE is required")
			}
			id, err := profilesapp.NewKeyFile(out)
			if err != nil {
				return err
			}
			// The key id, never the key: stdout may be a log.
			fmt.Fprintf(cmd.OutOrStdout(), "wrote key %s to %s\n", id, out)
			return nil
		},
	}
	newCmd.Flags().StringVar(&out, "out", "", "file to write the new key to (mode 0600; must not exist)")

	var cfg profilesapp.RotateConfig
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every profile secret under a new key (profiles service stopped)",
		Long: "Re-encrypt every profile secret under the new key, in one transaction on the profiles data file (the\n" +
			"profiles service must be stopped). Ctrl-C before the commit changes nothing.",
		Example: "  interloan keys rotate --secret-key-file new.key --previous-secret-key-files old.key --data-dir data",
		Args:    ctl.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.SecretKeyFile == "" && cfg.SecretKey == "" {
				return ctl.Usagef("--secret-key-file NEW is required")
			}
			rep, err := profilesapp.RotateKeys(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "every secret is now under key %s: %d re-encrypted, %d already current, 0 undecryptable\n",
				rep.KeyID, rep.Reencrypted, rep.Current)
			return nil
		},
	}
	set := config.New("interloan keys rotate")
	set.String(&cfg.DataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "directory holding profiles.db (the profiles service must be stopped)")
	set.String(&cfg.SecretKeyFile, "secret-key-file", "INTERLOAN_SECRET_KEY_FILE", "", "the new key file: every secret is re-encrypted under it")
	set.Secret(&cfg.SecretKey, "secret-key", "INTERLOAN_SECRET_KEY", "the new key itself (prefer the file)")
	set.String(&cfg.PreviousSecretKeyFiles, "previous-secret-key-files", "INTERLOAN_PREVIOUS_SECRET_KEY_FILES", "", "comma-separated files of the keys secrets may still be sealed with")
	ctl.BindEnv(rotate.Flags(), set, nil)

	group.AddCommand(newCmd, rotate)
	return group
}

// certsCommand is `interloan certs create`: pki.WriteSuite for a directory, with the
// service names of a Kubernetes namespace when given.
func certsCommand() *cobra.Command {
	group := ctl.Group("certs", "TLS certificates for development clusters and tests")
	var dir, hosts, namespace string
	var valid time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "A throw-away CA and one TLS certificate per service",
		Long: "Write a throw-away CA and one TLS certificate per service to --dir (keys 0600; the CA key is not\n" +
			"kept), for development clusters and tests.",
		Example: "  interloan certs create --dir tls --namespace interloan",
		Args:    ctl.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || valid <= 0 {
				return ctl.Usagef("--dir DIR is required and --valid must be positive")
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
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote CA %s and certificates for %d services to %s (the CA key was not kept)\n", files.CA, len(files.Cert), dir)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&dir, "dir", "", "directory to write ca.crt and <service>.crt/.key to (keys 0600)")
	f.StringVar(&hosts, "hosts", "localhost,127.0.0.1,::1", "comma-separated host names and IPs every certificate is valid for")
	f.StringVar(&namespace, "namespace", "", "Kubernetes namespace: each service's certificate is also valid for <service>, <service>.NS, <service>.NS.svc and <service>.NS.svc.cluster.local")
	f.DurationVar(&valid, "valid", 90*24*time.Hour, "validity of the CA and the certificates")
	group.AddCommand(create)
	return group
}
