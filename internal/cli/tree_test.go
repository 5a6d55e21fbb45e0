package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/ctl"
	"github.com/interloan/interloan/platform/version"
)

// execute runs the whole tree in-process.
func execute(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = ctl.Execute(context.Background(), NewCommand(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// walk visits every command of the tree.
func walk(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, sub := range c.Commands() {
		walk(sub, visit)
	}
}

// TestEveryRPCHasACommand walks the services of the generated descriptors and finds,
// for each public method, a command annotated with it. Two services are excluded: they
// serve the harvester alone (IngestService streams runs into the ledger,
// ProfileCredentialsService hands it decrypted credentials), and the suite's policy
// refuses them to people.
func TestEveryRPCHasACommand(t *testing.T) {
	internal := map[protoreflect.FullName]bool{
		"interloan.requests.v1.IngestService":             true,
		"interloan.profiles.v1.ProfileCredentialsService": true,
	}
	commands := map[string][]string{} // full method → commands
	walk(NewCommand(), func(c *cobra.Command) {
		for _, m := range strings.Split(c.Annotations[ctl.AnnotationRPC], ",") {
			if m != "" {
				commands[m] = append(commands[m], c.CommandPath())
			}
		}
	})
	methods := map[string]bool{}
	for _, file := range []protoreflect.FileDescriptor{
		adminv1.File_interloan_admin_v1_admin_proto,
		harvesterv1.File_interloan_harvester_v1_harvester_proto,
		mappingv1.File_interloan_mapping_v1_mapping_proto,
		profilesv1.File_interloan_profiles_v1_profiles_proto,
		requestsv1.File_interloan_requests_v1_requests_proto,
	} {
		for i := 0; i < file.Services().Len(); i++ {
			svc := file.Services().Get(i)
			if internal[svc.FullName()] {
				continue
			}
			for j := 0; j < svc.Methods().Len(); j++ {
				full := fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name())
				methods[full] = true
				if len(commands[full]) == 0 {
					t.Errorf("%s has no command", full)
				} else {
					t.Logf("%s: %s", full, strings.Join(commands[full], "; "))
				}
			}
		}
	}
	for m := range commands {
		if !methods[m] {
			t.Errorf("a command is annotated with %s, which no public service has", m)
		}
	}
	if len(methods) < 50 {
		t.Fatalf("only %d public methods found: are the descriptors all listed?", len(methods))
	}
}

// TestHelpEveryCommand asks every command of the tree for --help: exit 0, help on
// stdout, nothing on stderr.
func TestHelpEveryCommand(t *testing.T) {
	n := 0
	walk(NewCommand(), func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		code, out, errOut := execute(append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q", c.CommandPath(), code, errOut)
		}
		if c.Short == "" && c.Name() != "help" {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		n++
	})
	t.Logf("%d commands answer --help", n)
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := execute("completion", shell)
		if code != 0 || !strings.Contains(out, "interloan") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(out), errOut)
		}
	}
	if code, _, _ := execute("completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
	// Completion knows the tree: the subcommands of runs, and the flags of a command.
	_, out, _ := execute("__complete", "runs", "")
	for _, want := range []string{"list", "watch", "cancel"} {
		if !strings.Contains(out, want) {
			t.Errorf("completing `runs ` lacks %s:\n%s", want, out)
		}
	}
	if _, out, _ := execute("__complete", "requests", "list", "--st"); !strings.Contains(out, "--status") {
		t.Errorf("completing `requests list --st`:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := execute("version")
	if code != 0 || out != "interloan "+version.Get().String()+"\n" {
		t.Fatalf("version: exit %d, %q", code, out)
	}
	code, out, _ = execute("version", "-o", "json")
	var v version.Info
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || v.GoVersion == "" {
		t.Fatalf("version -o json: exit %d, %q, %v", code, out, err)
	}
	if code, _, errOut := execute("version", "extra"); code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Fatalf("version extra: exit %d, %q", code, errOut)
	}
}
