// Package ctl is the operator half of the `interloan` command, like etcdctl for this
// suite: profiles, import runs and their reports, the request ledger, mappings and
// partners, through the REST gateway. Output is a table by default and the canonical
// proto JSON (or YAML) of the API's answer with --output json|yaml, for scripts.
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/interloan/interloan/platform/config"
)

// defaultServer is where `interloan up` serves the gateway: TLS by default, with its CA
// in <data-dir>/tls/ca.crt for --ca-file.
const defaultServer = "https://127.0.0.1:8080"

// Exit codes, the same for every operator command (and in Usage).
const (
	exitOK          = 0
	exitServer      = 1 // the call failed: an error answer, or the server could not be reached
	exitUsage       = 2 // bad command line or configuration; nothing was sent
	exitRunNotClean = 3 // import run --wait: the run finished its window but did not import everything
	exitRunFailed   = 4 // import run --wait: the run failed or was aborted
	exitInterrupted = 130
)

// Usage is the operator commands' part of `interloan help`.
const Usage = `Operator commands (through the REST gateway; table output, or --output json|yaml):
  interloan profiles list|get CODE|create (-f FILE | --code C --display-name N ...)
  interloan import run --profile CODE [--wait]
                          start an import run; --wait shows its progress until it ends
  interloan runs list [--profile CODE] [--state S] | report RUN | events RUN [--outcome O] | watch RUN | cancel RUN
  interloan requests list [filters] | get ID | actions ID | act ID --action A [--etag E] [--note N]
  interloan mappings [list] | partners [list]
  Common flags: --server URL (INTERLOAN_SERVER, default https://127.0.0.1:8080),
    --token-file F (INTERLOAN_TOKEN_FILE) or --token T (INTERLOAN_TOKEN),
    --ca-file F (INTERLOAN_CA_FILE; interloan up: data/tls/ca.crt),
    --output table|json|yaml (INTERLOAN_OUTPUT), --timeout D (INTERLOAN_TIMEOUT, default 30s).
  Exit codes: 0 ok; 1 the server answered an error or could not be reached; 2 usage
    error (nothing sent); import run --wait: 3 finished with warnings or errors (not
    everything imported), 4 failed or aborted; 130 interrupted.
`

// command is one leaf command, e.g. `runs list`.
type command struct {
	path  string // e.g. "runs list"
	args  string // positional arguments, for usage
	brief string
	run   func(*env, []string) error
	flags func(*config.Set, *opts)
}

// opts holds every command's own flags; each command binds the ones it uses.
type opts struct {
	profile, state, outcome, reasonCode, action, etag, note, partner string
	file, requestID, system, status, owner, externalID, query        string
	orderBy, localLibrary, pageToken                                 string
	pageSize                                                         int
	all, wait, openOnly, activeOnly, needsAttention, validateOnly    bool
	create                                                           profileFlags
}

// env is what a running command has: its client, output and options.
type env struct {
	ctx     context.Context
	client  *client
	out     printer
	stderr  io.Writer
	tty     bool // stderr is a terminal: progress redraws one line
	timeout time.Duration
	o       *opts
	given   map[string]bool // the flags given on the command line
}

// unary is a context for one unary call.
func (e *env) unary() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.timeout)
}

// usageError is a mistake on the command line; exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// runExit is the outcome of import run --wait when the run did not succeed.
type runExit struct {
	code int
	msg  string
}

func (e *runExit) Error() string { return e.msg }

// Main runs an operator command (args[0] is profiles, import, runs, requests, mappings
// or partners) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest, err := find(args)
	if err != nil {
		fmt.Fprintf(stderr, "interloan: %v\n\n%s", err, Usage)
		return exitUsage
	}
	name := "interloan " + cmd.path
	var (
		cfg     clientConfig
		tokFile string
		output  string
		timeout time.Duration
		o       opts
	)
	set := config.New(name)
	set.SetOutput(stderr)
	set.String(&cfg.server, "server", "INTERLOAN_SERVER", defaultServer, "REST gateway URL")
	set.Secret(&cfg.token, "token", "INTERLOAN_TOKEN", "bearer token (prefer --token-file: a flag shows in the process list)")
	set.String(&tokFile, "token-file", "INTERLOAN_TOKEN_FILE", "", "file holding the bearer token")
	set.String(&cfg.caFile, "ca-file", "INTERLOAN_CA_FILE", "", "PEM CA certificate(s) to trust for an https server (default: the system's)")
	// -o first: defining a flag stores its default, and --output's may come from the env.
	set.StringVar(&output, "o", formatTable, "shorthand for --output")
	set.String(&output, "output", "INTERLOAN_OUTPUT", formatTable, "output format: table, json or yaml")
	set.Duration(&timeout, "timeout", "INTERLOAN_TIMEOUT", 30*time.Second, "limit of each call (watching a run has none)")
	if cmd.flags != nil {
		cmd.flags(set, &o)
	}
	set.Usage = func() {
		fmt.Fprintf(set.Output(), "usage: %s %s\n  %s\n\nflags:\n", name, cmd.args, cmd.brief)
		set.PrintDefaults()
	}
	pos, err := parseInterspersed(set, rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage // the set has printed why
	}
	if output == "" {
		output = formatTable // INTERLOAN_OUTPUT set but empty
	}
	if !slices.Contains([]string{formatTable, formatJSON, formatYAML}, output) {
		fmt.Fprintf(stderr, "%s: --output %q: want table, json or yaml\n", name, output)
		return exitUsage
	}
	if timeout <= 0 {
		fmt.Fprintf(stderr, "%s: --timeout must be positive\n", name)
		return exitUsage
	}
	given := map[string]bool{}
	set.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if cfg.token, err = ChooseToken(given, cfg.token, tokFile); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	c, err := newClient(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	if c.plainTextToRemote() {
		fmt.Fprintf(stderr, "%s: warning: sending the token over plain http to %s; use https\n", name, c.base.Host)
	}
	e := &env{ctx: ctx, client: c, out: printer{format: output, w: stdout}, stderr: stderr,
		tty: IsTerminal(stderr), timeout: timeout, o: &o, given: given}
	err = cmd.run(e, pos)
	var api *apiError
	if errors.As(err, &api) && api.code == "UNAUTHENTICATED" && c.token == "" {
		err = fmt.Errorf("%w\n  (no token was sent: give --token-file or INTERLOAN_TOKEN_FILE, or --token or INTERLOAN_TOKEN)", err)
	}
	return exitCode(name, err, stderr)
}

// exitCode reports err on stderr in one line (plus field violations) and maps it to the
// exit code.
func exitCode(name string, err error, stderr io.Writer) int {
	if err != nil {
		// The last line of defence for the operator's terminal: errors quote what
		// servers and decoders said.
		err = sanitizedError{err}
	}
	var (
		usage *usageError
		nameE *nameError
		runE  *runExit
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &runE):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return runE.code
	case errors.As(err, &usage), errors.As(err, &nameE):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: interrupted%s\n", name, strings.TrimPrefix(err.Error(), context.Canceled.Error()))
		return exitInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "%s: no answer within --timeout\n", name)
		return exitServer
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitServer
	}
}

// sanitizedError is an error whose message has control characters replaced in each of
// its lines; errors.As and errors.Is still see the original.
type sanitizedError struct{ error }

func (e sanitizedError) Error() string {
	lines := strings.Split(e.error.Error(), "\n")
	for i, l := range lines {
		lines[i] = sanitize(l)
	}
	return strings.Join(lines, "\n")
}

func (e sanitizedError) Unwrap() error { return e.error }

// find picks the command named by the first words of args.
func find(args []string) (command, []string, error) {
	if len(args) == 0 {
		return command{}, nil, errors.New("no command")
	}
	group := args[0]
	var subs []string
	for _, c := range commands {
		g, sub, _ := strings.Cut(c.path, " ")
		if g != group {
			continue
		}
		subs = append(subs, sub)
		if len(args) > 1 && args[1] == sub {
			return c, args[2:], nil
		}
	}
	switch {
	case len(subs) == 0:
		return command{}, nil, fmt.Errorf("unknown command %q", group)
	case group == "mappings" || group == "partners":
		// `interloan partners` alone lists them.
		if len(args) == 1 || strings.HasPrefix(args[1], "-") {
			for _, c := range commands {
				if c.path == group+" list" {
					return c, args[1:], nil
				}
			}
		}
	}
	if len(args) == 1 {
		return command{}, nil, fmt.Errorf("%s needs a subcommand: %s", group, strings.Join(subs, ", "))
	}
	return command{}, nil, fmt.Errorf("unknown command %q %q (%s has: %s)", group, args[1], group, strings.Join(subs, ", "))
}

// parseInterspersed parses flags before, between and after positional arguments
// (`runs events RUN --outcome FAILED`), as etcdctl and kubectl users expect; the flag
// package alone stops at the first positional one.
func parseInterspersed(set *config.Set, args []string) ([]string, error) {
	var pos []string
	for {
		if err := set.Parse(args); err != nil {
			return nil, err
		}
		rest := set.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil // after "--" nothing is a flag
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ChooseToken picks the token: a flag over the environment, and never both a token and
// a token file at the same level.
func ChooseToken(given map[string]bool, token, file string) (string, error) {
	switch {
	case given["token"] && given["token-file"]:
		return "", errors.New("give --token or --token-file, not both")
	case given["token"]:
		return token, nil
	case given["token-file"]:
	case token != "" && file != "":
		return "", errors.New("INTERLOAN_TOKEN and INTERLOAN_TOKEN_FILE are both set; unset one")
	case token != "":
		return token, nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The path, never the content.
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return tok, nil
}

// IsTerminal reports whether w is a character device (a terminal), where a progress
// line can be redrawn in place.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, names ...string) error {
	if len(pos) != len(names) {
		if len(names) == 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		return usagef("want %s, got %d argument(s)", strings.Join(names, " "), len(pos))
	}
	return nil
}

// resourceName accepts a full name (runs/abc) or just the ID (abc). Anything else with
// a slash is passed on as it is, for the route to refuse by its own pattern.
func resourceName(collection, arg string) string {
	if strings.Contains(arg, "/") {
		return arg
	}
	return collection + "/" + arg
}
