package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/interloan/interloan/internal/ctl"
)

// The README's "Operator CLI" section is rendered from the command tree, between these
// markers; TestREADMEOperatorCLI fails when it is stale and rewrites it with -update.
const (
	readmeBegin = "<!-- BEGIN generated from the command tree: go test ./internal/cli -run TestREADMEOperatorCLI -update -->"
	readmeEnd   = "<!-- END generated from the command tree -->"
)

const readmeIntro = "`interloan` is also the operator's client (like etcdctl), over the same REST gateway, token\n" +
	"and TLS, with a command for every public RPC; `whoami` and `backup` call a service's gRPC port.\n" +
	"Tables by default; `-o json` (or `yaml`) prints the API's own JSON for scripts, and an error as\n" +
	"`{\"error\":{\"code\":\"NOT_FOUND\",\"message\":…,\"details\":[…]}}` on stderr. Exit codes: 0 ok, 1 the\n" +
	"server said no or could not be reached, 2 a usage error (nothing sent); `--wait` and `runs watch`\n" +
	"add 3 (finished, not everything imported) and 4 (failed or aborted). `interloan <command> --help`\n" +
	"shows a command's flags; `interloan completion bash|zsh|fish|powershell` prints a completion script.\n" +
	"\n" +
	"```sh\n" +
	"export INTERLOAN_TOKEN_FILE=data/admin.token INTERLOAN_CA_FILE=data/tls/ca.crt   # server: https://127.0.0.1:8080\n" +
	"interloan import run --profile libris-abc --wait        # progress by phase, then the run report\n" +
	"interloan runs events 1 --outcome skipped               # why requests were not imported\n" +
	"interloan requests list --status request-sent --owner MAIN -o json | jq '.borrowingRequests[].name'\n" +
	"interloan requests act receive-physically 7 --etag \"$(interloan requests get 7 -o json | jq -r .etag)\"\n" +
	"interloan profiles update libris-abc --daily 06:00 --time-zone Europe/Stockholm   # only those fields change\n" +
	"interloan profiles set-key libris-abc < abc.key         # from stdin or --from-file; never a flag\n" +
	"```\n"

// renderOperatorCLI is the README section: the intro, every runnable command with what
// it does, and the connection flags the operator commands share.
func renderOperatorCLI(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString(readmeBegin + "\n")
	b.WriteString(readmeIntro)
	b.WriteString("\n| command | what it does |\n|---|---|\n")
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if c.Runnable() && c.IsAvailableCommand() && c.HasParent() && c.Name() != "help" && c.Annotations[ctl.AnnotationGroup] == "" {
			use := c.CommandPath()
			if args := strings.TrimPrefix(c.Use, c.Name()); args != "" {
				use += args
			}
			if len(c.Aliases) > 0 {
				use += " (or " + strings.Join(c.Aliases, ", ") + ")"
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", use, strings.ReplaceAll(c.Short, "|", `\|`))
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	b.WriteString("\nEvery operator command takes these flags, each with its environment variable (`whoami` takes\n" +
		"`--addr`, a service's gRPC address, instead of `--server`):\n\n")
	for _, c := range root.Commands() {
		if c.Name() != "profiles" {
			continue
		}
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) {
			short := ""
			if f.Shorthand != "" {
				short = "-" + f.Shorthand + ", "
			}
			def := ""
			if f.DefValue != "" && f.Name != "token" {
				def = " (default `" + f.DefValue + "`)"
			}
			fmt.Fprintf(&b, "- `%s--%s`: %s%s\n", short, f.Name, f.Usage, def)
		})
	}
	b.WriteString(readmeEnd + "\n")
	return b.String()
}

// replaceSection puts section between the markers of readme, or reports that they are
// missing.
func replaceSection(readme, section string) (string, error) {
	begin := strings.Index(readme, readmeBegin)
	end := strings.Index(readme, readmeEnd)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("README has no generated Operator CLI section (the markers %q … %q)", readmeBegin, readmeEnd)
	}
	end += len(readmeEnd)
	if end < len(readme) && readme[end] == '\n' {
		end++
	}
	return readme[:begin] + section + readme[end:], nil
}
