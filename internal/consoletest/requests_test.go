package consoletest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/interloan/interloan/fakes/fakelibris"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/auth"
)

// dialogs accepts every dialog the page opens (the confirmations of data-confirm
// forms) and returns what they said, so far, on each call.
func (b *browser) dialogs() func() []string {
	var mu sync.Mutex
	var said []string
	events := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			said = append(said, ev.Message)
			mu.Unlock()
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), said...)
	}
}

// librisRequests are n generated requests of the Libris world's library, ordered
// yesterday or today, outstanding at a lender: imported as sent.
func librisRequests(n int, seed int64) []fakelibris.Request {
	return fakelibris.Generate(fakelibris.GenerateOptions{Seed: seed, Sigel: testenv.LibrisSigel, Count: n,
		From: time.Now().AddDate(0, 0, -1), To: time.Now(), Lenders: testenv.LibrisLenders, Statuses: []string{fakelibris.StatusUteliggande}})
}

// byExternalID finds the ledger request imported from external id.
func byExternalID(t *testing.T, s *suiteEnv, id string) *requestsv1.BorrowingRequest {
	t.Helper()
	for _, r := range ledger(t, s) {
		if r.GetExternalReference().GetExternalId() == id {
			return r
		}
	}
	t.Fatalf("no ledger request imported from %s", id)
	return nil
}

// trail is the request page's audit trail, one line per event.
func (b *browser) trail() []string {
	b.t.Helper()
	return get(b, "trail", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#trail tbody tr")).map(tr => tr.innerText.replace(/\s+/g, " "))`))
}

// TestRequestLifecycleButtons: an operator takes a loan from sent to completed with the
// buttons of its page, the lifecycle's main path; the trail names her for each step,
// a note goes into the trail as text, and anonymizing the closed request hides the patron.
func TestRequestLifecycleButtons(t *testing.T) {
	s := startSuite(t)
	reqs := librisRequests(6, 3)
	var loan fakelibris.Request
	for _, r := range reqs {
		if r.MediaType == fakelibris.MediaLan {
			loan = r
			break
		}
	}
	if loan.LFNumber == "" {
		t.Fatal("the generated requests hold no loan")
	}
	w := seedLibris(t, s, testenv.WorldOptions{Count: 0, Days: 3}, reqs...)
	importNow(t, s, w)
	br := byExternalID(t, s, loan.LFNumber)
	id := strings.TrimPrefix(br.GetName(), "borrowingRequests/")

	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("ada", auth.RoleOperator))
	confirmed := b.dialogs()
	b.open("/requests/" + id)
	if got := b.text("#status"); got != "Request sent" {
		t.Fatalf("status %q, want Request sent", got)
	}
	if got := b.text("#patron"); !strings.Contains(got, br.GetRequester().GetName()) {
		t.Errorf("patron %q, want the requester's name %q", got, br.GetRequester().GetName())
	}
	b.shot("request")

	// Someone else changes the request meanwhile: the page's etag is stale, so the action
	// is refused beside the buttons, with a way to reload, and nothing changes.
	if _, err := s.Clients.Requests.AddBorrowingRequestNote(s.ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: br.GetName(), Note: "called the lender"}); err != nil {
		t.Fatal(err)
	}
	b.click(`form[action$="/actions/receive_physically"] button`)
	if got := b.text(`#actions-h + [role=alert]`); !strings.Contains(got, "Someone else changed this") || b.count(`[role=alert] a[href="/requests/`+id+`"]`) != 1 {
		t.Errorf("a stale action: %q", got)
	}
	if got := b.text("#status"); got != "Request sent" {
		t.Fatalf("a refused action changed the status to %q", got)
	}
	b.open("/requests/" + id)

	steps := []struct{ action, label, status string }{
		{"send", "Send", "Request sent"},
		{"receive_physically", "Receive item", "Received physically"},
		{"loan_to_patron", "Loan to patron", "Loaned to patron"},
		{"return_by_patron", "Returned by patron", "Returned by patron"},
		{"return_to_partner", "Return to partner", "Returned to partner"},
		{"complete", "Complete", "Completed"},
	}
	for _, st := range steps {
		b.click(`form[action$="/actions/` + st.action + `"] button`)
		if got := b.text(".flash"); !strings.Contains(got, "Done") {
			t.Errorf("%s: notice %q", st.action, got)
		}
		if got := b.text("#status"); got != st.status {
			t.Fatalf("after %s: status %q, want %q", st.action, got, st.status)
		}
	}
	trail := b.trail()
	t.Logf("trail: %q", trail)
	for _, st := range steps {
		found := false
		for _, line := range trail {
			if strings.Contains(line, " ada ") && strings.Contains(line, st.label) && strings.Contains(line, st.status) {
				found = true
			}
		}
		if !found {
			t.Errorf("the trail has no line of ada's %s leading to %s", st.label, st.status)
		}
	}
	got, err := s.Clients.Requests.GetBorrowingRequest(s.ctx, &requestsv1.GetBorrowingRequestRequest{Name: br.GetName()})
	if err != nil || got.GetStatus() != requestsv1.Status_STATUS_COMPLETED {
		t.Fatalf("ledger: %v, %v; want completed", got.GetStatus(), err)
	}

	// A note is kept as typed, markup and all, and shown as text.
	note := "Returned in good condition <b>ok</b>"
	b.fill("#note-text", note)
	b.click(`form[action$="/actions/add_note"] button`)
	if trail := b.trail(); !strings.Contains(trail[len(trail)-1], note) || !strings.Contains(trail[len(trail)-1], "ada") {
		t.Errorf("the note's line %q", trail[len(trail)-1])
	}
	if b.count("#trail b") != 0 {
		t.Error("the note's markup became an element")
	}

	// Anonymizing asks first, then the patron shows as anonymized.
	b.click(`form[action$="/actions/anonymize"] button`)
	if len(confirmed()) != 1 {
		t.Errorf("confirmations: %q, want one before anonymizing", confirmed())
	}
	if got := b.text("#patron"); !strings.Contains(got, "anonymized") || strings.Contains(got, br.GetRequester().GetName()) {
		t.Errorf("patron after anonymizing: %q", got)
	}
}

// TestQueueTabsFiltersAndBatch: the queue counts per status as tabs, filters by tab
// and by text, and applies a confirmed batch action to the ticked requests.
func TestQueueTabsFiltersAndBatch(t *testing.T) {
	s := startSuite(t)
	w := seedLibris(t, s, testenv.WorldOptions{Count: 30, Days: 10, Seed: 11})
	importNow(t, s, w)
	all := ledger(t, s)
	sent := 0
	for _, r := range all {
		if r.GetStatus() == requestsv1.Status_STATUS_REQUEST_SENT {
			sent++
		}
	}
	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("ada", auth.RoleOperator))
	confirmed := b.dialogs()
	b.open("/")
	if got := b.text(`.tabs a[aria-current="page"]`); got != "All 30" && got != "All\n30" {
		t.Errorf("current tab %q, want All 30", got)
	}
	if n := b.count("tbody tr"); n != len(all) {
		t.Errorf("queue shows %d rows, want %d", n, len(all))
	}
	b.shot("requests")

	b.click(`.tabs a[href*="status=request_sent"]`)
	if n := b.count("tbody tr"); n != sent {
		t.Errorf("the Request sent tab shows %d rows, want %d", n, sent)
	}
	b.open("/requests?q=" + url.QueryEscape(all[0].GetExternalReference().GetExternalId()))
	if n := b.count("tbody tr"); n != 1 {
		t.Errorf("searching an external id shows %d rows, want 1", n)
	}
	b.open("/requests?q=" + url.QueryEscape("w1 w2 w3 w4 w5 w6 w7 w8 w9"))
	if got := b.mainText(); b.count(`#f-q[aria-invalid="true"]`) != 1 || !strings.Contains(got, "not valid") {
		t.Errorf("a query of 9 words: %q", got)
	}

	b.open("/requests")
	ids := get(b, "row ids", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input[name=target]")).slice(0, 2).map(i => i.value)`))
	for _, id := range ids {
		b.do("tick "+id, chromedp.Click(chromedp.ID("sel-"+id)))
	}
	b.do("choose add note", chromedp.SetValue(chromedp.ID("batch-action"), "add_note"))
	b.fill("#batch-note", "checked by batch")
	b.click(`#batch button[type=submit]`)
	if got := b.mainText(); !strings.Contains(got, "Add note: 2 done, 0 refused") {
		t.Errorf("batch result: %q", got)
	}
	if len(confirmed()) != 1 {
		t.Errorf("confirmations %q, want one before the batch", confirmed())
	}
	for _, id := range ids {
		ev, err := s.Clients.Requests.ListRequestEvents(s.ctx, &requestsv1.ListRequestEventsRequest{Parent: "borrowingRequests/" + id})
		if err != nil {
			t.Fatal(err)
		}
		last := ev.GetRequestEvents()[len(ev.GetRequestEvents())-1]
		if last.GetNote() != "checked by batch" || last.GetActor() != "ada" {
			t.Errorf("request %s's last event: %v", id, last)
		}
	}
}

// TestViewerCannotAct: a viewer sees no action on the queue, a request's page or the
// jobs; a forged POST from a viewer's session with a valid CSRF token reaches the
// service, which refuses it, and the request is unchanged.
func TestViewerCannotAct(t *testing.T) {
	s := startSuite(t)
	w := seedLibris(t, s, testenv.WorldOptions{Count: 5, Days: 3, Seed: 5})
	importNow(t, s, w)
	br := ledger(t, s)[0]
	id := strings.TrimPrefix(br.GetName(), "borrowingRequests/")

	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("vera", auth.RoleViewer))
	b.open("/requests")
	if b.count("tbody tr") != 5 {
		t.Errorf("the viewer's queue shows %d rows, want 5", b.count("tbody tr"))
	}
	if n := b.count(`main form[method=post], input[name=target]`); n != 0 {
		t.Errorf("the viewer's queue has %d action forms or checkboxes", n)
	}
	b.open("/requests/" + id)
	if n := b.count(`main form[method=post]`); n != 0 {
		t.Errorf("the viewer's request page has %d action forms", n)
	}
	if !strings.Contains(b.text("#trail"), "Imported") {
		t.Error("the viewer does not see the trail")
	}
	b.openUntil("/jobs", "#job-"+w.Profile.GetCode(), 30*time.Second)
	if n := b.count(`main form[method=post]`); n != 0 {
		t.Errorf("the viewer's jobs page has %d action forms", n)
	}

	csrf, forger := b.csrf(), b.visitor()
	post := func(path string, form url.Values) (int, string) {
		a := forger.send(http.MethodPost, path, form, nil)
		return a.code, a.body
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/requests/" + id + "/actions/send", url.Values{"csrf": {csrf}, "etag": {br.GetEtag()}}},
		{"/requests/" + id + "/actions/add_note", url.Values{"csrf": {csrf}, "note": {"forged"}}},
		{"/requests/batch", url.Values{"csrf": {csrf}, "target": {id}, "action": {"cancel_by_staff"}}},
		{"/jobs/" + w.Profile.GetCode() + "/run", url.Values{"csrf": {csrf}}},
	} {
		code, body := post(tc.path, tc.form)
		if code != http.StatusForbidden || !strings.Contains(body, "Your role does not allow this") {
			t.Errorf("viewer's POST %s: %d, want 403 with the refusal", tc.path, code)
		}
	}
	after, err := s.Clients.Requests.GetBorrowingRequest(s.ctx, &requestsv1.GetBorrowingRequestRequest{Name: br.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetEtag() != br.GetEtag() || after.GetStatus() != br.GetStatus() {
		t.Errorf("the refused POSTs changed the request: %v %s → %v %s", br.GetStatus(), br.GetEtag(), after.GetStatus(), after.GetEtag())
	}
}

// TestHostileTitleIsText: a title holding markup and script, imported from Libris, is
// shown literally on the queue and on the request's page: no element is made of it and
// no dialog opens.
func TestHostileTitleIsText(t *testing.T) {
	s := startSuite(t)
	const hostile = `<img src=x onerror=alert(1)><script>alert(2)</script>`
	reqs := librisRequests(1, 9)
	reqs[0].Title = hostile
	reqs[0].TitleOfArticle, reqs[0].Author = hostile, `"><svg onload=alert(3)>`
	w := seedLibris(t, s, testenv.WorldOptions{Count: 0, Days: 3}, reqs...)
	importNow(t, s, w)
	br := byExternalID(t, s, reqs[0].LFNumber)
	if br.GetBibliographic().GetTitle() != hostile {
		t.Fatalf("the ledger holds the title %q", br.GetBibliographic().GetTitle())
	}

	b := newBrowser(t, s.ConsoleURL())
	b.signIn(s.token("ada", auth.RoleOperator))
	opened := b.dialogs()
	for _, path := range []string{"/requests", "/requests/" + strings.TrimPrefix(br.GetName(), "borrowingRequests/")} {
		b.open(path)
		time.Sleep(300 * time.Millisecond) // time for an injected handler to fire
		if n := b.count("main img, main script, main svg"); n != 0 {
			t.Errorf("%s: the title made %d elements", path, n)
		}
		if got := b.mainText(); !strings.Contains(got, hostile) {
			t.Errorf("%s does not show the title literally: %q", path, got)
		}
	}
	if got := b.text("h1"); got != hostile {
		t.Errorf("the request page's heading %q", got)
	}
	if d := opened(); len(d) != 0 {
		t.Errorf("dialogs opened: %q", d)
	}
}
