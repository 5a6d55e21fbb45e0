package consoletest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// TestKeyboardOnly signs in and reaches a request's page with the keyboard alone: the
// skip link comes first, every control the path needs takes focus, Enter submits.
func TestKeyboardOnly(t *testing.T) {
	s := startSuite(t)
	w := seedLibris(t, s, testenv.WorldOptions{Count: 3, Days: 3, Seed: 5})
	importNow(t, s, w)
	tok := s.token("kim", auth.RoleOperator)
	b := newBrowser(t, s.ConsoleURL())
	b.open("/signin")
	focused := func() string {
		return get(b, "focused element", chromedp.Evaluate[string](
			`(e => e ? (e.id || e.getAttribute("href") || e.tagName + ":" + e.textContent.trim()) : "")(document.activeElement)`))
	}
	b.do("first Tab", chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != "#main" {
		t.Errorf("the first Tab focuses %q, want the skip link to #main", got)
	}
	// Tab on until the token field has focus, type the token, press Enter.
	for i := 0; focused() != "token"; i++ {
		if i > 20 {
			t.Fatal("Tab never reaches the token field")
		}
		b.do("Tab", chromedp.KeyEvent(kb.Tab))
	}
	b.do("type the token", chromedp.KeyEvent(tok))
	b.do("submit with Enter", chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.leaving = "1"`), chromedp.KeyEvent(kb.Enter))
	b.do("the queue", chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)))
	// From the queue, Tab to the first request's link and follow it with Enter.
	for i := 0; !strings.HasPrefix(focused(), "/requests/"); i++ {
		if i > 80 {
			t.Fatal("Tab never reaches a request's link")
		}
		b.do("Tab", chromedp.KeyEvent(kb.Tab))
	}
	b.do("open with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if got := get(b, "location", chromedp.Evaluate[string](`location.pathname`)); !strings.HasPrefix(got, "/requests/") {
		t.Errorf("Enter on a request's link led to %q", got)
	}
	// Every visible form control of the request's page has a label or an accessible name.
	unlabelled := get(b, "unlabelled controls", chromedp.Evaluate[[]string](`[...document.querySelectorAll(
		"main input:not([type=hidden]), main select, main textarea")].filter(e => e.offsetParent !== null &&
		!(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby") && !e.title).map(e => e.name || e.id)`))
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label on a request's page: %v", unlabelled)
	}
}

// TestTabletWidth: at a tablet's width (768 px) no page is wider than the screen, so
// nothing needs sideways scrolling except tables, which scroll inside their own box.
func TestTabletWidth(t *testing.T) {
	s := startSuite(t)
	w := seedLibris(t, s, testenv.WorldOptions{Count: 12, Days: 5, Seed: 6})
	run := importNow(t, s, w)
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.AdminToken)
	b.do("tablet viewport", chromedp.EmulateViewport(768, 1024))
	id := strings.TrimPrefix(run.GetName(), "runs/")
	first := strings.TrimPrefix(ledger(t, s)[0].GetName(), "borrowingRequests/")
	for _, path := range []string{"/requests", "/requests/" + first, "/jobs", "/runs", "/runs/" + id, "/runs/" + id + "/events",
		"/profiles", "/profiles/" + w.Profile.GetCode(), "/profiles/new", "/libraries", "/mappings", "/partners", "/parked"} {
		b.open(path)
		if b.count(".error") > 0 {
			t.Errorf("%s is an error page: %q", path, b.mainText())
			continue
		}
		over := get(b, "overflow of "+path, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
		if over > 0 {
			b.shot("tablet" + strings.ReplaceAll(path, "/", "-"))
			t.Errorf("%s is %d px wider than a 768 px screen", path, over)
		}
	}
	b.open("/requests")
	b.shot("tablet-requests")
}
