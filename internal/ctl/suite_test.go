package ctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// live is the whole suite in this process with a fake Libris, and the CLI pointed at
// its gateway with the admin token.
type live struct {
	*testenv.Env
	t         *testing.T
	ctx       context.Context
	tokenFile string // the admin token
	dir       string // scratch files
}

func startLive(t *testing.T, tls bool) *live {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	env, err := testenv.Start(ctx, testenv.Options{DataDir: t.TempDir(), Logger: logging.Discard(), TLS: tls,
		Libris: fakelibris.New(fakelibris.Options{})})
	if err != nil {
		t.Fatalf("suite did not start: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	return &live{Env: env, t: t, ctx: ctx, tokenFile: env.Addrs.AdminTokenFile, dir: t.TempDir()}
}

// seed gives the fake Libris n requests of sigel in status (the Libris string) lent by
// lenders, and maps sigel to the local library MAIN. The profile is created by the test,
// through the CLI.
func (l *live) seed(sigel, key string, n int, status string, lenders ...string) {
	l.t.Helper()
	l.Libris.AddKey(key, sigel)
	today := time.Now()
	l.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 11, Sigel: sigel, Count: n, From: today.AddDate(0, 0, -1), To: today,
		Lenders: lenders, Statuses: []string{status}})...)
	if err := l.MapLibrary(l.ctx, typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, sigel, "MAIN"); err != nil {
		l.t.Fatal(err)
	}
}

func (l *live) library(code string) {
	l.t.Helper()
	if err := l.CreateLibrary(l.ctx, code, code); err != nil {
		l.t.Fatal(err)
	}
}

// partner creates a Libris partner with a contact, which the CLI's listing shows.
func (l *live) partner(code string) {
	l.t.Helper()
	if _, err := l.Mapping.CreatePartner(l.ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: code, DisplayName: code + " library", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		Contact: &mappingv1.Contact{Email: strings.ToLower(code) + "@example.org"}}}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *live) file(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// result is one CLI invocation.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI against the suite's gateway as admin.
func (l *live) cli(args ...string) result {
	l.t.Helper()
	return l.cliAs(l.tokenFile, args...)
}

// cliAs runs the CLI with the token in tokenFile.
func (l *live) cliAs(tokenFile string, args ...string) result {
	l.t.Helper()
	args = append(args, "--server", l.GatewayURL())
	if l.Addrs.CAFile != "" {
		args = append(args, "--ca-file", l.Addrs.CAFile)
	}
	return invoke(l.ctx, append(args, "--token-file", tokenFile)...)
}

func invoke(ctx context.Context, args ...string) result {
	return invokeIn(ctx, "", args...)
}

// invokeIn runs the operator commands under a root of their own, with stdin.
func invokeIn(ctx context.Context, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	root := NewRoot("interloan", "")
	Register(root)
	code := Execute(ctx, root, args, strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// must fails the test unless the invocation exited with want.
func (r result) must(t *testing.T, want int) result {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	return r
}

// row is the first n whitespace-separated cells of the first table line containing key.
func row(t *testing.T, table, key string, n int) string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); strings.Contains(line, key) && len(f) >= n {
			return strings.Join(f[:n], " ")
		}
	}
	t.Fatalf("no row with %q and %d cells:\n%s", key, n, table)
	return ""
}

// decode reads JSON (or YAML) output into m, strictly.
func decode(t *testing.T, out string, m proto.Message) {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(out))
	if err != nil {
		t.Fatalf("output is not JSON or YAML: %v\n%s", err, out)
	}
	if err := protojson.Unmarshal(j, m); err != nil {
		t.Fatalf("output is not a %T: %v\n%s", m, err, out)
	}
}

// TestOperatorCLI walks an operator's day through the CLI against the whole suite:
// create a profile, import with --wait, read the report and events, and work a request.
func TestOperatorCLI(t *testing.T) {
	l := startLive(t, false)
	const n = 30
	l.library("MAIN")
	l.partner("Xyz")
	l.partner("Qrs")
	// Every request "Ej avbeställd!": sent to a lender, so REQUEST_SENT in the ledger.
	l.seed("Abc", "key-abc", n, fakelibris.StatusEjAvbestalld, "Xyz", "Qrs")
	keyFile := l.file("abc.key", "key-abc\n")

	t.Run("profiles create from flags", func(t *testing.T) {
		r := l.cli("profiles", "create", "--code", "abc", "--display-name", "Libris Abc", "--description", "Borrowing\tfrom Libris", "--base-url", l.Libris.URL,
			"--library-code", "Abc", "--resource-sharing-library", "MAIN", "--api-key-file", keyFile,
			"--harvest-start", time.Now().AddDate(0, 0, -1).Format(time.DateOnly), "--active", "--daily", "06:30",
			"--time-zone", "Europe/Stockholm").must(t, exitOK)
		for _, want := range []string{"integrationProfiles/abc", "Borrowing from Libris", "API key set:", "Runnable:                  yes", "daily 06:30 Europe/Stockholm"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("create output lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "key-abc") {
			t.Fatal("the API key was printed")
		}
	})

	t.Run("profiles create from a YAML file, validate only", func(t *testing.T) {
		f := l.file("p.yaml", "code: other\ndisplayName: Other\nsystem: EXTERNAL_SYSTEM_LIBRIS\nlibris:\n  baseUrl: "+l.Libris.URL+"\n  libraryCode: Oth\n")
		l.cli("profiles", "create", "-f", f, "--validate-only", "-o", "json").must(t, exitOK)
		if r := l.cli("profiles", "get", "other"); r.code != exitServer || !strings.Contains(r.stderr, "NOT_FOUND") {
			t.Fatalf("--validate-only stored the profile: %+v", r)
		}
		bad := l.file("bad.yaml", "code: x\ndisplayNam: typo\n")
		if r := l.cli("profiles", "create", "-f", bad); r.code != exitUsage || !strings.Contains(r.stderr, "displayNam") {
			t.Fatalf("a misspelt field: %+v", r)
		}
	})

	t.Run("profiles list in every format", func(t *testing.T) {
		table := l.cli("profiles", "list").must(t, exitOK).stdout
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "CODE") || !strings.HasPrefix(lines[1], "abc ") || !strings.Contains(lines[1], "daily 06:30") {
			t.Fatalf("table:\n%s", table)
		}
		for _, format := range []string{"json", "yaml"} {
			var resp profilesv1.ListIntegrationProfilesResponse
			decode(t, l.cli("profiles", "list", "--output", format).must(t, exitOK).stdout, &resp)
			if p := resp.GetIntegrationProfiles(); len(p) != 1 || p[0].GetCode() != "abc" || !p[0].GetApiKeySet() || p[0].GetApiKey() != "" {
				t.Fatalf("%s: %v", format, &resp)
			}
		}
	})

	var runName string
	t.Run("import run --wait", func(t *testing.T) {
		r := l.cli("import", "run", "--profile", "abc", "--wait", "-o", "json").must(t, exitOK)
		var run harvesterv1.Run
		decode(t, r.stdout, &run)
		if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || run.GetCounters().GetCreated() != n {
			t.Fatalf("run: %v", &run)
		}
		runName = run.GetName()
		// Not a terminal: one plain line per change, ending at 100%.
		if strings.Contains(r.stderr, "\r") || !strings.Contains(r.stderr, "started "+runName) ||
			!strings.Contains(r.stderr, "100% COMPLETED_SUCCESS · fetched 30 created 30") {
			t.Fatalf("progress:\n%s", r.stderr)
		}
	})

	t.Run("import run without --wait, then runs watch", func(t *testing.T) {
		name := strings.TrimSpace(l.cli("import", "run", "--profile", "integrationProfiles/abc").must(t, exitOK).stdout)
		if !strings.HasPrefix(name, "runs/") || name == runName {
			t.Fatalf("import run printed %q", name)
		}
		r := l.cli("runs", "watch", lastSegment(name)).must(t, exitOK)
		if !strings.Contains(r.stdout, "State:      COMPLETED_SUCCESS") || !strings.Contains(r.stdout, "unchanged 30") {
			t.Fatalf("watch:\n%s", r.stdout)
		}
	})

	t.Run("runs list, report and events", func(t *testing.T) {
		var runs harvesterv1.ListRunsResponse
		decode(t, l.cli("runs", "list", "--profile", "abc", "-o", "yaml").must(t, exitOK).stdout, &runs)
		if len(runs.GetRuns()) != 2 || runs.GetRuns()[1].GetName() != runName {
			t.Fatalf("runs list: %v", &runs)
		}
		report := l.cli("runs", "report", runName).must(t, exitOK).stdout
		if !strings.Contains(report, "fetched 30, created 30, updated 0") {
			t.Fatalf("report:\n%s", report)
		}
		// Pages of 7 followed to the end give every event once.
		var events harvesterv1.ListRunEventsResponse
		decode(t, l.cli("runs", "events", runName, "--outcome", "created", "--page-size", "7", "--all", "-o", "json").must(t, exitOK).stdout, &events)
		seen := map[string]bool{}
		for _, ev := range events.GetRunEvents() {
			seen[ev.GetExternalId()] = true
		}
		if len(events.GetRunEvents()) != n || len(seen) != n || events.GetNextPageToken() != "" {
			t.Fatalf("%d events, %d distinct, next %q", len(events.GetRunEvents()), len(seen), events.GetNextPageToken())
		}
		// One page in a table says how to go on.
		if r := l.cli("runs", "events", runName, "--page-size", "7").must(t, exitOK); strings.Count(r.stdout, "\n") != 8 || !strings.Contains(r.stderr, "--page-token") {
			t.Fatalf("one page:\n%s\n%s", r.stdout, r.stderr)
		}
	})

	t.Run("requests list, get, actions, act", func(t *testing.T) {
		var list requestsv1.ListBorrowingRequestsResponse
		decode(t, l.cli("requests", "list", "--profile", "abc", "--status", "request-sent", "--all", "-o", "json").must(t, exitOK).stdout, &list)
		if len(list.GetBorrowingRequests()) != n {
			t.Fatalf("%d requests in REQUEST_SENT, want all %d", len(list.GetBorrowingRequests()), n)
		}
		// --read-mask: only the fields named; a path naming no field is the server's error.
		var masked requestsv1.ListBorrowingRequestsResponse
		decode(t, l.cli("requests", "list", "--profile", "abc", "--status", "request-sent", "--all", "--read-mask", "name,external_reference.external_id", "-o", "json").must(t, exitOK).stdout, &masked)
		if len(masked.GetBorrowingRequests()) != n {
			t.Fatalf("%d masked requests, want %d", len(masked.GetBorrowingRequests()), n)
		}
		for i, r := range masked.GetBorrowingRequests() {
			if want := list.GetBorrowingRequests()[i]; r.GetName() != want.GetName() || r.GetExternalReference().GetExternalId() != want.GetExternalReference().GetExternalId() ||
				r.GetEtag() != "" || r.GetBibliographic() != nil || r.GetExternalReference().GetProfile() != "" {
				t.Fatalf("masked list: %v", r)
			}
		}
		if r := l.cli("requests", "list", "--read-mask", "title").must(t, exitServer); !strings.Contains(r.stderr, "read_mask") {
			t.Fatalf("bad read mask: %q", r.stderr)
		}
		id := lastSegment(list.GetBorrowingRequests()[0].GetName())
		var br requestsv1.BorrowingRequest
		decode(t, l.cli("requests", "get", id, "-o", "json").must(t, exitOK).stdout, &br)
		actions := l.cli("requests", "actions", id).must(t, exitOK).stdout
		if !strings.Contains(actions, "receive-physically") || !strings.Contains(actions, br.GetEtag()) {
			t.Fatalf("actions:\n%s", actions)
		}

		r := l.cli("requests", "act", id, "--action", "receive-physically", "--etag", br.GetEtag(), "--note", "arrived in the post").must(t, exitOK)
		if !strings.Contains(r.stdout, "RECEIVED_PHYSICALLY") {
			t.Fatalf("act:\n%s", r.stdout)
		}
		// The etag read before the action is stale now.
		r = l.cli("requests", "act", id, "--action", "add-note", "--etag", br.GetEtag(), "--note", "late").must(t, exitServer)
		if !strings.Contains(r.stderr, "ABORTED") || !strings.Contains(r.stderr, "ETAG_MISMATCH") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("stale etag: %q", r.stderr)
		}
		// An action the status does not allow: the server says which are.
		r = l.cli("requests", "act", id, "--action", "send").must(t, exitServer)
		if !strings.Contains(r.stderr, "FAILED_PRECONDITION") || !strings.Contains(r.stderr, "ACTION_NOT_ALLOWED") {
			t.Fatalf("not allowed: %q", r.stderr)
		}
		decode(t, l.cli("requests", "get", "borrowingRequests/"+id, "-o", "yaml").must(t, exitOK).stdout, &br)
		if br.GetStatus() != requestsv1.Status_STATUS_RECEIVED_PHYSICALLY {
			t.Fatalf("status after act: %v", br.GetStatus())
		}
	})

	t.Run("requests count, events, an action's own command, batch, anonymize", func(t *testing.T) {
		var count requestsv1.CountBorrowingRequestsResponse
		decode(t, l.cli("requests", "count", "-o", "json").must(t, exitOK).stdout, &count)
		if count.GetTotal() != n {
			t.Fatalf("count: %v", &count)
		}
		var list requestsv1.ListBorrowingRequestsResponse
		decode(t, l.cli("requests", "list", "--status", "request-sent", "--page-size", "3", "-o", "json").must(t, exitOK).stdout, &list)
		ids := []string{lastSegment(list.GetBorrowingRequests()[0].GetName()), lastSegment(list.GetBorrowingRequests()[1].GetName())}
		r := l.cli("requests", "act", "add-note", ids[0], "--note", "called the lender").must(t, exitOK)
		if !strings.Contains(r.stdout, "REQUEST_SENT") {
			t.Fatalf("act add-note:\n%s", r.stdout)
		}
		if out := l.cli("requests", "events", ids[0]).must(t, exitOK).stdout; !strings.Contains(out, "called the lender") {
			t.Fatalf("events:\n%s", out)
		}
		// A batch acts on each request on its own: a stale etag fails its request only.
		var batch requestsv1.BatchActBorrowingRequestsResponse
		r = l.cli("requests", "batch", "--action", "add-note", "--note", "batch note", ids[0], ids[1]+"=stale", "-o", "json").must(t, exitServer)
		decode(t, r.stdout, &batch)
		if res := batch.GetResults(); len(res) != 2 || !res[0].GetSucceeded() || res[1].GetSucceeded() || !strings.Contains(r.stderr, "1 of 2 requests refused add-note") {
			t.Fatalf("batch: %v\n%s", &batch, r.stderr)
		}
		// By filter, validate only: every request sent, nothing changed.
		decode(t, l.cli("requests", "batch", "--action", "expire", "--status", "request-sent", "--all", "--validate-only", "-o", "json").must(t, exitOK).stdout, &batch)
		if len(batch.GetResults()) != n-1 {
			t.Fatalf("batch by filter: %d results, want %d", len(batch.GetResults()), n-1)
		}
		l.cli("requests", "batch", "--action", "expire").must(t, exitUsage)
		var anon requestsv1.AnonymizeBorrowingRequestsResponse
		decode(t, l.cli("requests", "anonymize", "--older-than-days", "1", "--validate-only", "-o", "json").must(t, exitOK).stdout, &anon)
		if len(anon.GetBorrowingRequests()) != 0 {
			t.Fatalf("nothing is closed and old, yet: %v", &anon)
		}
		l.cli("requests", "anonymize").must(t, exitUsage)
	})

	t.Run("mappings and partners", func(t *testing.T) {
		out := l.cli("mappings").must(t, exitOK).stdout
		if got := row(t, out, "Abc", 4); got != "1 LIBRIS Abc MAIN" {
			t.Fatalf("mappings row %q:\n%s", got, out)
		}
		out = l.cli("partners", "list", "--system", "libris").must(t, exitOK).stdout
		if got := row(t, out, "qrs@example.org", 6); got != "Qrs Qrs library ACTIVE LIBRIS qrs@example.org" {
			t.Fatalf("partners row %q:\n%s", got, out)
		}
	})

	t.Run("a bad token is a clear error that does not echo it", func(t *testing.T) {
		bad := l.file("bad.token", "il_not-a-real-token\n")
		r := l.cliAs(bad, "runs", "list").must(t, exitServer)
		if !strings.Contains(r.stderr, "UNAUTHENTICATED") || strings.Contains(r.stderr, "no token was sent") ||
			strings.Contains(r.stderr, "il_not-a-real-token") || r.stdout != "" {
			t.Fatalf("bad token: %+v", r)
		}
	})

	t.Run("the token from the environment", func(t *testing.T) {
		t.Setenv("INTERLOAN_TOKEN", l.AdminToken)
		t.Setenv("INTERLOAN_SERVER", "http://"+l.Addrs.Gateway)
		invoke(l.ctx, "profiles", "get", "abc").must(t, exitOK)
	})

	t.Run("a viewer may read but not start a run", func(t *testing.T) {
		tok, err := suite.CreateToken(l.Addrs.TokensFile, "", "reader", auth.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		f := l.file("viewer.token", tok)
		// Each service reloads the tokens file within seconds, on its own: wait for the
		// harvester, which StartRun reaches.
		deadline := time.Now().Add(30 * time.Second)
		for l.cliAs(f, "runs", "list").code != exitOK {
			if time.Now().After(deadline) {
				t.Fatal("the viewer token was never accepted")
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := l.cliAs(f, "import", "run", "--profile", "abc").must(t, exitServer)
		if !strings.Contains(r.stderr, "PERMISSION_DENIED") {
			t.Fatalf("viewer start: %q", r.stderr)
		}
	})
}

// TestImportWaitExitCodes: --wait turns the run's final state into the exit code.
func TestImportWaitExitCodes(t *testing.T) {
	l := startLive(t, false)
	l.library("MAIN")
	l.partner("Xyz")
	keyFile := l.file("k", "key")
	// Def: one lender is no partner, so its requests are not imported (warnings).
	l.seed("Def", "key", 10, fakelibris.StatusEjAvbestalld, "Xyz", "Nope")
	// Ghi: no library mapping at all, so the run fails before fetching.
	l.Libris.AddKey("key", "Ghi")
	start := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	for _, sigel := range []string{"Def", "Ghi"} {
		l.cli("profiles", "create", "--code", strings.ToLower(sigel), "--display-name", sigel, "--base-url", l.Libris.URL,
			"--library-code", sigel, "--resource-sharing-library", "MAIN", "--api-key-file", keyFile, "--harvest-start", start).must(t, exitOK)
	}
	for _, tc := range []struct {
		profile string
		code    int
		stderr  string
	}{
		{"def", exitRunNotClean, "not every request was imported"},
		{"ghi", exitRunFailed, "ended FAILED — MAPPING_MISSING"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			r := l.cli("import", "run", "--profile", tc.profile, "--wait").must(t, tc.code)
			if !strings.Contains(r.stderr, tc.stderr) || !strings.Contains(r.stdout, "State:") {
				t.Fatalf("stderr %q\nstdout:\n%s", r.stderr, r.stdout)
			}
		})
	}

	// The report of the run with warnings names the requests it did not import, and why.
	var runs harvesterv1.ListRunsResponse
	decode(t, l.cli("runs", "list", "--profile", "def", "-o", "json").must(t, exitOK).stdout, &runs)
	report := l.cli("runs", "report", runs.GetRuns()[0].GetName()).must(t, exitOK).stdout
	skipped := runs.GetRuns()[0].GetCounters().GetSkipped()
	if skipped == 0 || strings.Count(report, "PARTNER_UNKNOWN") != int(min(skipped, reportEvents)) || !strings.Contains(report, "NOT IMPORTED") {
		t.Fatalf("%d skipped; report:\n%s", skipped, report)
	}
}

// Over TLS, as `interloan up` runs by default: the CLI trusts the suite's CA with
// --ca-file, and says what to do without it.
func TestOverTLS(t *testing.T) {
	l := startLive(t, true)
	l.library("MAIN")
	l.partner("Xyz")
	if out := l.cli("partners").must(t, exitOK).stdout; row(t, out, "Xyz", 1) != "Xyz" {
		t.Fatalf("partners:\n%s", out)
	}
	r := invoke(l.ctx, "partners", "--server", "https://"+l.Addrs.Gateway, "--token-file", l.tokenFile).must(t, exitServer)
	if !strings.Contains(r.stderr, "--ca-file") {
		t.Fatalf("without the CA: %q", r.stderr)
	}
	r = invoke(l.ctx, "partners", "--server", "http://"+l.Addrs.Gateway, "--token-file", l.tokenFile).must(t, exitServer)
	if !strings.Contains(r.stderr, "HTTP 400") || !strings.Contains(r.stderr, "HTTPS server") {
		t.Fatalf("plain http to the TLS gateway: %q", r.stderr)
	}
}

// TestConfigurationCLI configures the suite through the CLI alone: libraries, partners,
// mappings and a profile, created, read, changed with update masks and etags, its key
// set from stdin, activated, listed as a scheduled job, audited and deleted.
func TestConfigurationCLI(t *testing.T) {
	l := startLive(t, false)

	t.Run("libraries", func(t *testing.T) {
		r := l.cli("libraries", "create", "MAIN", "--display-name", "Main", "--resource-sharing").must(t, exitOK)
		if !strings.Contains(r.stdout, "libraries/MAIN") || !strings.Contains(r.stdout, "Resource sharing:  yes") {
			t.Fatalf("create:\n%s", r.stdout)
		}
		l.cli("libraries", "create", "BRANCH", "--display-name", "Branch").must(t, exitOK)
		var lib mappingv1.Library
		decode(t, l.cli("libraries", "get", "MAIN", "-o", "json").must(t, exitOK).stdout, &lib)
		r = l.cli("libraries", "update", "MAIN", "--display-name", "Main library", "--etag", lib.GetEtag()).must(t, exitOK)
		if !strings.Contains(r.stdout, "Main library") || !strings.Contains(r.stdout, "Resource sharing:  yes") {
			t.Fatalf("update kept the other fields? %s", r.stdout)
		}
		// The etag read before the update is stale now.
		r = l.cli("libraries", "update", "MAIN", "--display-name", "x", "--etag", lib.GetEtag()).must(t, exitServer)
		if !strings.Contains(r.stderr, "ABORTED") {
			t.Fatalf("stale etag: %q", r.stderr)
		}
		l.cli("libraries", "update", "MAIN").must(t, exitUsage)
		if out := l.cli("libraries", "list").must(t, exitOK).stdout; row(t, out, "BRANCH", 3) != "BRANCH Branch no" {
			t.Fatalf("list:\n%s", out)
		}
	})

	t.Run("partners", func(t *testing.T) {
		l.cli("partners", "create", "Xyz", "--display-name", "Xyz library", "--system", "libris", "--contact-email", "xyz@example.org").must(t, exitOK)
		r := l.cli("partners", "update", "Xyz", "--status", "inactive").must(t, exitOK)
		if !strings.Contains(r.stdout, "INACTIVE") || !strings.Contains(r.stdout, "xyz@example.org") {
			t.Fatalf("update:\n%s", r.stdout)
		}
		out := l.cli("partners", "resolve", "Xyz", "Nope").must(t, exitOK).stdout
		if row(t, out, "Nope", 2) != "Nope no" || row(t, out, "partners/Xyz", 3) != "Xyz yes partners/Xyz" {
			t.Fatalf("resolve:\n%s", out)
		}
	})

	var mappingID string
	t.Run("mappings", func(t *testing.T) {
		var m mappingv1.LibraryMapping
		decode(t, l.cli("mappings", "create", "--system", "libris", "--external-code", "Abc", "--local-library", "MAIN", "-o", "json").must(t, exitOK).stdout, &m)
		mappingID = lastSegment(m.GetName())
		r := l.cli("mappings", "update", mappingID, "--local-library", "BRANCH").must(t, exitOK)
		if !strings.Contains(r.stdout, "BRANCH") || !strings.Contains(r.stdout, "Abc") {
			t.Fatalf("update:\n%s", r.stdout)
		}
		if out := l.cli("mappings", "resolve", "--system", "libris", "Abc").must(t, exitOK).stdout; row(t, out, "Abc", 3) != "Abc yes BRANCH" {
			t.Fatalf("resolve:\n%s", out)
		}
		l.cli("mappings", "resolve", "Abc").must(t, exitUsage)
	})

	t.Run("profiles", func(t *testing.T) {
		l.cli("profiles", "create", "--code", "abc", "--display-name", "Libris Abc", "--base-url", l.Libris.URL, "--library-code", "Abc",
			"--resource-sharing-library", "MAIN", "--harvest-start", time.Now().AddDate(0, 0, -1).Format(time.DateOnly), "--daily", "06:30").must(t, exitOK)
		// The key from stdin: set, never shown.
		r := invokeIn(l.ctx, "the-secret-key\n", "profiles", "set-key", "abc", "--server", l.GatewayURL(), "--token-file", l.tokenFile).must(t, exitOK)
		if !strings.Contains(r.stdout, "API key set:               yes") || strings.Contains(r.stdout+r.stderr, "the-secret-key") {
			t.Fatalf("set-key:\n%s\n%s", r.stdout, r.stderr)
		}
		l.cli("profiles", "set-key", "abc", "--from-file", l.file("empty", "\n")).must(t, exitUsage)
		l.cli("profiles", "set-key", "abc", "--from-file", l.file("k", "key-2\n")).must(t, exitOK)
		// An update changes the fields given and keeps the rest of the block.
		r = l.cli("profiles", "update", "abc", "--description", "Borrowing from Libris", "--base-url", l.Libris.URL+"/v2").must(t, exitOK)
		if !strings.Contains(r.stdout, "Borrowing from Libris") || !strings.Contains(r.stdout, l.Libris.URL+"/v2 sigel Abc") ||
			!strings.Contains(r.stdout, "daily 06:30") || !strings.Contains(r.stdout, "API key set:               yes") {
			t.Fatalf("update:\n%s", r.stdout)
		}
		f := l.file("upd.yaml", "displayName: Libris Abc (file)\n")
		if r = l.cli("profiles", "update", "abc", "-f", f).must(t, exitOK); !strings.Contains(r.stdout, "Libris Abc (file)") || !strings.Contains(r.stdout, "Borrowing from Libris") {
			t.Fatalf("update -f:\n%s", r.stdout)
		}
		l.cli("profiles", "update", "abc").must(t, exitUsage)
		if r = l.cli("profiles", "activate", "abc").must(t, exitOK); !strings.Contains(r.stdout, "Active:                    yes") {
			t.Fatalf("activate:\n%s", r.stdout)
		}
		var jobs harvesterv1.ListScheduledJobsResponse
		deadline := time.Now().Add(30 * time.Second)
		for len(jobs.GetScheduledJobs()) == 0 && time.Now().Before(deadline) {
			decode(t, l.cli("jobs", "list", "-o", "json").must(t, exitOK).stdout, &jobs)
			if len(jobs.GetScheduledJobs()) == 0 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		if j := jobs.GetScheduledJobs(); len(j) != 1 || j[0].GetProfile() != "integrationProfiles/abc" {
			t.Fatalf("jobs: %v", &jobs)
		}
		if r = l.cli("profiles", "deactivate", "abc").must(t, exitOK); !strings.Contains(r.stdout, "Active:                    no") {
			t.Fatalf("deactivate:\n%s", r.stdout)
		}
		if out := l.cli("parked", "list", "--profile", "abc").must(t, exitOK).stdout; strings.TrimSpace(out) != "EXTERNAL ID  REASON CODE  ATTEMPTS  PARKED  RUN  REASON" {
			t.Fatalf("parked:\n%s", out)
		}
		if r = l.cli("parked", "retry", "--profile", "abc", "L-1").must(t, exitServer); !strings.Contains(r.stderr, "NOT_FOUND") {
			t.Fatalf("retry of nothing parked: %q", r.stderr)
		}
	})

	t.Run("audit", func(t *testing.T) {
		out := l.cli("audit", "list", "--service", "profiles").must(t, exitOK).stdout
		if !strings.Contains(out, "CREATE") || !strings.Contains(out, "UPDATE") || !strings.Contains(out, "integrationProfiles/abc") {
			t.Fatalf("profiles trail:\n%s", out)
		}
		var events mappingv1.ListAuditEventsResponse
		decode(t, l.cli("audit", "list", "--service", "mapping", "--resource", "partners/Xyz", "-o", "json").must(t, exitOK).stdout, &events)
		if len(events.GetAuditEvents()) != 2 {
			t.Fatalf("partner's trail: %v", &events)
		}
		l.cli("audit", "list").must(t, exitUsage)
	})

	t.Run("whoami", func(t *testing.T) {
		r := invoke(l.ctx, "whoami", "--addr", l.Addrs.Profiles, "--token-file", l.tokenFile).must(t, exitOK)
		if !strings.Contains(r.stdout, "Principal:  admin") || !strings.Contains(r.stdout, "Roles:      admin") {
			t.Fatalf("whoami:\n%s", r.stdout)
		}
		r = invoke(l.ctx, "whoami", "--addr", l.Addrs.Profiles, "-o", "json").must(t, exitServer)
		if !strings.Contains(r.stderr, `"code": "UNAUTHENTICATED"`) {
			t.Fatalf("whoami without a token:\n%s", r.stderr)
		}
	})

	t.Run("deletes", func(t *testing.T) {
		if r := l.cli("profiles", "delete", "abc", "--etag", "stale").must(t, exitServer); !strings.Contains(r.stderr, "ABORTED") {
			t.Fatalf("stale etag: %q", r.stderr)
		}
		if r := l.cli("profiles", "delete", "abc").must(t, exitOK); r.stdout != "deleted integrationProfiles/abc\n" {
			t.Fatalf("delete: %q", r.stdout)
		}
		l.cli("profiles", "get", "abc").must(t, exitServer)
		l.cli("mappings", "delete", mappingID).must(t, exitOK)
		l.cli("partners", "delete", "Xyz", "-o", "json").must(t, exitOK)
		l.cli("libraries", "delete", "BRANCH").must(t, exitOK)
	})
}
