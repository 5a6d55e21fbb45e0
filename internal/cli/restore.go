package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/config"
)

// restoreCommand is `interloan restore`: a backup from --in or stdin replaces a stopped
// service's data file, once a child process has proven a copy of it sound and that
// service's.
func restoreCommand() *cobra.Command {
	var service, dataDir, in string
	var force bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Replace a stopped service's data file with a backup (checked first)",
		Long: "Replace a stopped service's data file with a backup from --in or stdin, once a child process has\n" +
			"proven a copy of it sound and that service's. A running service's file is never replaced.",
		Example: "  interloan restore --service requests --data-dir data --in requests.backup",
		Args:    ctl.NoArgs,
	}
	set := config.New("interloan restore")
	set.StringVar(&service, "service", "", "the service whose data file to replace: "+serviceNames())
	set.String(&dataDir, "data-dir", "INTERLOAN_DATA_DIR", "data", "the service's data directory (the service must be stopped)")
	set.StringVar(&in, "in", "", "the backup file (default stdin)")
	set.BoolVar(&force, "force", false, "replace an existing data file (it is kept as <file>.before-restore-<time>)")
	set.DurationVar(&timeout, "check-timeout", 15*time.Minute, "how long the backup's consistency check may take before the backup is refused")
	ctl.BindEnv(cmd.Flags(), set, nil)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		svc, known := dataServices[service]
		if !known || timeout <= 0 {
			return ctl.Usagef("--service (%s) is required and --check-timeout is positive", serviceNames())
		}
		src := cmd.InOrStdin()
		if in != "" {
			f, err := os.Open(in)
			if err != nil {
				return err
			}
			defer f.Close()
			src = f
		}
		ctx := cmd.Context()
		verify := func(candidate string) error { return verifyInChild(ctx, service, candidate, timeout) }
		n, err := svc.restore(dataDir, src, verify, force)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "restored %s: %d bytes into %s\n", service, n, filepath.Clean(dataDir))
		return nil
	}
	return cmd
}

// restoreChildEnv marks restore's child process and names the service it checks for. The
// child is this same executable (os.Executable), recognised by this variable in init
// rather than by its arguments, so that every binary linking this package can serve:
// interloan, and the test binaries of the packages that run `restore`.
const restoreChildEnv = "INTERLOAN_RESTORE_CHECK"

func init() {
	if service := os.Getenv(restoreChildEnv); service != "" {
		os.Exit(restoreChild(service, os.Args[1:], os.Stderr))
	}
}

// restoreChild proves the file named by args for service (dataService.verify). Exit 0
// accepts it; exit 1 refuses it with the reason on stderr. Any other end of the process
// is a crash of the check, which the parent reports as a damaged file.
func restoreChild(service string, args []string, stderr io.Writer) int {
	svc, known := dataServices[service]
	if !known || len(args) != 1 {
		fmt.Fprintf(stderr, "restore check: want a file of %s, got %s %q\n", serviceNames(), service, args)
		return 1
	}
	if err := svc.verify(args[0]); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// verifyInChild runs the check of candidate in a child process and answers its verdict,
// naming candidate "the backup" in it. A crash, a kill or running past timeout refuses
// the file as damaged; this process is unaffected by whatever the file does to the
// check.
func verifyInChild(ctx context.Context, service, candidate string, timeout time.Duration) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("the restore check needs its own executable: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &capped{max: 64 << 10}
	cmd := exec.CommandContext(ctx, exe, candidate)
	// GOTRACEBACK=none: a crash's reason line without every goroutine's stack.
	cmd.Env = append(os.Environ(), restoreChildEnv+"="+service, "GOTRACEBACK=none")
	cmd.Stdout, cmd.Stderr = io.Discard, out
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	said := strings.TrimSpace(strings.ReplaceAll(out.String(), candidate, "the backup"))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("the backup is %w: its check did not finish within %v (--check-timeout)", boltdb.ErrDamaged, timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &exit) && exit.ExitCode() == 1 && said != "":
		return errors.New(said)
	case errors.As(err, &exit):
		return fmt.Errorf("the backup is %w: its check crashed (%s%s)", boltdb.ErrDamaged, exit.ProcessState, crashReason(said))
	default:
		return fmt.Errorf("the restore check: %w", err)
	}
}

// crashReason picks the lines of a Go crash report that say what went wrong.
func crashReason(report string) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(report))
	for sc.Scan() && len(lines) < 3 {
		l := sc.Text()
		for _, p := range []string{"panic: ", "fatal error: ", "unexpected fault address", "[signal "} {
			if strings.HasPrefix(l, p) {
				lines = append(lines, l[:min(len(l), 200)])
				break
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return ": " + strings.Join(lines, "; ")
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.buf.Write(p[:min(len(p), max(c.max-c.buf.Len(), 0))])
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }
