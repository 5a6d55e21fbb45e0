package consoletest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/internal/testenv/oidcprovider"
	"github.com/interloan/interloan/platform/auth"
	console "github.com/interloan/interloan/services/console/app"
)

// oidcSuite is a suite whose services and console accept a real OpenID provider
// (zitadel's OP on loopback) with three people: an admin, a viewer and one with no
// mapped group.
type oidcSuite struct {
	*suiteEnv
	op *oidcprovider.Provider
}

const idpName = "Library Login"

func startOIDCSuite(t *testing.T) *oidcSuite {
	t.Helper()
	op, secret := startProvider(t,
		oidcprovider.User{ID: "u-ann", Username: "ann", Password: "ann-pw", FirstName: "Ann", LastName: "Andersson", Groups: []string{"ill-admins"}},
		oidcprovider.User{ID: "u-vera", Username: "vera", Password: "vera-pw", FirstName: "Vera", LastName: "Viewer", Groups: []string{"ill-readers", "staff-canteen"}},
		oidcprovider.User{ID: "u-olle", Username: "olle", Password: "olle-pw", FirstName: "Olle", LastName: "Outsider", Groups: []string{"staff-canteen"}},
	)
	s := startEnv(t, testenv.Options{LogLevel: os.Getenv("CONSOLE_LOG_LEVEL"),
		// The code flow's access tokens are for the console's client id; the services
		// accept that audience.
		OIDC: auth.OIDCConfig{Issuer: op.Issuer, Audience: "interloan-console", RolesClaim: "groups",
			RoleMap: "ill-admins=admin,ill-staff=operator,ill-readers=viewer"},
		ConsoleOIDC: console.OIDC{ClientID: "interloan-console", ClientSecretFile: secret, ProviderName: idpName},
	})
	return &oidcSuite{suiteEnv: s, op: op}
}

// startProvider starts an OpenID provider with users and the console as its web client
// ("interloan-console", on any localhost port), stopped when the test ends; secretFile
// holds the client's secret.
func startProvider(t *testing.T, users ...oidcprovider.User) (op *oidcprovider.Provider, secretFile string) {
	t.Helper()
	op, err := oidcprovider.Start(oidcprovider.Options{
		Users: users,
		Clients: []oidcprovider.Client{{ID: "interloan-console", Secret: "console-secret",
			RedirectURIs:   []string{"http://localhost:*/signin/oidc/callback"},
			PostLogoutURIs: []string{"http://localhost:*/signin/oidc/signed-out"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	secretFile = filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte("console-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return op, secretFile
}

// signInWithProvider starts at path, follows the console's "Sign in with" button to
// the provider's own login page, signs in there as user, and waits for the console.
func (b *browser) signInWithProvider(path, user, password string) {
	b.t.Helper()
	b.open(path)
	b.do("sign in with the provider",
		chromedp.Click(chromedp.ID("signin-oidc"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("username")), // the provider's page, not ours
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS("main")),
	)
}

// clickTo clicks sel and waits for an element of the page it leads to, which the page
// clicked on does not have (click waits for any main, which may be the old page's).
func (b *browser) clickTo(sel, next string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(next)))
}

// TestOIDCSignIn: people sign in through the provider's login page and land in the
// console with the roles their groups give; a viewer sees no actions; sign-out ends the
// console's session and the provider's; someone whose groups give no role is told so;
// an admin's change is audited under the person's name from the provider.
func TestOIDCSignIn(t *testing.T) {
	s := startOIDCSuite(t)

	vera := newBrowser(t, s.ConsoleURL())
	vera.open("/profiles")
	if got := vera.text("#signin-oidc"); got != "Sign in with "+idpName {
		t.Fatalf("sign-in button reads %q", got)
	}
	vera.shot("signin-oidc")
	began := time.Now()
	vera.signInWithProvider("/signin?next=/profiles", "vera", "vera-pw")
	vera.do("the session's first page", chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)))
	t.Logf("provider sign-in, from the button to the first console page: %v", time.Since(began).Round(time.Millisecond))
	if got := vera.text(".me"); !strings.Contains(got, "Vera Viewer <"+s.op.Issuer+"#u-vera>") || !strings.Contains(got, "viewer") || strings.Contains(got, "admin") {
		t.Errorf("header shows %q, want Vera as viewer", got)
	}
	if loc := get(vera, "location", chromedp.Evaluate[string](`location.pathname`)); loc != "/profiles" {
		t.Errorf("landed on %s, want /profiles (the page asked for before sign-in)", loc)
	}
	if n := vera.count(`a[href="/profiles/new"]`); n != 0 {
		t.Error("a viewer is offered New profile")
	}
	vera.open("/libraries")
	if n := vera.count(`#new`); n != 0 {
		t.Error("a viewer is offered New library")
	}
	vera.shot("oidc-viewer")
	for _, c := range vera.cookies() {
		if len(c.Value) > 100 {
			t.Errorf("cookie %s holds %d bytes: a token in the browser?", c.Name, len(c.Value))
		}
	}

	// Sign-out ends the console's session and sends the browser through the provider's
	// end_session_endpoint back to the console.
	vera.clickTo(`form[action="/signout"] button`, "#token")
	if got := vera.mainText(); !strings.Contains(got, "You are signed out") {
		t.Errorf("after sign-out: %q", got)
	}
	if n := s.op.EndSessions(); n != 1 {
		t.Errorf("the provider's end_session_endpoint was visited %d times, want 1", n)
	}
	vera.open("/profiles")
	if vera.count("#token") != 1 {
		t.Error("after sign-out the pages still open")
	}

	// No mapped group: a clear page, and no session.
	olle := newBrowser(t, s.ConsoleURL())
	olle.signInWithProvider("/signin", "olle", "olle-pw")
	if got := olle.text("#noaccess"); !strings.Contains(got, "Olle Outsider") || !strings.Contains(got, "none of the groups") {
		t.Errorf("no-access page says %q", got)
	}
	olle.shot("oidc-noaccess")
	olle.open("/profiles")
	if olle.count("#token") != 1 {
		t.Error("someone without a role got a session")
	}

	// An admin creates a library; the mapping service's audit trail names her.
	ann := newBrowser(t, s.ConsoleURL())
	ann.signInWithProvider("/signin?next=/libraries/new", "ann", "ann-pw")
	ann.do("the new-library form", chromedp.WaitVisible(chromedp.ID("code")))
	ann.fill("#code", "OIDCLIB")
	ann.fill("#display_name", "Made by a person from the provider")
	ann.clickTo("#save", "#delete")
	events, err := s.Clients.Mapping.ListAuditEvents(s.ctx, &mappingv1.ListAuditEventsRequest{Parent: "services/mapping"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Ann Andersson <" + s.op.Issuer + "#u-ann>"
	var found bool
	for _, ev := range events.GetAuditEvents() {
		if ev.GetResource() == "libraries/OIDCLIB" {
			found = true
			if ev.GetPrincipal() != want {
				t.Errorf("audit names %q, want %q", ev.GetPrincipal(), want)
			}
		}
	}
	if !found {
		t.Errorf("no audit event for the library Ann created (page: %q)", ann.mainText())
	}
}
