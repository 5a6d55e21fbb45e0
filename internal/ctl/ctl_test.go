package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// Usage errors are refused before anything is sent (the server here does not exist),
// with exit code 2 and a message naming the mistake.
func TestUsageErrors(t *testing.T) {
	t.Setenv("INTERLOAN_TOKEN", "")
	t.Setenv("INTERLOAN_TOKEN_FILE", "")
	dead := "http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "interloan needs a subcommand: audit, completion, import"},
		{[]string{"nope"}, `unknown command "nope" for "interloan"`},
		{[]string{"runs"}, "interloan runs needs a subcommand: cancel, events, get, list, start, watch"},
		{[]string{"runs", "explode"}, `unknown command "explode" for "interloan runs"`},
		{[]string{"runs", "lst"}, `unknown command "lst" for "interloan runs"; did you mean list`},
		{[]string{"runs", "report"}, "want RUN, got 0 argument(s)"},
		{[]string{"runs", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"runs", "report", "profiles/x"}, `name "profiles/x" is not a name of the form runs/*`},
		{[]string{"runs", "list", "--state", "finished"}, `--state "finished": want one of pending, running, completed-success`},
		{[]string{"runs", "list", "--page-size", "-1"}, "--page-size must not be negative"},
		{[]string{"runs", "list", "--output", "xml"}, `--output "xml": want table, json or yaml`},
		{[]string{"runs", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"runs", "list", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"runs", "list", "--server", "ftp://x"}, `--server "ftp://x": want http(s)://host:port`},
		{[]string{"runs", "list", "--server", "http://user:pw@x"}, "--server: give scheme, host, port"},
		{[]string{"runs", "list", "--token", "a", "--token-file", "b"}, "give --token or --token-file, not both"},
		{[]string{"runs", "list", "--token-file", "/nonexistent/token"}, "token file: open /nonexistent/token"},
		{[]string{"runs", "list", "--ca-file", "/nonexistent/ca.pem"}, "--ca-file: tls: CA file: open /nonexistent/ca.pem"},
		{[]string{"import", "run"}, "--profile CODE is required"},
		{[]string{"requests", "act", "1"}, "--action is required: one of add-note, anonymize"},
		{[]string{"requests", "act", "1", "--action", "fly"}, `--action "fly": want one of add-note`},
		{[]string{"requests", "act", "1", "--action", "receive-physically", "--partner", "Xyz"}, "--partner applies only to --action send"},
		{[]string{"requests", "list", "--status", "lost"}, `--status "lost": want one of created, ready-to-send`},
		{[]string{"profiles", "create"}, "give the profile with -f FILE or at least --code and --display-name"},
		{[]string{"profiles", "create", "--code", "x", "--harvest-start", "1 May"}, `--harvest-start "1 May": want YYYY-MM-DD`},
		{[]string{"profiles", "create", "--code", "x", "--daily", "25:00"}, `--daily "25:00": want HH:MM`},
		{[]string{"profiles", "create", "--code", "x", "--daily", "06:00", "--interval-minutes", "5"}, "give --daily or --interval-minutes, not both"},
		{[]string{"profiles", "create", "-f", "/nonexistent.yaml"}, "-f: open /nonexistent.yaml"},
		{[]string{"profiles", "list", "--system", "alma"}, `--system "alma": want one of libris, netpunkt`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := tc.args
			if len(args) > 1 && !slices.Contains(args, "--server") {
				args = append(args, "--server", dead)
			}
			r := invoke(context.Background(), args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 2 and %q", r.code, r.stderr, r.stdout, tc.want)
			}
		})
	}
	t.Setenv("INTERLOAN_OUTPUT", "csv")
	if r := invoke(context.Background(), "runs", "list", "--server", dead); r.code != exitUsage || !strings.Contains(r.stderr, `--output "csv"`) {
		t.Fatalf("INTERLOAN_OUTPUT=csv: %+v", r)
	}
	t.Setenv("INTERLOAN_OUTPUT", "")
	if r := invoke(context.Background(), "runs", "list", "-h"); r.code != exitOK || !strings.Contains(r.stdout, "--page-size") {
		t.Fatalf("-h: %+v", r)
	}
	t.Setenv("INTERLOAN_OUTPUT", "")
	t.Setenv("INTERLOAN_TIMEOUT", "soon")
	if r := invoke(context.Background(), "runs", "list", "--server", dead); r.code != exitUsage || !strings.Contains(r.stderr, `INTERLOAN_TIMEOUT="soon"`) {
		t.Fatalf("INTERLOAN_TIMEOUT=soon: %+v", r)
	}
}

// fakeGateway answers the CLI like the gateway would, from handler; it records the
// Authorization headers it saw.
type fakeGateway struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
	calls map[string]int
}

func newFakeGateway(t *testing.T, tls bool, handler func(w http.ResponseWriter, r *http.Request, call int)) *fakeGateway {
	f := &fakeGateway{calls: map[string]int{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		key := r.Method + " " + r.URL.Path
		f.calls[key]++
		call := f.calls[key]
		f.mu.Unlock()
		handler(w, r, call)
	})
	f.Server = httptest.NewUnstartedServer(h)
	// The refused handshake of TestCAFile is expected, not news for the test log.
	f.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.StartTLS()
	} else {
		f.Start()
	}
	t.Cleanup(f.Close)
	return f
}

func writeJSON(w http.ResponseWriter, code int, m proto.Message) {
	b, _ := protojson.Marshal(m)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// streamLines writes grpc-gateway's stream framing: one {"result": ...} per message.
func streamLines(w http.ResponseWriter, runs ...*harvesterv1.Run) {
	w.Header().Set("Content-Type", "application/json")
	for _, r := range runs {
		b, _ := protojson.Marshal(r)
		fmt.Fprintf(w, "{\"result\":%s}\n", b)
	}
}

func TestTokenSources(t *testing.T) {
	g := newFakeGateway(t, false, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":16,"message":"authentication required"}`)
			return
		}
		writeJSON(w, 200, &mappingv1.ListPartnersResponse{})
	})
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a")
	os.WriteFile(fileA, []byte("tok-file-a\n"), 0o600)
	fileNL := filepath.Join(dir, "nl")
	os.WriteFile(fileNL, []byte("tok\nsecond-line-secret\n"), 0o600)
	for _, tc := range []struct {
		name              string
		envToken, envFile string
		args              []string
		code              int
		header            string // what the server saw
	}{
		{"none", "", "", nil, exitServer, ""},
		{"env token", "tok-env", "", nil, exitOK, "Bearer tok-env"},
		{"env file", "", fileA, nil, exitOK, "Bearer tok-file-a"},
		{"flag token beats env file", "", fileA, []string{"--token", "tok-flag"}, exitOK, "Bearer tok-flag"},
		{"flag file beats env token", "tok-env", "", []string{"--token-file", fileA}, exitOK, "Bearer tok-file-a"},
		{"both in env", "tok-env", fileA, nil, exitUsage, ""},
		{"a token file of two lines", "", fileNL, nil, exitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("INTERLOAN_TOKEN", tc.envToken)
			t.Setenv("INTERLOAN_TOKEN_FILE", tc.envFile)
			g.mu.Lock()
			g.auths = nil
			g.mu.Unlock()
			r := invoke(context.Background(), append([]string{"partners", "--server", g.URL}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			for _, secret := range []string{"tok-env", "tok-file-a", "tok-flag", "second-line-secret"} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Fatalf("output shows the token %q: %s", secret, r.stderr)
				}
			}
			if tc.code == exitServer && !strings.Contains(r.stderr, "UNAUTHENTICATED: authentication required\n  (no token was sent: give --token-file") {
				t.Fatalf("no token: %q", r.stderr)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if tc.code == exitUsage {
				if len(g.auths) != 0 {
					t.Fatal("a usage error sent a request")
				}
				return
			}
			if len(g.auths) != 1 || g.auths[0] != tc.header {
				t.Fatalf("server saw %q, want %q", g.auths, tc.header)
			}
		})
	}
}

// --ca-file makes a server certified by a private CA trusted; without it the same server
// is refused.
func TestCAFile(t *testing.T) {
	g := newFakeGateway(t, true, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, &harvesterv1.Run{Name: "runs/7", State: harvesterv1.RunState_RUN_STATE_RUNNING})
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	r := invoke(context.Background(), "runs", "report", "7", "--server", g.URL, "--ca-file", ca, "--token", "t")
	if r.code != exitOK || !strings.Contains(r.stdout, "State:      RUNNING") {
		t.Fatalf("with the CA: %+v", r)
	}
	r = invoke(context.Background(), "runs", "report", "7", "--server", g.URL, "--token", "t")
	if r.code != exitServer || !strings.Contains(r.stderr, "cannot reach "+g.URL) || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("without the CA: %+v", r)
	}
	notPEM := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	if r := invoke(context.Background(), "runs", "report", "7", "--server", g.URL, "--ca-file", notPEM); r.code != exitUsage || !strings.Contains(r.stderr, "no PEM certificate") {
		t.Fatalf("a CA file without PEM: %+v", r)
	}
}

// The watch of a run survives a stream that ends early, reports an error sent in the
// stream, and gives up on a stream that keeps ending without news.
func TestFollowRun(t *testing.T) {
	running := &harvesterv1.Run{Name: "runs/1", State: harvesterv1.RunState_RUN_STATE_RUNNING, Progress: &harvesterv1.Progress{Percent: 40, Phase: "fetching"}}
	done := &harvesterv1.Run{Name: "runs/1", State: harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, Counters: &harvesterv1.RunCounters{Fetched: 3, Created: 3}}
	for _, tc := range []struct {
		name   string
		watch  func(w http.ResponseWriter, call int)
		code   int
		stderr string
	}{
		{"ends early, then completes", func(w http.ResponseWriter, call int) {
			if call == 1 {
				streamLines(w, running) // the connection closes mid-run
				return
			}
			streamLines(w, running, done)
		}, exitOK, "100% COMPLETED_SUCCESS"},
		{"an error in the stream", func(w http.ResponseWriter, _ int) {
			streamLines(w, running)
			fmt.Fprintln(w, `{"error":{"code":14,"message":"harvester is unavailable; retry later","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"UPSTREAM_UNAVAILABLE"}]}}`)
		}, exitServer, "UNAVAILABLE: harvester is unavailable; retry later (reason UPSTREAM_UNAVAILABLE)"},
		{"no news forever", func(w http.ResponseWriter, _ int) {
			streamLines(w, running)
		}, exitServer, "ended 4 times without news; its last state: RUNNING"},
		{"garbage", func(w http.ResponseWriter, _ int) {
			streamLines(w, running)
			fmt.Fprintln(w, "<html>")
		}, exitServer, "the stream sent something that is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t, false, func(w http.ResponseWriter, r *http.Request, call int) {
				if r.URL.Path != "/v1/runs/1:watch" || r.Method != "GET" {
					http.NotFound(w, r)
					return
				}
				tc.watch(w, call)
			})
			r := invoke(context.Background(), "runs", "watch", "1", "--server", g.URL)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if strings.Count(r.stderr, "40% RUNNING fetching") != 1 {
				t.Fatalf("the same progress must be drawn once:\n%s", r.stderr)
			}
		})
	}
}

func TestRunOutcome(t *testing.T) {
	for state, want := range map[harvesterv1.RunState]int{
		harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS:       exitOK,
		harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS:    exitOK,
		harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS: exitRunNotClean,
		harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS:   exitRunNotClean,
		harvesterv1.RunState_RUN_STATE_FAILED:                  exitRunFailed,
		harvesterv1.RunState_RUN_STATE_ABORTED:                 exitRunFailed,
	} {
		if got := report("x", "", runOutcome(&harvesterv1.Run{Name: "runs/1", State: state}), &bytes.Buffer{}); got != want {
			t.Errorf("%v: exit %d, want %d", state, got, want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"status with details", 400, `{"code":3,"message":"invalid request","details":[
			{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_ARGUMENT","domain":"interloan"},
			{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"code","description":"is required"}]},
			{"@type":"type.googleapis.com/some.Unknown","x":1}]}`,
			"INVALID_ARGUMENT: invalid request (reason INVALID_ARGUMENT)\n  code: is required"},
		{"no details", 404, `{"code":5,"message":"runs/9 not found"}`, "NOT_FOUND: runs/9 not found"},
		{"a proxy's page", 502, "<html>\x1b[31mBad gateway</html>\nmore", "HTTP 502 Bad Gateway: <html>\x1b[31mBad gateway</html>"},
		{"empty", 503, "", "HTTP 503 Service Unavailable"},
		{"a stream's error that is no status", 0, `"oops"`, `error in the stream: "oops"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeError(tc.status, []byte(tc.body))
			if got := err.Error(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			// What reaches the terminal has its control characters replaced.
			var printed bytes.Buffer
			if report("x", "", err, &printed) != exitServer || printed.String() != "x: "+strings.ReplaceAll(tc.want, "\x1b", " ")+"\n" {
				t.Fatalf("printed %q", printed.String())
			}
		})
	}
}

func TestParseEnum(t *testing.T) {
	for _, in := range []string{"completed-success", "COMPLETED_SUCCESS", "run_state_completed_success", " Completed-Success "} {
		if got, err := parseEnum[harvesterv1.RunState](in, "--state"); err != nil || got != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "unspecified", "RUN_STATE_UNSPECIFIED", "done"} {
		if _, err := parseEnum[harvesterv1.RunState](in, "--state"); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// Every action has a route in the proto, and every action of the proto has a way here.
func TestActionsHaveRoutes(t *testing.T) {
	for a, call := range actions {
		rt, err := routeOf(call.rpc)
		if err != nil || rt.method != "POST" || !strings.HasPrefix(rt.template, "/v1/{name=borrowingRequests/*}:") {
			t.Errorf("%v: %+v %v", a, rt, err)
		}
		req := call.request("borrowingRequests/1", "e", "n", &opts{})
		if path, _, err := rt.expand(req.ProtoReflect()); err != nil || !strings.HasPrefix(path, "/v1/borrowingRequests/1:") {
			t.Errorf("%v: %q %v", a, path, err)
		}
	}
	values := requestsv1.Action(0).Descriptor().Values()
	for i := 1; i < values.Len(); i++ {
		if _, ok := actions[requestsv1.Action(values.Get(i).Number())]; !ok {
			t.Errorf("no way to perform %s", values.Get(i).Name())
		}
	}
}

func TestRouteRequests(t *testing.T) {
	for _, tc := range []struct {
		rpc       string
		req       proto.Message
		method    string
		url, body string
	}{
		{harvesterv1.HarvesterService_ListRuns_FullMethodName,
			&harvesterv1.ListRunsRequest{Profile: "integrationProfiles/a b", State: harvesterv1.RunState_RUN_STATE_FAILED, PageSize: 5},
			"GET", "/v1/runs?pageSize=5&profile=integrationProfiles%2Fa+b&state=RUN_STATE_FAILED", ""},
		{harvesterv1.HarvesterService_StartRun_FullMethodName, &harvesterv1.StartRunRequest{Profile: "integrationProfiles/a"},
			"POST", "/v1/runs:start", `{"profile":"integrationProfiles/a"}`},
		{harvesterv1.HarvesterService_ListRunEvents_FullMethodName, &harvesterv1.ListRunEventsRequest{Parent: "runs/x y"},
			"GET", "/v1/runs/x%20y/events", ""},
		{requestsv1.RequestService_ReceiveBorrowingRequest_FullMethodName,
			&requestsv1.ReceiveBorrowingRequestRequest{Name: "borrowingRequests/4", Format: requestsv1.Format_FORMAT_DIGITAL},
			"POST", "/v1/borrowingRequests/4:receive", `{"format":"FORMAT_DIGITAL"}`},
		{profilesv1.ProfileService_CreateIntegrationProfile_FullMethodName,
			&profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: &profilesv1.IntegrationProfile{Code: "a", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS}, ValidateOnly: true},
			"POST", "/v1/integrationProfiles?validateOnly=true", `{"code":"a","system":"EXTERNAL_SYSTEM_LIBRIS"}`},
	} {
		var method, url, body string
		g := newFakeGateway(t, false, func(w http.ResponseWriter, r *http.Request, _ int) {
			b := new(bytes.Buffer)
			b.ReadFrom(r.Body)
			method, url, body = r.Method, r.URL.RequestURI(), strings.ReplaceAll(b.String(), " ", "")
			w.Write([]byte("{}"))
		})
		c, err := newClient(clientConfig{server: g.URL})
		if err != nil {
			t.Fatal(err)
		}
		resp := proto.Clone(tc.req) // any message decodes "{}"
		proto.Reset(resp)
		if err := c.call(context.Background(), tc.rpc, tc.req, resp); err != nil {
			t.Fatalf("%s: %v", tc.rpc, err)
		}
		if method != tc.method || url != tc.url || body != tc.body {
			t.Errorf("%s: sent %s %s %s\nwant %s %s %s", tc.rpc, method, url, body, tc.method, tc.url, tc.body)
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		run  *harvesterv1.Run
		want string
	}{
		{&harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_PENDING}, "[------------------------]   0% PENDING · fetched 0 created 0 updated 0 unchanged 0 skipped 0 failed 0"},
		{&harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_RUNNING, Progress: &harvesterv1.Progress{Percent: 50, Phase: "fetching\x1b[2J"}, Counters: &harvesterv1.RunCounters{Fetched: 4, Created: 3, Failed: 1}},
			"[############------------]  50% RUNNING fetching [2J · fetched 4 created 3 updated 0 unchanged 0 skipped 0 failed 1"},
		{&harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS, Progress: &harvesterv1.Progress{Percent: 99, Phase: "refreshing"}},
			"[########################] 100% COMPLETED_WITH_ERRORS · fetched 0 created 0 updated 0 unchanged 0 skipped 0 failed 0"},
		{&harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_FAILED, Progress: &harvesterv1.Progress{Percent: 250}},
			"[########################] 100% FAILED · fetched 0 created 0 updated 0 unchanged 0 skipped 0 failed 0"},
	} {
		if got := progressLine(tc.run); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}

	// On a terminal the line is redrawn in place, blanking what a longer one left.
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	long := &harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_RUNNING, Progress: &harvesterv1.Progress{Phase: "a long phase name"}}
	p.show(long)
	p.show(long)
	p.show(&harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_RUNNING})
	p.done()
	lines := strings.Split(b.String(), "\r")
	if len(lines) != 3 || len(lines[2]) != len(lines[1])+1 || !strings.HasSuffix(lines[2], " \n") {
		t.Fatalf("tty output %q", b.String())
	}
}

func TestSanitizeAndCells(t *testing.T) {
	for in, want := range map[string]string{
		"Fänrik Ståls sägner":     "Fänrik Ståls sägner",
		"a\tb\nc\x1b]0;pwned\x07": "a b c ]0;pwned ",
		"evil\u202etxt.exe":       "evil txt.exe",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cell(strings.Repeat("é", 60)); len([]rune(got)) != maxCell || !strings.HasSuffix(got, "…") {
		t.Errorf("long cell = %q", got)
	}
	if cell("") != "-" {
		t.Error("an empty cell must show -")
	}
}

// Ctrl-C while following a run stops the watch, not the run, and says so.
func TestInterruptedWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newFakeGateway(t, false, func(w http.ResponseWriter, r *http.Request, _ int) {
		streamLines(w, &harvesterv1.Run{Name: "runs/5", State: harvesterv1.RunState_RUN_STATE_RUNNING})
		w.(http.Flusher).Flush()
		cancel() // the operator presses Ctrl-C once the first state is shown
		<-r.Context().Done()
	})
	r := invoke(ctx, "runs", "watch", "5", "--server", g.URL)
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted; runs/5 goes on (interloan runs watch 5") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// A token sent in clear text off this machine gets a warning; loopback and https do not.
func TestPlainTextWarning(t *testing.T) {
	for server, warn := range map[string]bool{
		"http://127.0.0.1:8080":       false,
		"http://localhost:8080":       false,
		"http://[::1]:8080":           false,
		"https://gateway.example:443": false,
		"http://gateway.example:8080": true,
		"http://10.0.0.5:8080":        true,
		"gateway.example:8080":        false, // https by default
	} {
		c, err := newClient(clientConfig{server: server, token: "t"})
		if err != nil || c.plainTextToRemote() != warn {
			t.Errorf("%s: warn=%v, %v", server, !warn, err)
		}
	}
	c, _ := newClient(clientConfig{server: "http://gateway.example:8080"})
	if c.plainTextToRemote() {
		t.Error("no token, nothing to warn about")
	}
}

// Under -o json (or yaml) an error is one object on stderr: the status's code name, its
// message and its details as the server sent them; the exit code is as without.
func TestJSONErrors(t *testing.T) {
	g := newFakeGateway(t, false, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"code":5,"message":"runs/9 not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RUN_NOT_FOUND","domain":"interloan.dev"},`+
			`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"name","description":"no such run"}]}]}`)
	})
	type errorJSON struct {
		Error struct {
			Code    string           `json:"code"`
			Message string           `json:"message"`
			Details []map[string]any `json:"details"`
		} `json:"error"`
	}
	for _, tc := range []struct {
		args         []string
		code         int
		errCode, msg string
		reason       string
	}{
		{[]string{"runs", "get", "9", "--server", g.URL, "-o", "json"}, exitServer, "NOT_FOUND", "runs/9 not found", "RUN_NOT_FOUND"},
		{[]string{"runs", "get", "9", "--server", g.URL, "--output=yaml"}, exitServer, "NOT_FOUND", "runs/9 not found", "RUN_NOT_FOUND"},
		{[]string{"runs", "get", "--server", g.URL, "-o", "json"}, exitUsage, "INVALID_ARGUMENT", "want RUN, got 0 argument(s)", "USAGE"},
		{[]string{"runs", "get", "9", "-o", "json", "--bogus"}, exitUsage, "INVALID_ARGUMENT", "unknown flag: --bogus", "USAGE"},
		{[]string{"runs", "get", "9", "--server", "http://127.0.0.1:1", "-o", "json"}, exitServer, "UNAVAILABLE", "cannot reach http://127.0.0.1:1", "UNREACHABLE"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := invoke(context.Background(), tc.args...)
			var got errorJSON
			doc, err := yaml.YAMLToJSON([]byte(r.stderr))
			if err == nil {
				err = json.Unmarshal(doc, &got)
			}
			if r.code != tc.code || err != nil || r.stdout != "" {
				t.Fatalf("exit %d (want %d), %v, stderr:\n%s", r.code, tc.code, err, r.stderr)
			}
			e := got.Error
			if e.Code != tc.errCode || !strings.Contains(e.Message, tc.msg) || len(e.Details) == 0 || e.Details[0]["reason"] != tc.reason {
				t.Fatalf("error object %+v", e)
			}
		})
	}
	// The details travel as the server sent them, BadRequest's violations included.
	r := invoke(context.Background(), "runs", "get", "9", "--server", g.URL, "-o", "json")
	if !strings.Contains(r.stderr, `"fieldViolations"`) || !strings.Contains(r.stderr, `"no such run"`) {
		t.Fatalf("details:\n%s", r.stderr)
	}
}

// After the window (retry set, refresh), the bar says the window is done and counts what
// the phase handled, instead of sitting at 99%; a log gets a line per phase, and within
// one phase at most one per plainEvery.
func TestProgressPhases(t *testing.T) {
	running := func(pct int32, phase string, fetched int64) *harvesterv1.Run {
		return &harvesterv1.Run{State: harvesterv1.RunState_RUN_STATE_RUNNING,
			Progress: &harvesterv1.Progress{Percent: pct, Phase: phase, Handled: fetched}, Counters: &harvesterv1.RunCounters{Fetched: fetched}}
	}
	if got, want := progressLine(running(99, "refreshing open requests", 230)),
		"[########################] window done · RUNNING refreshing open requests (handled 230) · fetched 230 created 0 updated 0 unchanged 0 skipped 0 failed 0"; got != want {
		t.Errorf("refresh:\n got %q\nwant %q", got, want)
	}
	withTotal := running(99, "refreshing open requests", 12)
	withTotal.Progress.Total = 200
	if got := progressLine(withTotal); !strings.Contains(got, "refreshing open requests (12 of 200)") {
		t.Errorf("refresh with a total: %q", got)
	}
	// The harvester counts a one-by-one phase in its name; no second count is added.
	counted := running(99, "refreshing open requests: 37 of 200", 230)
	if got := progressLine(counted); !strings.Contains(got, "refreshing open requests: 37 of 200 · fetched") {
		t.Errorf("refresh counted by the harvester: %q", got)
	}

	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := &progress{w: &b, now: func() time.Time { return now }}
	for i := int64(1); i <= 100; i++ { // a refresh of 100 requests, one a second
		now = now.Add(time.Second)
		p.show(running(99, "refreshing open requests", i))
	}
	p.done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// The first line, one per 5 s after it, and the last one held back.
	if len(lines) != 21 || !strings.Contains(lines[len(lines)-1], "(handled 100)") {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	b.Reset()
	p = &progress{w: &b, now: func() time.Time { return now }}
	for _, phase := range []string{"pre-checks", "fetching 2026-11-01..2026-11-07", "fetching 2026-11-08..2026-11-14", "retrying requests not imported before", "refreshing open requests"} {
		p.show(running(50, phase, 1))
	}
	if n := strings.Count(b.String(), "\n"); n != 5 {
		t.Fatalf("one line per phase: %d\n%s", n, b.String())
	}
}
