package consoletest

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/internal/testenv/oidcprovider"
	"github.com/interloan/interloan/platform/auth"
	console "github.com/interloan/interloan/services/console/app"
)

// hostile is what an external system (or an administrator's typing) may put in a title,
// a name or a note: markup, an attribute break-out, a script and a script URL. Rendered
// anywhere as markup, it adds an element with an id starting "xss" or retitles the page.
func hostile(where string) string {
	return fmt.Sprintf(`"><img src=x id=xss-%[1]s onerror="document.title='xss'">'<script id=xss-s-%[1]s>document.title='xss'</script>javascript:alert(1)`, where)
}

// TestConsoleUnderAttack attacks a running console as someone without an account, as a
// viewer and an operator, through data an external system sends, from another site the
// victim's browser visits, and by flooding it; each subtest names what it tries.
func TestConsoleUnderAttack(t *testing.T) {
	logs := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	env, err := testenv.Start(ctx, testenv.Options{Libris: fakelibris.New(fakelibris.Options{}),
		// Debug level, so that a secret logged anywhere is found below.
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	s := &suiteEnv{Env: env, t: t, ctx: ctx}

	// A world whose data is hostile wherever an external system or an admin writes text.
	today := time.Now().UTC()
	w := s.Libris.World(testenv.WorldOptions{Days: 2})
	evil := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 12, Sigel: testenv.LibrisSigel, Count: 4, From: today, To: today,
		Lenders: testenv.LibrisLenders, Statuses: []string{fakelibris.StatusUteliggande}})
	evil[0].Title, evil[0].Author, evil[0].Message = hostile("title"), hostile("author"), hostile("message")
	evil[1].Publisher, evil[1].TitleOfArticle, evil[1].ISBNISSN = hostile("publisher"), hostile("article"), hostile("isbn")
	s.Libris.Put(evil...)
	// A lender code no partner has, with markup in it: the preview and readiness show it.
	yesterday := today.AddDate(0, 0, -1)
	s.Libris.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 13, Sigel: testenv.LibrisSigel, Count: 1, From: yesterday, To: yesterday,
		Lenders: []string{`Q"><img id=xss-lender>`}, Statuses: []string{fakelibris.StatusUteliggande}})...)
	w.Profile.DisplayName = "Abc " + hostile("profile")
	if err := s.Clients.Seed(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clients.Mapping.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{
		Name: partnerName(t, s, "Xyz"), DisplayName: "Xyz " + hostile("partner")}}); err != nil {
		t.Logf("a partner's display name with markup: %v", err)
	}
	run := importNow(t, s, w)
	if len(ledger(t, s)) == 0 {
		t.Fatalf("the import brought nothing: %v", run)
	}

	adminToken := s.token("ada-admin", auth.RoleAdmin)
	operatorToken := s.token("olof-operator", auth.RoleOperator)
	viewerToken := s.token("vide-viewer", auth.RoleViewer)
	secrets := []string{s.AdminToken, adminToken, operatorToken, viewerToken}

	admin := newVisitor(t, s.ConsoleURL())
	admin.signIn(adminToken, "")
	secrets = append(secrets, admin.cookies[sessionCookie], admin.csrf())

	t.Run("every response carries the CSP and the other headers", func(t *testing.T) {
		anon := newVisitor(t, s.ConsoleURL())
		viewer := newVisitor(t, s.ConsoleURL())
		viewer.signIn(viewerToken, "")
		secrets = append(secrets, viewer.cookies[sessionCookie])
		for _, c := range []struct {
			who          *visitor
			method, path string
			code         int
			hdr          map[string]string
		}{
			{anon, "GET", "/signin", 200, nil},
			{anon, "GET", "/requests", 303, nil},
			{anon, "GET", "/static/app.js", 200, nil},
			{anon, "GET", "/static/nothing.js", 404, nil},
			{anon, "GET", "/static/", 404, nil},
			{anon, "GET", "/favicon.ico", 301, nil},
			{anon, "GET", "/healthz", 200, nil},
			{anon, "POST", "/signin", 403, nil},
			{anon, "POST", "/requests/batch", 401, nil},
			{anon, "GET", "/runs/1/progress", 401, map[string]string{"Accept": "text/event-stream"}},
			{anon, "PUT", "/signin", 401, nil},
			{viewer, "GET", "/requests", 200, nil},
			{viewer, "GET", "/no/such/page", 404, nil},
			{viewer, "GET", "/runs/999999", 404, nil},
			{viewer, "GET", "/runs/999999/progress", 404, map[string]string{"Accept": "text/event-stream"}},
			{viewer, "POST", "/signout", 403, nil},
			{viewer, "GET", "/", 303, nil},
		} {
			a := c.who.send(c.method, c.path, nil, c.hdr)
			if a.code != c.code {
				t.Errorf("%s %s: HTTP %d, want %d", c.method, c.path, a.code, c.code)
			}
			csp := a.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self';", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s %s (HTTP %d): CSP %q lacks %q", c.method, c.path, a.code, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-") {
				t.Errorf("%s %s: CSP %q allows something unsafe", c.method, c.path, csp)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
				if got := a.header.Get(k); got != want {
					t.Errorf("%s %s: %s: %q, want %q", c.method, c.path, k, got, want)
				}
			}
			if c.who == viewer && a.header.Get("Cache-Control") != "no-store" && !strings.HasPrefix(c.path, "/static/") {
				t.Errorf("%s %s signed in: Cache-Control %q, want no-store", c.method, c.path, a.header.Get("Cache-Control"))
			}
		}
	})

	t.Run("no open redirect after sign-in", func(t *testing.T) {
		for _, next := range []string{
			"//evil.example/", "/\\evil.example/", "\\\\evil.example", "https:evil.example", "https://evil.example",
			"%2F%2Fevil.example", "/%2F/evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
			"\t//evil.example", " //evil.example", "/\x00/evil.example", "/\x0b/evil.example", "javascript:alert(1)",
			"/.//evil.example", "/..//evil.example", "/\u3000/evil.example",
		} {
			v := newVisitor(t, s.ConsoleURL())
			a := v.signIn(viewerToken, next)
			loc, err := url.Parse(a.header.Get("Location"))
			if err != nil {
				t.Errorf("next %q: Location %q does not parse", next, a.header.Get("Location"))
				continue
			}
			// What a browser makes of it: it drops tabs and newlines, and reads a
			// backslash as a slash, before resolving against the page.
			raw := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(a.header.Get("Location"))
			base, _ := url.Parse(s.ConsoleURL() + "/signin")
			abs, err := base.Parse(raw)
			if err != nil || abs.Host != base.Host || loc.Host != "" {
				t.Errorf("next %q: redirected to %q (a browser goes to host %q)", next, a.header.Get("Location"), hostOf(abs))
			}
		}
		// The batch form's way back stays on the console too.
		for _, back := range []string{"//evil.example", "/requests\t/evil.example", "https://evil.example"} {
			a := admin.send("POST", "/requests/batch", url.Values{"csrf": {admin.csrf()}, "back": {back}}, nil)
			if loc := a.header.Get("Location"); a.code != http.StatusSeeOther || !strings.HasPrefix(loc, "/requests?") {
				t.Errorf("batch back %q: HTTP %d to %q", back, a.code, loc)
			}
		}
	})

	t.Run("sessions: no fixation, sign-out and sign-in end the old one", func(t *testing.T) {
		v := newVisitor(t, s.ConsoleURL())
		// An attacker plants a session id of their choosing before the victim signs in.
		v.cookies[sessionCookie] = "planted-by-an-attacker"
		v.signIn(operatorToken, "")
		if got := v.cookies[sessionCookie]; got == "planted-by-an-attacker" || len(got) < 43 {
			t.Fatalf("session cookie after sign-in: %q", got)
		}
		first := v.cookies[sessionCookie]
		secrets = append(secrets, first)
		// Signing in again in the same browser renews the id and ends the old session.
		v.signIn(viewerToken, "")
		second := v.cookies[sessionCookie]
		if second == first {
			t.Error("a second sign-in kept the session id")
		}
		old := newVisitor(t, s.ConsoleURL())
		old.cookies[sessionCookie] = first
		if a := old.send("GET", "/requests", nil, nil); a.code != http.StatusSeeOther {
			t.Errorf("the session replaced by a new sign-in still opens pages (HTTP %d)", a.code)
		}
		// Sign-out ends the session on the server: a copy of the cookie opens nothing.
		thief := newVisitor(t, s.ConsoleURL())
		thief.cookies[sessionCookie] = second
		if a := thief.send("GET", "/requests", nil, nil); a.code != http.StatusOK {
			t.Fatalf("a live session's cookie: HTTP %d", a.code)
		}
		if a := v.send("POST", "/signout", url.Values{"csrf": {v.csrf()}}, nil); a.code != http.StatusSeeOther {
			t.Fatalf("sign-out: HTTP %d", a.code)
		}
		if a := thief.send("GET", "/requests", nil, nil); a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/signin") {
			t.Errorf("after sign-out a copy of the cookie still opens pages (HTTP %d)", a.code)
		}
	})

	t.Run("forged and cross-site posts change nothing", func(t *testing.T) {
		routes := consoleRoutes(t)
		ids := wildcardValues(t, s, run)
		before := suiteState(t, s)
		viewer := newVisitor(t, s.ConsoleURL())
		viewer.signIn(viewerToken, "")
		var posts int
		for _, rt := range routes {
			if rt.method != "POST" || rt.path == "/signin" {
				continue
			}
			posts++
			if !rt.authed {
				t.Errorf("POST %s is not wrapped in h.authed (session and CSRF check)", rt.path)
			}
			path := fillWildcards(rt.path, ids)
			csrf := admin.csrf()
			for _, c := range []struct {
				name  string
				form  url.Values
				hdr   map[string]string
				query string
			}{
				{"no token", url.Values{}, nil, ""},
				{"a wrong token", url.Values{"csrf": {wrongCSRF(csrf)}}, nil, ""},
				{"another session's token", url.Values{"csrf": {viewer.csrf()}}, nil, ""},
				{"from another origin", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}, ""},
				{"from an opaque origin", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "null"}, ""},
				{"cross-site", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, ""},
				{"same-site", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-site"}, ""},
				{"the token in the query", url.Values{}, nil, "csrf=" + csrf},
				{"a body over the bound", url.Values{"csrf": {csrf}, "note": {strings.Repeat("n", 70<<10)}}, nil, ""},
			} {
				p := path
				if c.query != "" {
					p += "?" + c.query
				}
				a := admin.send("POST", p, c.form, c.hdr)
				if a.code != http.StatusForbidden || !strings.Contains(a.body, "was not sent from this console") {
					t.Errorf("POST %s %s: HTTP %d, want 403 and the CSRF refusal", path, c.name, a.code)
				}
			}
			// Control: the route exists and its page takes a proper post (a viewer's,
			// which the service refuses, so that nothing changes).
			if rt.path != "/signout" {
				a := viewer.send("POST", path, url.Values{"csrf": {viewer.csrf()}}, map[string]string{"Origin": s.ConsoleURL(), "Sec-Fetch-Site": "same-origin"})
				if a.code == http.StatusForbidden && strings.Contains(a.body, "was not sent from this console") || a.code == http.StatusNotFound && !strings.Contains(a.body, `class="detail"`) {
					t.Errorf("control: POST %s with the viewer's own token: HTTP %d", path, a.code)
				}
			}
		}
		t.Logf("%d routes in the console's code; %d POST routes besides /signin attacked", len(routes), posts)
		if posts < 20 {
			t.Errorf("found %d POST routes in the console's code; the walk of the mux patterns is broken", posts)
		}
		// GET never changes state: every page, with real ids.
		for _, rt := range routes {
			if rt.method == "GET" {
				admin.send("GET", fillWildcards(rt.path, ids), nil, nil)
			}
		}
		if after := suiteState(t, s); after != before {
			t.Errorf("refused posts or pages changed the suite's state:\nbefore %s\nafter  %s", before, after)
		}
		if a := admin.send("GET", "/requests?q="+strings.Repeat("q", 80<<10), nil, nil); a.code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("an 80 KB query: HTTP %d, want 431", a.code)
		}
	})

	t.Run("hostile data is shown as text", func(t *testing.T) {
		b := newBrowser(t, s.ConsoleURL())
		b.signIn(adminToken)
		var evilID string
		for _, r := range ledger(t, s) {
			if strings.Contains(r.GetBibliographic().GetTitle(), "xss-title") {
				evilID = strings.TrimPrefix(r.GetName(), "borrowingRequests/")
			}
		}
		if evilID == "" {
			evs, _ := s.Clients.Harvester.ListRunEvents(ctx, &harvesterv1.ListRunEventsRequest{Parent: run.GetName(), PageSize: 100})
			t.Fatalf("the hostile request was not imported: %v\n%v", run.GetCounters(), evs)
		}
		runID := strings.TrimPrefix(run.GetName(), "runs/")
		code := w.Profile.GetCode()
		for _, p := range []string{"/requests", "/requests?q=" + url.QueryEscape(`"><img id=xss-q>`), "/requests/" + evilID, "/runs", "/runs/" + runID,
			"/runs/" + runID + "/events", "/jobs", "/parked", "/profiles", "/profiles/" + code, "/profiles/" + code + "/edit",
			"/profiles/" + code + "/preview", "/partners", "/partners/Xyz", "/libraries", "/mappings",
			"/partners/new?code=" + url.QueryEscape(`x"><img id=xss-prefill>`)} {
			b.open(p)
			if n := b.count(`[id^="xss"]`); n != 0 {
				b.shot("xss")
				t.Errorf("%s: %d injected elements", p, n)
			}
			if title := get(b, "title", chromedp.Title()); strings.Contains(title, "xss") {
				t.Errorf("%s: a script ran (title %q)", p, title)
			}
		}
		b.open("/requests/" + evilID)
		b.shot("hostile-request")
		if got := b.mainText(); !strings.Contains(got, `<img src=x id=xss-title`) {
			t.Errorf("the hostile title is not shown as text: %q", got)
		}
	})

	t.Run("live progress streams are bounded", func(t *testing.T) {
		// A run that stays running: every call to Libris answers a minute late.
		s.Libris.Inject(fakelibris.Fault{Match: "outgoing", Delay: time.Minute})
		defer s.Libris.ClearFaults()
		r, err := s.Clients.Harvester.StartRun(ctx, &harvesterv1.StartRunRequest{Profile: w.ProfileName()})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = s.Clients.Harvester.CancelRun(ctx, &harvesterv1.CancelRunRequest{Name: r.GetName()}) }()
		progress := "/" + r.GetName() + "/progress"

		anon := newVisitor(t, s.ConsoleURL())
		if a := anon.send("GET", progress, nil, map[string]string{"Accept": "text/event-stream"}); a.code != http.StatusUnauthorized {
			t.Errorf("progress without a session: HTTP %d, want 401", a.code)
		}
		viewer := newVisitor(t, s.ConsoleURL())
		viewer.signIn(viewerToken, "")
		for _, id := range []string{"..", "..%2F..%2Fprofiles", "%2e%2e", "1%2F2", "-1", strings.Repeat("9", 200), "%00"} {
			if a := viewer.send("GET", "/runs/"+id+"/progress", nil, map[string]string{"Accept": "text/event-stream"}); a.code < 300 || a.code >= 500 {
				t.Errorf("progress of run %q: HTTP %d, want a refusal", id, a.code)
			}
		}

		// One person opens far more streams than any page needs.
		const flood = 110
		type opened struct {
			code int
			body io.Closer
		}
		results := make(chan opened, flood)
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		began := time.Now()
		for range flood {
			go func() {
				// A stream that has not answered within 15 s is given up: the flood has
				// taken every call the console may have open to the harvester.
				rctx, cancel := context.WithCancel(sctx)
				timer := time.AfterFunc(15*time.Second, cancel)
				req, _ := http.NewRequestWithContext(rctx, "GET", s.ConsoleURL()+progress, nil)
				req.Header.Set("Accept", "text/event-stream")
				req.AddCookie(&http.Cookie{Name: sessionCookie, Value: viewer.cookies[sessionCookie]})
				resp, err := (&http.Transport{}).RoundTrip(req)
				if err != nil || !timer.Stop() {
					results <- opened{code: 0}
					return
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
				}
				results <- opened{code: resp.StatusCode, body: resp.Body}
			}()
		}
		codes := map[int]int{}
		for range flood {
			o := <-results
			codes[o.code]++
			if o.code == http.StatusOK {
				defer o.body.Close()
			}
		}
		t.Logf("%d progress streams asked for by one person in %v: %v (HTTP code: count)", flood, time.Since(began).Round(time.Millisecond), codes)
		if codes[http.StatusOK] == 0 || codes[http.StatusOK] > 16 {
			t.Errorf("one person holds %d progress streams, want some and at most 16", codes[http.StatusOK])
		}
		// Everyone else's pages still reach the harvester.
		other := newVisitor(t, s.ConsoleURL())
		other.signIn(operatorToken, "")
		start := time.Now()
		if a := other.send("GET", "/"+r.GetName(), nil, nil); a.code != http.StatusOK {
			t.Errorf("another person's run page during the flood: HTTP %d after %v", a.code, time.Since(start).Round(time.Millisecond))
		}
		if code := other.openStream(progress); code != http.StatusOK {
			t.Errorf("another person's progress stream during the flood: HTTP %d", code)
		}
	})

	// Last: nothing secret was logged, at debug level, by any service or the console.
	all := logs.String()
	t.Logf("the suite logged %d bytes at debug level", len(all))
	if !strings.Contains(all, `"msg":"console sign-in"`) || !strings.Contains(all, "refused a state-changing request") {
		t.Error("the console's own log lines are not in the captured logs: the search below would prove nothing")
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(all, sec) {
			t.Errorf("a secret (%d characters, starting %q) is in the logs", len(sec), sec[:min(4, len(sec))])
		}
	}
}

// openStream opens the server-sent events at path, and closes them once they answer:
// it returns the status code.
func (v *visitor) openStream(path string) int {
	v.t.Helper()
	req, _ := http.NewRequest("GET", v.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v.cookies[sessionCookie]})
	resp, err := v.hc.Transport.RoundTrip(req)
	if err != nil {
		v.t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var (
	nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// signIn signs in with token through the sign-in form as a browser would, asking to go
// to next afterwards, and returns the form's answer.
func (v *visitor) signIn(token, next string) answer {
	v.t.Helper()
	page := v.send("GET", "/signin", nil, nil)
	m := nonceField.FindStringSubmatch(page.body)
	if m == nil {
		v.t.Fatalf("no nonce on the sign-in page (HTTP %d)", page.code)
	}
	a := v.send("POST", "/signin", url.Values{"nonce": {m[1]}, "token": {token}, "next": {next}},
		map[string]string{"Origin": v.base, "Sec-Fetch-Site": "same-origin"})
	if a.code != http.StatusSeeOther || v.cookies[sessionCookie] == "" {
		v.t.Fatalf("sign-in: HTTP %d", a.code)
	}
	return a
}

// csrf is the session's CSRF token, from the sign-out form of any signed-in page.
func (v *visitor) csrf() string {
	v.t.Helper()
	m := csrfField.FindStringSubmatch(v.send("GET", "/no-such-page", nil, nil).body)
	if m == nil {
		v.t.Fatal("no CSRF token on a signed-in page")
	}
	return m[1]
}

func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}

// route is one pattern the console's mux serves.
type route struct {
	method, path string
	authed       bool // wrapped in h.authed
}

// consoleRoutes reads the patterns the console registers from its source: every call of
// h.mux.Handle or HandleFunc in services/console/internal/web, its pattern (string
// constants resolved) and whether the handler is h.authed(...). A route added anywhere
// there is attacked by the test without the test being told.
func consoleRoutes(t *testing.T) []route {
	t.Helper()
	dir := filepath.Join("..", "..", "services", "console", "internal", "web")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the console's source: %v (%d files)", err, len(files))
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	consts := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, file)
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, sp := range g.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
	}
	var str func(ast.Expr) (string, bool)
	str = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(e.Value)
			return s, err == nil && e.Kind == token.STRING
		case *ast.Ident:
			s, ok := consts[e.Name]
			return s, ok
		case *ast.BinaryExpr:
			a, ok1 := str(e.X)
			b, ok2 := str(e.Y)
			return a + b, ok1 && ok2 && e.Op == token.ADD
		}
		return "", false
	}
	var out []route
	for _, file := range parsed {
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if mux, ok := sel.X.(*ast.SelectorExpr); !ok || mux.Sel.Name != "mux" {
				return true
			}
			pattern, ok := str(call.Args[0])
			if !ok {
				t.Errorf("%s: a route pattern the test cannot read", fset.Position(call.Pos()))
				return true
			}
			rt := route{path: pattern}
			if m, p, found := strings.Cut(pattern, " "); found {
				rt.method, rt.path = m, p
			}
			if c, ok := call.Args[1].(*ast.CallExpr); ok {
				if f, ok := c.Fun.(*ast.SelectorExpr); ok && f.Sel.Name == "authed" {
					rt.authed = true
				}
			}
			out = append(out, rt)
			return true
		})
	}
	return out
}

// wildcardValues are real names for the patterns' wildcards, by the path's first
// segment, so that a forged post would reach a real object.
func wildcardValues(t *testing.T, s *suiteEnv, run *harvesterv1.Run) map[string]string {
	t.Helper()
	libs, err := s.Clients.Mapping.ListLibraries(s.ctx, &mappingv1.ListLibrariesRequest{PageSize: 1})
	if err != nil || len(libs.GetLibraries()) == 0 {
		t.Fatalf("libraries: %v", err)
	}
	maps, err := s.Clients.Mapping.ListLibraryMappings(s.ctx, &mappingv1.ListLibraryMappingsRequest{PageSize: 1})
	if err != nil || len(maps.GetLibraryMappings()) == 0 {
		t.Fatalf("mappings: %v", err)
	}
	profiles, err := s.Clients.Profiles.ListIntegrationProfiles(s.ctx, &profilesv1.ListIntegrationProfilesRequest{PageSize: 1})
	if err != nil || len(profiles.GetIntegrationProfiles()) == 0 {
		t.Fatalf("profiles: %v", err)
	}
	profile := strings.TrimPrefix(profiles.GetIntegrationProfiles()[0].GetName(), "integrationProfiles/")
	return map[string]string{
		"libraries": strings.TrimPrefix(libs.GetLibraries()[0].GetName(), "libraries/"),
		"mappings":  strings.TrimPrefix(maps.GetLibraryMappings()[0].GetName(), "libraryMappings/"),
		"partners":  strings.TrimPrefix(partnerName(t, s, "Xyz"), "partners/"),
		"profiles":  profile, "jobs": profile,
		"runs":     strings.TrimPrefix(run.GetName(), "runs/"),
		"requests": strings.TrimPrefix(ledger(t, s)[0].GetName(), "borrowingRequests/"),
	}
}

func fillWildcards(path string, ids map[string]string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return strings.NewReplacer("{code}", ids[seg], "{id}", ids[seg], "{action}", "cancel_by_staff", "{$}", "").Replace(path)
}

// partnerName is the resource name of the Libris partner with code.
func partnerName(t *testing.T, s *suiteEnv, code string) string {
	t.Helper()
	resp, err := s.Clients.Mapping.ListPartners(s.ctx, &mappingv1.ListPartnersRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.GetPartners() {
		if p.GetCode() == code && p.GetSystem() == typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS {
			return p.GetName()
		}
	}
	t.Fatalf("no Libris partner %s", code)
	return ""
}

// suiteState is everything a console action could change, as the administrator lists
// it: profiles, libraries, mappings, partners, the ledger, runs and parked items.
func suiteState(t *testing.T, s *suiteEnv) string {
	t.Helper()
	ctx := s.ctx
	var parts []proto.Message
	add := func(m proto.Message, err error) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, m)
	}
	profiles, err := s.Clients.Profiles.ListIntegrationProfiles(ctx, &profilesv1.ListIntegrationProfilesRequest{PageSize: 1000})
	add(profiles, err)
	for _, p := range profiles.GetIntegrationProfiles() {
		add(s.Clients.Harvester.ListParkedItems(ctx, &harvesterv1.ListParkedItemsRequest{Parent: p.GetName(), PageSize: 1000}))
	}
	add(s.Clients.Mapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: 1000}))
	add(s.Clients.Mapping.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{PageSize: 1000}))
	add(s.Clients.Mapping.ListPartners(ctx, &mappingv1.ListPartnersRequest{PageSize: 1000}))
	add(s.Clients.Requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{PageSize: 1000}))
	add(s.Clients.Harvester.ListRuns(ctx, &harvesterv1.ListRunsRequest{PageSize: 1000}))
	var b strings.Builder
	for _, m := range parts {
		data, err := protojson.MarshalOptions{}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// logBuffer collects the suite's log lines from every goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestOIDCSignInUnderAttack drives the provider sign-in over plain HTTP against a real
// OpenID provider and attacks the callback: another browser presenting it, a replay, an
// answer naming another issuer, a way back off the site; it checks PKCE is sent, and
// that no token, code or state reaches a log line, at debug level.
func TestOIDCSignInUnderAttack(t *testing.T) {
	logs := &logBuffer{}
	op, secretFile := startProvider(t,
		oidcprovider.User{ID: "u-ann", Username: "ann", Password: "ann-pw", FirstName: "Ann", LastName: "Andersson", Groups: []string{"ill-admins"}})
	env := startEnv(t, testenv.Options{
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OIDC: auth.OIDCConfig{Issuer: op.Issuer, Audience: "interloan-console", RolesClaim: "groups",
			RoleMap: "ill-admins=admin"},
		ConsoleOIDC: console.OIDC{ClientID: "interloan-console", ClientSecretFile: secretFile},
	})
	base := env.ConsoleURL()
	var seen []string // codes and states, which must not be logged either

	// toCallback starts a sign-in in v (asking to go to next afterwards), signs in on the
	// provider's login page and returns the callback URL the provider sends v back to.
	toCallback := func(v *visitor, next string) string {
		t.Helper()
		start := v.send("GET", "/signin/oidc?next="+url.QueryEscape(next), nil, nil)
		authz, err := url.Parse(start.header.Get("Location"))
		if start.code != http.StatusSeeOther || err != nil {
			t.Fatalf("start: HTTP %d to %q", start.code, start.header.Get("Location"))
		}
		q := authz.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("code_verifier") != "" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Errorf("the authorization request lacks PKCE S256, a nonce or a state, or shows the verifier: %v", q)
		}
		if v.cookies["__Host-interloan-oidc"] != q.Get("state") {
			t.Error("the state is not the one the browser's cookie carries")
		}
		jar, _ := cookiejar.New(nil)
		consoleHost := strings.TrimPrefix(base, "http://")
		idp := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host == consoleHost {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		resp, err := idp.Get(authz.String())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("no login form at the provider (HTTP %d)", resp.StatusCode)
		}
		resp, err = idp.PostForm(op.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {"ann"}, "password": {"ann-pw"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cb, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || cb.Path != "/signin/oidc/callback" || cb.Query().Get("code") == "" {
			t.Fatalf("the provider's answer: HTTP %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		seen = append(seen, cb.Query().Get("code"), cb.Query().Get("state"))
		return cb.RequestURI()
	}
	stale := func(a answer) bool {
		return a.code == http.StatusBadRequest && strings.Contains(a.body, "started in another browser")
	}

	// The victim's callback presented by another browser (no state cookie, or another
	// sign-in's) signs nobody in, and leaves the victim's sign-in usable.
	victim := newVisitor(t, base)
	cb := toCallback(victim, "/\t/evil.example")
	attacker := newVisitor(t, base)
	if a := attacker.send("GET", cb, nil, nil); !stale(a) || attacker.cookies[sessionCookie] != "" {
		t.Errorf("the callback in a browser without the state cookie: HTTP %d, session %v", a.code, attacker.cookies[sessionCookie] != "")
	}
	attacker.send("GET", "/signin/oidc", nil, nil) // a sign-in of the attacker's own
	if a := attacker.send("GET", cb, nil, nil); !stale(a) || attacker.cookies[sessionCookie] != "" {
		t.Errorf("the callback in a browser with another sign-in's state: HTTP %d", a.code)
	}
	state := victim.cookies["__Host-interloan-oidc"]
	a := victim.send("GET", cb, nil, nil)
	if a.code != http.StatusOK || victim.cookies[sessionCookie] == "" {
		t.Fatalf("the victim's own callback: HTTP %d", a.code)
	}
	if !strings.Contains(a.body, `href="/requests"`) || strings.Contains(a.body, "evil.example") {
		t.Errorf("a way back off the site survived the sign-in: %s", regexp.MustCompile(`(?s)<main.*</main>`).FindString(a.body))
	}
	if strings.Count(a.body, "eyJ") != 0 {
		t.Error("the continue page holds something shaped like a JWT")
	}
	// Replayed: by the same browser, with or without its state cookie put back.
	again := newVisitor(t, base)
	if a := again.send("GET", cb, nil, nil); !stale(a) {
		t.Errorf("a replayed callback: HTTP %d", a.code)
	}
	again.cookies["__Host-interloan-oidc"] = state
	if a := again.send("GET", cb, nil, nil); !stale(a) || again.cookies[sessionCookie] != "" {
		t.Errorf("a replayed callback with its state cookie: HTTP %d", a.code)
	}

	// Mix-up: the answer names an issuer other than the configured one (RFC 9207).
	mixed := newVisitor(t, base)
	cb = toCallback(mixed, "")
	if a := mixed.send("GET", cb+"&iss="+url.QueryEscape("https://evil.example"), nil, nil); a.code != http.StatusBadRequest || mixed.cookies[sessionCookie] != "" {
		t.Errorf("an answer naming another issuer: HTTP %d, session %v", a.code, mixed.cookies[sessionCookie] != "")
	}

	// Sign-out goes to the provider with the ID token as hint (RP-Initiated Logout puts
	// it in the URL), and comes back only to the console's own page.
	out := victim.send("POST", "/signout", url.Values{"csrf": {victim.csrf()}}, nil)
	logout, err := url.Parse(out.header.Get("Location"))
	if out.code != http.StatusSeeOther || err != nil || !strings.HasPrefix(out.header.Get("Location"), op.Issuer) {
		t.Fatalf("sign-out: HTTP %d to %q", out.code, out.header.Get("Location"))
	}
	idToken := logout.Query().Get("id_token_hint")
	if back := logout.Query().Get("post_logout_redirect_uri"); back != base+"/signin/oidc/signed-out" || idToken == "" {
		t.Errorf("sign-out: hint %v, back to %q", idToken != "", back)
	}
	if a := victim.send("GET", "/signin/oidc/signed-out?next=//evil.example&post_logout_redirect_uri=//evil.example", nil, nil); a.header.Get("Location") != "/signin?msg=flash.signed_out" {
		t.Errorf("the signed-out page sends the browser to %q", a.header.Get("Location"))
	}

	all := logs.String()
	t.Logf("the suite logged %d bytes at debug level", len(all))
	if !strings.Contains(all, `"method":"oidc"`) {
		t.Error("the console's sign-in is not in the captured logs: the search below would prove nothing")
	}
	if jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`).FindString(all); jwt != "" {
		t.Errorf("a JWT is in the logs: %.24s…", jwt)
	}
	for _, sec := range append(seen, idToken, "console-secret") {
		if sec != "" && strings.Contains(all, sec) {
			t.Errorf("a secret (%d characters, starting %q) is in the logs", len(sec), sec[:min(4, len(sec))])
		}
	}
}

// wrongCSRF is tok with its first character changed, so never tok itself.
func wrongCSRF(tok string) string {
	if strings.HasPrefix(tok, "x") {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}
