package fakenetpunkt

import (
	"bytes"
	"encoding/xml"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// soapRequest writes an OpenFindOrder SOAP request of op with elems in the order given,
// as DBC's request templates lay it out; names under authentication are nested.
func soapRequest(op string, elems ...Element) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope" xmlns:ofo="` + Namespace + `"><SOAP-ENV:Body><ofo:` + op + `Request>`)
	inAuth := false
	for _, e := range elems {
		auth := e.Name == "groupIdAut" || e.Name == "passwordAut" || e.Name == "userIdAut"
		if auth && !inAuth {
			b.WriteString("<ofo:authentication>")
		} else if !auth && inAuth {
			b.WriteString("</ofo:authentication>")
		}
		inAuth = auth
		b.WriteString("<ofo:" + e.Name + ">")
		_ = xml.EscapeText(&b, []byte(e.Value))
		b.WriteString("</ofo:" + e.Name + ">")
	}
	if inAuth {
		b.WriteString("</ofo:authentication>")
	}
	b.WriteString(`</ofo:` + op + `Request></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return b.Bytes()
}

func post(t *testing.T, s *Server, method, path, ctype string, body []byte) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

var testCred = Credential{"u", "775100", "pw"}

// window is a findAllIllOrders request of agency 775100 by the schema, with the
// given elements of requestGeneral after agency.
func window(general ...Element) []byte {
	elems := []Element{{"groupIdAut", testCred.Group}, {"passwordAut", testCred.Password}, {"userIdAut", testCred.User},
		{"requesterAgencyId", "775100"}, {"agency", "775100"}}
	return soapRequest("findAllIllOrders", append(elems, general...)...)
}

func TestServer(t *testing.T) {
	s := New(Options{})
	s.AddCredential(testCred, "DK-775100")
	s.AddBranch("775100", "775120")
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s.Put(Generate(GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 5, From: from, To: from.AddDate(0, 0, 4)})...)
	s.Put(Generate(GenerateOptions{Seed: 2, Agency: "775120", Count: 1, From: from, To: from, Prefix: "BR"})...)
	s.Put(Generate(GenerateOptions{Seed: 3, Agency: "710100", Count: 1, From: from, To: from, Prefix: "OTHER"})...)
	auth := []Element{{"groupIdAut", testCred.Group}, {"passwordAut", testCred.Password}, {"userIdAut", testCred.User}}
	with := func(first []Element, rest ...Element) []Element {
		return append(append([]Element{}, first...), rest...)
	}
	const xmlType = "text/xml; charset=utf-8"
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		code                      int
		want                      string
	}{
		{"window by creation date, paged", "POST", DefaultBasePath, xmlType,
			window(Element{"fromDate", "2026-03-02"}, Element{"toDate", "2026-03-04"}, Element{"outputType", "xml"}, Element{"sortKey", "creationDateAscending"}, Element{"start", "2"}, Element{"stepValue", "1"}),
			200, "<numberOfOrders>3</numberOfOrders><order><orderId>NP000000003</orderId>"},
		{"a branch's orders come with the library's", "POST", DefaultBasePath, xmlType,
			window(Element{"fromDate", "2026-03-01"}, Element{"toDate", "2026-03-01"}, Element{"sortKey", "creationDateAscending"}),
			200, "<requesterId>775120</requesterId>"},
		{"empty window", "POST", DefaultBasePath, xmlType, window(Element{"fromDate", "2020-01-01"}, Element{"toDate", "2020-01-01"}), 200, "<error>no orders found</error>"},
		{"page after the last", "POST", DefaultBasePath, xmlType, window(Element{"start", "7"}), 200, "<error>no orders found</error>"},
		{"specific order", "POST", DefaultBasePath, xmlType,
			soapRequest("findSpecificOrder", with(auth, Element{"requesterAgencyId", "775100"}, Element{"orderId", "NP000000005"}, Element{"agency", "775100"})...), 200, "<orderId>NP000000005</orderId>"},
		{"ids as DK-nnnnnn pass the check and match nothing", "POST", DefaultBasePath, xmlType,
			soapRequest("findAllIllOrders", with(auth, Element{"requesterAgencyId", "DK-775100"}, Element{"agency", "775100"})...), 200, "<error>no orders found</error>"},
		{"wrong password", "POST", DefaultBasePath, xmlType,
			soapRequest("findAllIllOrders", Element{"groupIdAut", "775100"}, Element{"passwordAut", "guess"}, Element{"userIdAut", "u"}, Element{"requesterAgencyId", "775100"}, Element{"agency", "775100"}), 200, "<error>authentication_error</error>"},
		{"no agency", "POST", DefaultBasePath, xmlType, soapRequest("findAllIllOrders", with(auth, Element{"requesterAgencyId", "775100"})...), 200, "<error>authentication_error</error>"},
		{"another agency", "POST", DefaultBasePath, xmlType, soapRequest("findAllIllOrders", with(auth, Element{"requesterAgencyId", "710100"}, Element{"agency", "710100"})...), 200, "authentication_error"},
		{"agency that is no library number", "POST", DefaultBasePath, xmlType, soapRequest("findAllIllOrders", with(auth, Element{"requesterAgencyId", "775100"}, Element{"agency", "DK-775100"})...), 200, "<error>cannot_find_agency</error>"},
		{"requester not in the agency", "POST", DefaultBasePath, xmlType, soapRequest("findAllIllOrders", with(auth, Element{"requesterAgencyId", "710100"}, Element{"agency", "775100"})...), 200, "<error>requester_not_in_agency</error>"},
		{"form-encoded POST", "POST", DefaultBasePath, "application/x-www-form-urlencoded",
			[]byte(url.Values{"action": {"findAllIllOrders"}, "groupIdAut": {"775100"}, "passwordAut": {"pw"}, "userIdAut": {"u"}, "agency": {"775100"}}.Encode()), 400, "<faultstring>"},
		{"authentication out of order", "POST", DefaultBasePath, xmlType,
			soapRequest("findAllIllOrders", Element{"userIdAut", "u"}, Element{"groupIdAut", "775100"}, Element{"passwordAut", "pw"}, Element{"requesterAgencyId", "775100"}, Element{"agency", "775100"}), 400, "authentication: userIdAut is not expected here"},
		{"agency before requesterAgencyId", "POST", DefaultBasePath, xmlType, soapRequest("findAllIllOrders", with(auth, Element{"agency", "775100"}, Element{"requesterAgencyId", "775100"})...), 400, "out of the schema"},
		{"sortKey not in the schema", "POST", DefaultBasePath, xmlType, window(Element{"sortKey", "creationDate_ascending"}), 400, "not a sortKeyType"},
		{"other operation", "POST", DefaultBasePath, xmlType, soapRequest("getReceipts", auth...), 501, "not implemented"},
		{"GET", "GET", DefaultBasePath, "", nil, 405, ""},
		{"other path", "POST", "/x", xmlType, nil, 404, ""},
	} {
		code, body := post(t, s, tc.method, tc.path, tc.ctype, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d containing %q", tc.name, code, body, tc.code, tc.want)
		}
		if strings.Contains(tc.name, "branch") && strings.Contains(body, "OTHER") {
			t.Errorf("%s: another library's order in %s", tc.name, body)
		}
	}

	if got := s.CallsOf("findSpecificOrder"); got != 1 {
		t.Fatalf("CallsOf(findSpecificOrder) = %d", got)
	}
	page := window(Element{"fromDate", "2026-03-02"}, Element{"toDate", "2026-03-04"})
	s.SetUnavailable(true)
	if _, body := post(t, s, "POST", DefaultBasePath, xmlType, page); !strings.Contains(body, "<error>open find order service not available</error>") {
		t.Fatalf("unavailable: %s", body)
	}
	s.SetUnavailable(false)
	s.Inject(Fault{Match: "findAll", Times: 1, Status: 503})
	if code, _ := post(t, s, "POST", DefaultBasePath, xmlType, page); code != 503 {
		t.Fatalf("fault: %d", code)
	}
	if code, _ := post(t, s, "POST", DefaultBasePath, xmlType, page); code != 200 {
		t.Fatalf("after the fault: %d", code)
	}
	s.Inject(Fault{NonXML: true})
	if _, body := post(t, s, "POST", DefaultBasePath, xmlType, page); !strings.Contains(body, "<html") {
		t.Fatalf("NonXML: %s", body)
	}
	s.ClearFaults()
	before, _ := s.Get("NP000000001")
	s.Inject(Fault{Times: 1, Churn: 5})
	post(t, s, "POST", DefaultBasePath, xmlType, page)
	if after, _ := s.Get("NP000000001"); !after.LastModification.After(before.LastModification) {
		t.Fatal("churn did not bump lastModification")
	}
}

// TestServerWritesDBCFields: times, ids and notes as DBC writes them.
func TestServerWritesDBCFields(t *testing.T) {
	s := New(Options{})
	s.AddCredential(testCred, "775100")
	created := time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC) // 00:30 on 2 July in Copenhagen
	s.Put(Order{OrderID: "1", RequesterID: "DK-775100", ResponderID: "DK-710100", CreationDate: created, LastModification: created,
		LatestRequesterNote: "haster", ShippedServiceType: "copy"})
	_, body := post(t, s, "POST", DefaultBasePath, "text/xml", window())
	for _, want := range []string{"<creationDate>2026-07-01</creationDate>", "<lastModification>2026-07-02T00:30:00Z</lastModification>",
		"<requesterId>775100</requesterId>", "<responderId>710100</responderId>", "<latestRequesterNote>haster</latestRequesterNote>", "<shippedServiceType>copy</shippedServiceType>",
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">`} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s: %s", want, body)
		}
	}
}
