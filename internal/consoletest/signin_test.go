package consoletest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/interloan/interloan/platform/auth"
)

// TestSignInAndOut signs in with a pasted token, checks the session cookie's protection
// and that the token is nowhere in the page, then signs out.
func TestSignInAndOut(t *testing.T) {
	s := startSuite(t)
	tok := s.token("alma", auth.RoleOperator)
	b := newBrowser(t, s.ConsoleURL())

	b.open("/profiles")
	if !strings.Contains(b.mainText(), "Paste the API token") {
		t.Fatalf("a signed-out visit should land on the sign-in page, got %q", b.mainText())
	}
	// A wrong token is refused with a message, and no session starts.
	b.fill("#token", "il_not-a-real-token")
	b.click(`form[action="/signin"] button`)
	if got := b.text("#signin-error"); !strings.Contains(got, "not accepted") {
		t.Errorf("wrong token: %q", got)
	}
	b.signIn(tok)
	b.shot("signed-in")
	if got := b.text(".me"); !strings.Contains(got, "alma") || !strings.Contains(got, "operator") {
		t.Errorf("header shows %q, want the principal and role", got)
	}
	var session bool
	for _, c := range b.cookies() {
		if strings.Contains(c.Value, tok) {
			t.Errorf("cookie %s holds the token", c.Name)
		}
		if c.Name == sessionCookie {
			session = true
			if !c.HTTPOnly || !c.Secure || c.SameSite.String() != "Strict" {
				t.Errorf("session cookie: HttpOnly=%v Secure=%v SameSite=%v", c.HTTPOnly, c.Secure, c.SameSite)
			}
		}
	}
	if !session {
		t.Fatal("no session cookie after sign-in")
	}
	html := get(b, "page source", chromedp.OuterHTML(chromedp.CSS("html")))
	storage := get(b, "storage", chromedp.Evaluate[string](`JSON.stringify(localStorage)+JSON.stringify(sessionStorage)+location.href`))
	if strings.Contains(html, tok) || strings.Contains(storage, tok) {
		t.Error("the token appears in the page, the URL or browser storage")
	}

	b.click(`form[action="/signout"] button`)
	if !strings.Contains(b.mainText(), "You are signed out") {
		t.Errorf("after sign-out: %q", b.mainText())
	}
	b.open("/profiles")
	if b.count("#token") != 1 {
		t.Error("after sign-out the pages still open")
	}
}

// TestCSRF: a state-changing POST carrying the session cookie but not the page's CSRF
// token is refused, as is one that a browser marks as coming from another site.
func TestCSRF(t *testing.T) {
	s := startSuite(t)
	tok := s.token("alma", auth.RoleOperator)
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(tok)
	forger := b.visitor()
	post := func(form url.Values, hdr map[string]string) int {
		return forger.send(http.MethodPost, "/signout", form, hdr).code
	}
	if code := post(url.Values{}, nil); code != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {"forged"}}, nil); code != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", code)
	}
	// The session is still alive: the refused sign-outs changed nothing.
	b.open("/profiles")
	if b.count(`form[action="/signout"]`) != 1 {
		t.Error("a refused forged sign-out ended the session")
	}
}
