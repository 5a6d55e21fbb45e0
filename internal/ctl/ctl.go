// Package ctl is the operator half of the `interloan` command, like etcdctl for this
// suite: profiles, libraries, mappings, partners, import runs and their reports, parked
// items, scheduled jobs, the request ledger and the audit trails, through the REST
// gateway (and whoami over gRPC). Output is a table by default and the canonical proto
// JSON (or YAML) of the API's answer with --output json|yaml, for scripts.
//
// It also holds what every `interloan` command shares: the cobra root, usage errors,
// environment-backed flags and the mapping of errors to exit codes (Execute).
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultServer is where `interloan up` serves the gateway: TLS by default, with its CA
// in <data-dir>/tls/ca.crt for --ca-file.
const defaultServer = "https://127.0.0.1:8080"

// Exit codes, the same for every operator command (and in the root's help).
const (
	exitOK          = 0
	exitServer      = 1 // the call failed: an error answer, or the server could not be reached
	exitUsage       = 2 // bad command line or configuration; nothing was sent
	exitRunNotClean = 3 // import run --wait: the run finished its window but did not import everything
	exitRunFailed   = 4 // import run --wait: the run failed or was aborted
	exitInterrupted = 130
)

// ExitCodes is the exit-code paragraph of the root's help.
const ExitCodes = `Exit codes: 0 ok; 1 the server answered an error or could not be reached; 2 usage
error (nothing sent); import run --wait and runs watch: 3 finished with warnings or
errors (not everything imported), 4 failed or aborted; 130 interrupted. Under
-o json (or yaml) an error is printed on stderr as {"error":{"code","message","details"}}.`

// env is what a running operator command has: its client, output and options.
type env struct {
	ctx     context.Context
	client  *client
	g       *globals
	out     printer
	stdin   io.Reader
	stderr  io.Writer
	tty     bool // stderr is a terminal: progress redraws one line
	timeout time.Duration
	o       *opts
	given   func(flag string) bool // whether a flag was given on the command line
}

// unary is a context for one unary call.
func (e *env) unary() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.timeout)
}

// usageError is a mistake on the command line; exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// Usagef is a usage error (exit code 2) for the other commands of `interloan`.
func Usagef(format string, a ...any) error { return usagef(format, a...) }

// runExit is the outcome of import run --wait when the run did not succeed.
type runExit struct {
	code int
	msg  string
}

func (e *runExit) Error() string { return e.msg }

// NoArgs refuses positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// ChooseToken picks the token: a flag over the environment, and never both a token and
// a token file at the same level. given reports whether a flag was on the command line.
func ChooseToken(given func(string) bool, token, file string) (string, error) {
	switch {
	case given("token") && given("token-file"):
		return "", errors.New("give --token or --token-file, not both")
	case given("token"):
		return token, nil
	case given("token-file"):
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
