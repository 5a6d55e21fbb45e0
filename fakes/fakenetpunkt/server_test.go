package fakenetpunkt

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, method, path string, form url.Values) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestServer(t *testing.T) {
	s := New(Options{})
	c := Credential{"u", "775100", "pw"}
	s.AddCredential(c, "DK-775100")
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s.Put(Generate(GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 5, From: from, To: from.AddDate(0, 0, 4)})...)
	auth := func(v url.Values) url.Values {
		v.Set("authentication.userIdAut", c.User)
		v.Set("authentication.groupIdAut", c.Group)
		v.Set("authentication.passwordAut", c.Password)
		return v
	}
	page := auth(url.Values{"action": {"findAllIllOrders"}, "requesterAgencyId": {"775100"}, "fromDate": {"2026-03-02"}, "toDate": {"2026-03-04"}, "start": {"2"}, "stepValue": {"1"}})
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		code               int
		want               string
	}{
		{"window by creation date, paged", "POST", DefaultBasePath, page, 200, "<numberOfOrders>3</numberOfOrders><order><orderId>NP000000003</orderId>"},
		{"specific order", "POST", DefaultBasePath, auth(url.Values{"action": {"findSpecificOrder"}, "requesterAgencyId": {"DK-775100"}, "orderId": {"NP000000005"}}), 200, "<orderId>NP000000005</orderId>"},
		{"wrong password", "POST", DefaultBasePath, url.Values{"action": {"findAllIllOrders"}, "requesterAgencyId": {"775100"}}, 200, "<error>authentication_error</error>"},
		{"another agency", "POST", DefaultBasePath, auth(url.Values{"action": {"findAllIllOrders"}, "requesterAgencyId": {"710100"}}), 200, "authentication_error"},
		{"other action", "POST", DefaultBasePath, auth(url.Values{"action": {"getReceipts"}}), 501, "not implemented"},
		{"GET", "GET", DefaultBasePath, nil, 405, ""},
		{"other path", "POST", "/x", nil, 404, ""},
	} {
		code, body := call(t, s, tc.method, tc.path, tc.form)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d containing %q", tc.name, code, body, tc.code, tc.want)
		}
	}

	if got := s.CallsOf("findSpecificOrder"); got != 1 {
		t.Fatalf("CallsOf(findSpecificOrder) = %d", got)
	}
	s.Inject(Fault{Match: "findAll", Times: 1, Status: 503})
	if code, _ := call(t, s, "POST", DefaultBasePath, page); code != 503 {
		t.Fatalf("fault: %d", code)
	}
	if code, _ := call(t, s, "POST", DefaultBasePath, page); code != 200 {
		t.Fatalf("after the fault: %d", code)
	}
	s.Inject(Fault{NonXML: true})
	if _, body := call(t, s, "POST", DefaultBasePath, page); !strings.Contains(body, "<html") {
		t.Fatalf("NonXML: %s", body)
	}
	s.ClearFaults()
	before, _ := s.Get("NP000000001")
	s.Inject(Fault{Times: 1, Churn: 5})
	call(t, s, "POST", DefaultBasePath, page)
	if after, _ := s.Get("NP000000001"); !after.LastModification.After(before.LastModification) {
		t.Fatal("churn did not bump lastModification")
	}
}
