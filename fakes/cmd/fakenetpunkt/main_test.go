package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakecmd/fakecmdtest"
)

func TestRunServesAndShutsDown(t *testing.T) {
	fake := fakecmdtest.Start(t, run, "--addr", "127.0.0.1:0", "--count", "7", "--days", "3", "--password", "s3cret")
	base, logs := fake.URL, fake.Logs
	today := time.Now().Format(time.DateOnly)
	// A findAllIllOrders SOAP request as DBC's schema lays it out.
	req := `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ofo="http://oss.dbc.dk/ns/openfindorder"><SOAP-ENV:Body>` +
		`<ofo:findAllIllOrdersRequest><ofo:authentication><ofo:groupIdAut>775100</ofo:groupIdAut><ofo:passwordAut>s3cret</ofo:passwordAut>` +
		`<ofo:userIdAut>netpunkt</ofo:userIdAut></ofo:authentication><ofo:requesterAgencyId>775100</ofo:requesterAgencyId><ofo:agency>775100</ofo:agency>` +
		`<ofo:fromDate>2000-01-01</ofo:fromDate><ofo:toDate>` + today + `</ofo:toDate><ofo:stepValue>100</ofo:stepValue>` +
		`</ofo:findAllIllOrdersRequest></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	resp, err := http.Post(base, "text/xml; charset=utf-8", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), "<numberOfOrders>7</numberOfOrders>") {
		t.Fatalf("answer %d %s", resp.StatusCode, body.String())
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatal("the password was logged")
	}
	if err := fake.Stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--count", "-1"}, {"--password", ""}, {"extra"}} {
		if err := run(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, args...), &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
