package consoletest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// suiteEnv is a running suite with a fake Libris for one test.
type suiteEnv struct {
	*testenv.Env
	t   *testing.T
	ctx context.Context
}

// startSuite starts every service (the console among them) and a fake Libris.
func startSuite(t *testing.T) *suiteEnv {
	t.Helper()
	return startEnv(t, testenv.Options{Libris: fakelibris.New(fakelibris.Options{}), LogLevel: os.Getenv("CONSOLE_LOG_LEVEL")})
}

// startEnv starts every service with o, stopped when the test ends.
func startEnv(t *testing.T, o testenv.Options) *suiteEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	env, err := testenv.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	return &suiteEnv{Env: env, t: t, ctx: ctx}
}

// token creates a person's token with roles, accepted by every service on return.
func (s *suiteEnv) token(principal string, roles ...auth.Role) string {
	s.t.Helper()
	tok, err := s.NewToken(s.ctx, principal, roles...)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// chromiumPath finds the browser; the tests fail (not skip) without one, because
// `.ci/run` installs it and a missing browser must not pass for a passing console.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium package (apt-get install chromium); .ci/run does")
	return ""
}

// browser is one browser profile (its own cookie jar), like one person's browser.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts a headless Chromium with a fresh profile at 1280×800.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1280, 800),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// do performs steps with a time bound, failing the test with a screenshot on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.saveFailure(what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value, with the same bound and failure handling.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.saveFailure(what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to path on the console and waits for the page's main element.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// text returns the visible text of the first element matching the CSS selector sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// mainText is the whole visible text of the page's main element.
func (b *browser) mainText() string { return b.text("main") }

// count is the number of elements matching the CSS selector sel (0 without waiting).
func (b *browser) count(sel string) int {
	b.t.Helper()
	return get(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// click clicks the element matching sel and waits for the new page it leads to: the
// page being left is marked first, and the wait ends only on a loaded page without the
// mark, so the next read never sees the old page.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel,
		chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.leaving = "1"`),
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The page being left may vanish mid-question (its context is destroyed): ask again.
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`!document.documentElement.dataset.leaving && document.readyState === "complete" && document.querySelector("main") !== null`))
		cancel()
		if err == nil && loaded {
			return
		}
		if time.Now().After(deadline) {
			b.saveFailure("the page after " + sel)
			b.t.Fatalf("the page after %s did not load: %v", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fill types v into the field matching sel, replacing what it held.
func (b *browser) fill(sel, v string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%q).value = ''", sel)),
		chromedp.SendKeys(chromedp.CSS(sel), v))
}

// signIn signs in with token through the sign-in page.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.open("/signin")
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)),
	)
}

// cookies returns the browser's cookies for the console.
func (b *browser) cookies() []*network.Cookie {
	b.t.Helper()
	res := get(b, "cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
	})
	return res.Cookies
}

// readmeShots are the screenshots the README shows (make console-screenshots).
var readmeShots = map[string]bool{"requests": true, "request": true, "run-report": true, "profile-wizard": true}

// shot saves a screenshot of the page as name.png in the test's output directory, for a
// look, and the README's pictures also into CONSOLE_SCREENSHOTS.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := get(b, "screenshot", chromedp.FullScreenshot(100)) // 100: PNG; below, JPEG
	dirs := []string{b.t.TempDir()}
	if d := os.Getenv("CONSOLE_SCREENSHOTS"); d != "" && readmeShots[name] {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			b.t.Error(err)
		}
	}
}

// saveFailure keeps a screenshot of a failed step in the test's temp directory and
// names it in the log, so a CI failure can be looked at.
func (b *browser) saveFailure(what string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return
	}
	dir := os.Getenv("CONSOLE_FAILURES")
	if dir == "" {
		dir = os.TempDir()
	}
	p := filepath.Join(dir, "console-failure-"+strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()+"-"+what)+".png")
	if os.WriteFile(p, png, 0o644) == nil {
		b.t.Logf("screenshot of the failed step: %s", p)
	}
}

const sessionCookie = "__Host-interloan-session"

// visitor is a browser without a browser: plain HTTP to the console, its cookies kept
// by hand (Go's cookie jar keeps Secure cookies for https only, and the suite serves the
// console on http://localhost, which browsers treat as secure), and no redirect is
// followed or even parsed, so a Location is seen exactly as a browser would get it.
type visitor struct {
	t       *testing.T
	base    string
	cookies map[string]string
	hc      *http.Client
}

func newVisitor(t *testing.T, base string) *visitor {
	return &visitor{t: t, base: base, cookies: map[string]string{}, hc: &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 60 * time.Second}}}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// send makes one request with the visitor's cookies; form, when not nil, is the body.
func (v *visitor) send(method, path string, form url.Values, hdr map[string]string) answer {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, v.base+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range v.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: val})
	}
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	resp, err := v.hc.Transport.RoundTrip(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(v.cookies, c.Name)
		} else {
			v.cookies[c.Name] = c.Value
		}
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: string(data)}
}

// visitor is a plain-HTTP twin of b's person: their session cookie, for requests a page
// would never make (a forged form, a flood).
func (b *browser) visitor() *visitor {
	b.t.Helper()
	v := newVisitor(b.t, b.base)
	for _, c := range b.cookies() {
		if c.Name == sessionCookie {
			v.cookies[c.Name] = c.Value
		}
	}
	if len(v.cookies) == 0 {
		b.t.Fatal("the browser has no session to carry")
	}
	return v
}

// csrf is the CSRF token of b's session, as its pages carry it.
func (b *browser) csrf() string {
	b.t.Helper()
	return get(b, "csrf token", chromedp.Value(chromedp.CSS(`form[action="/signout"] input[name=csrf]`)))
}
