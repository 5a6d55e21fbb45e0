package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/interloan/interloan/platform/config"
)

// AnnotationRPC is the cobra annotation naming the RPCs a command calls, as gRPC full
// method names separated by commas; a test checks that every public RPC has a command.
const AnnotationRPC = "interloan.rpc"

// annotationEnvError marks a flag whose environment variable is malformed: the command
// that has the flag fails with it, any other command is unaffected.
const annotationEnvError = "interloan.env-error"

// NewRoot is the `interloan` root command: no command runs without a subcommand, and
// Execute (not cobra) reports every error.
func NewRoot(short, long string) *cobra.Command {
	root := &cobra.Command{
		Use:           "interloan",
		Short:         short,
		Long:          long,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          groupArgs,
		RunE:          groupRun,
		// A malformed environment value of any flag the command has ends it before it
		// runs (after -h, which always works).
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if msg := f.Annotations[annotationEnvError]; err == nil && len(msg) > 0 {
					err = usagef("%s", msg[0])
				}
			})
			return err
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	// cobra's completion commands keep the writer they see when they are added;
	// Execute points this one at its stdout.
	root.SetOut(&laterWriter{w: os.Stdout})
	return root
}

// laterWriter writes to a writer chosen after the command tree is built.
type laterWriter struct{ w io.Writer }

func (l *laterWriter) Write(p []byte) (int, error) { return l.w.Write(p) }

// Finish adds cobra's help and completion commands to the finished tree now rather
// than when it runs, so that they are part of it for walks (tests, the README), and
// makes `completion` with an unknown shell a usage error like any other group.
func Finish(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args, c.RunE = groupArgs, groupRun
			c.Annotations = map[string]string{AnnotationGroup: "true"}
		}
	}
}

// Group is a command that only holds subcommands: alone, or with an unknown
// subcommand, it is a usage error.
func Group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: groupArgs, RunE: groupRun,
		Annotations: map[string]string{AnnotationGroup: "true"}}
}

// AnnotationGroup marks a command that holds subcommands (it runs only to say so, or,
// for mappings and partners, to list).
const AnnotationGroup = "interloan.group"

func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), suggest(cmd, args[0]))
	}
	return nil
}

func groupRun(cmd *cobra.Command, _ []string) error {
	var subs []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && c.Name() != "help" {
			subs = append(subs, c.Name())
		}
	}
	return usagef("%s needs a subcommand: %s (see %s --help)", cmd.CommandPath(), strings.Join(subs, ", "), cmd.CommandPath())
}

func suggest(cmd *cobra.Command, arg string) string {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default
	}
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		return "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return ""
}

// BindEnv adds the flags of set (the flag package's, with INTERLOAN_* environment
// defaults from platform/config) to fs, giving the one-letter ones in shorthands their
// short form. The environment applies now, so a flag given on the command line wins; a
// malformed environment value fails cmd (and its subcommands, for persistent flags)
// when it runs.
func BindEnv(fs *pflag.FlagSet, set *config.Set, shorthands map[string]string) {
	set.SetOutput(io.Discard)
	envErr := set.Parse(nil)
	set.VisitAll(func(gf *flag.Flag) {
		pf := pflag.PFlagFromGoFlag(gf)
		if s, ok := shorthands[gf.Name]; ok {
			pf.Shorthand = s
		}
		if envErr != nil && set.Env(gf.Name) != "" {
			pf.Annotations = map[string][]string{annotationEnvError: {envErr.Error()}}
		}
		fs.AddFlag(pf)
	})
}

// Execute runs root with args and returns the process exit code. Help goes to stdout;
// errors to stderr in one line (plus field violations), or as a JSON (YAML) object when
// the command's --output is json (yaml).
func Execute(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetIn(stdin)
	if l, ok := root.OutOrStdout().(*laterWriter); ok {
		l.w = stdout
	} else {
		root.SetOut(stdout)
	}
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	format := ""
	if cmd != nil {
		if f := cmd.Flags().Lookup("output"); f != nil {
			format = f.Value.String()
		}
	}
	name := root.Name()
	if cmd != nil {
		name = cmd.CommandPath()
	}
	return report(name, format, err, stderr)
}

// report writes err for a person (name: message) or, for json and yaml, as the error
// object, and maps it to the exit code.
func report(name, format string, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code, obj := classify(err)
	if format == formatJSON || format == formatYAML {
		b, merr := json.MarshalIndent(map[string]errorObject{"error": obj}, "", "  ")
		if merr == nil && format == formatYAML {
			b, merr = yaml.JSONToYAML(b)
		}
		if merr == nil {
			stderr.Write(append(b, '\n'))
			return code
		}
	}
	// The last line of defence for the operator's terminal: errors quote what servers
	// and decoders said.
	msg := sanitizedError{err}.Error()
	switch {
	case errors.Is(err, context.Canceled):
		msg = "interrupted" + strings.TrimPrefix(msg, context.Canceled.Error())
	case errors.Is(err, context.DeadlineExceeded):
		msg = "no answer within --timeout"
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, msg)
	return code
}

// errorObject is an error as scripts read it: the google.rpc.Status's code name and
// message, and its details (ErrorInfo, BadRequest, …) as the server sent them. An error
// of the CLI's own carries an ErrorInfo with its reason (USAGE, UNREACHABLE,
// RUN_NOT_CLEAN, RUN_FAILED, INTERRUPTED, TIMEOUT).
type errorObject struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details,omitempty"`
}

const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

// cliDomain is the ErrorInfo domain of the CLI's own errors.
const cliDomain = "cli.interloan.dev"

func localError(code, reason, msg string) errorObject {
	info, _ := json.Marshal(map[string]string{"@type": errorInfoType, "reason": reason, "domain": cliDomain})
	return errorObject{Code: code, Message: sanitize(msg), Details: []json.RawMessage{info}}
}

// classify maps err to its exit code and error object.
func classify(err error) (int, errorObject) {
	var (
		usage *usageError
		nameE *nameError
		runE  *runExit
		api   *apiError
		trans *transportError
	)
	switch {
	case errors.As(err, &runE):
		reason := "RUN_FAILED"
		if runE.code == exitRunNotClean {
			reason = "RUN_NOT_CLEAN"
		}
		return runE.code, localError("FAILED_PRECONDITION", reason, err.Error())
	case errors.As(err, &usage), errors.As(err, &nameE):
		return exitUsage, localError("INVALID_ARGUMENT", "USAGE", err.Error())
	case errors.Is(err, context.Canceled):
		return exitInterrupted, localError("CANCELLED", "INTERRUPTED", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return exitServer, localError("DEADLINE_EXCEEDED", "TIMEOUT", "no answer within --timeout")
	case errors.As(err, &api):
		return exitServer, api.object()
	case errors.As(err, &trans):
		return exitServer, localError("UNAVAILABLE", "UNREACHABLE", err.Error())
	}
	if st, ok := status.FromError(err); ok && st.Code() != 0 {
		return exitServer, fromStatus(st).object()
	}
	return exitServer, localError("UNKNOWN", "ERROR", err.Error())
}

// object is e for scripts. An answer that was no status (a proxy's error page) has no
// canonical code: UNKNOWN, with what it was in the message.
func (e *apiError) object() errorObject {
	if strings.ContainsRune(e.code, ' ') {
		return errorObject{Code: "UNKNOWN", Message: sanitize(e.Error()), Details: e.details}
	}
	return errorObject{Code: e.code, Message: sanitize(e.message), Details: e.details}
}

// fromStatus is a gRPC status as the apiError the gateway would have answered.
func fromStatus(st *status.Status) *apiError {
	e := &apiError{code: code.Code(st.Code()).String(), message: st.Message()}
	for _, d := range st.Proto().GetDetails() {
		if b, err := protojson.Marshal(d); err == nil {
			e.details = append(e.details, b)
		}
	}
	e.reason, e.violations = readDetails(e.details)
	return e
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

// rpcs annotates cmd with the RPCs it calls.
func rpcs(cmd *cobra.Command, methods ...string) {
	if len(methods) == 0 {
		return
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	have := strings.Split(cmd.Annotations[AnnotationRPC], ",")
	for _, m := range methods {
		if !slices.Contains(have, m) {
			have = append(have, m)
		}
	}
	cmd.Annotations[AnnotationRPC] = strings.Trim(strings.Join(have, ","), ",")
}

// Annotate records on cmd that it calls the RPCs methods (gRPC full method names).
func Annotate(cmd *cobra.Command, methods ...string) { rpcs(cmd, methods...) }
