// Package configdoc renders the configuration reference of the service binaries
// (docs/config.md) from their real flag sets, so the reference cannot drift from the
// code: a test fails when the file is stale or a flag has no environment twin.
package configdoc

import (
	"flag"
	"fmt"
	"strings"

	"github.com/interloan/interloan/platform/config"
	console "github.com/interloan/interloan/services/console/app"
	gateway "github.com/interloan/interloan/services/gateway/app"
	harvester "github.com/interloan/interloan/services/harvester/app"
	mapping "github.com/interloan/interloan/services/mapping/app"
	profiles "github.com/interloan/interloan/services/profiles/app"
	requests "github.com/interloan/interloan/services/requests/app"
)

// binary is one service binary and the Bind its main passes to server.Main.
type binary struct {
	name string
	bind func(*config.Set)
}

func binaries() []binary {
	return []binary{
		{"profiles", new(profiles.Config).Bind},
		{"mapping", new(mapping.Config).Bind},
		{"harvester", new(harvester.Config).Bind},
		{"requests", new(requests.Config).Bind},
		{"gateway", new(gateway.Config).Bind},
		{"console", new(console.Config).Bind},
	}
}

// Render returns the reference as Markdown. It fails on a flag without an environment
// twin: Kubernetes configures the binaries by environment only. Defaults are as they are
// with no INTERLOAN_* variable set.
func Render() (string, error) {
	var b strings.Builder
	b.WriteString(`# Configuration reference

Generated from the binaries' flag sets by ` + "`make docs`" + ` (internal/configdoc); a test
fails when this file is stale. Every setting is a flag with an environment twin; a flag
given on the command line wins over the environment.

`)
	var missing []string
	for _, bin := range binaries() {
		set := config.New(bin.name)
		bin.bind(set)
		fmt.Fprintf(&b, "## %s\n\n| flag | environment | default | meaning |\n|---|---|---|---|\n", bin.name)
		set.VisitAll(func(f *flag.Flag) {
			env := set.Env(f.Name)
			if env == "" {
				missing = append(missing, bin.name+" --"+f.Name)
			}
			usage := strings.TrimSpace(strings.Split(f.Usage, " (env ")[0])
			def := f.DefValue
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, env, def, cell(usage))
		})
		b.WriteString("\n")
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("flags without an environment twin: %s", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
