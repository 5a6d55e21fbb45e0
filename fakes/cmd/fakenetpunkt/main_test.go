package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakecmd/fakecmdtest"
)

func TestRunServesAndShutsDown(t *testing.T) {
	fake := fakecmdtest.Start(t, run, "--addr", "127.0.0.1:0", "--count", "7", "--days", "3", "--password", "s3cret")
	base, logs := fake.URL, fake.Logs
	today := time.Now().Format(time.DateOnly)
	form := url.Values{"action": {"findAllIllOrders"}, "authentication.userIdAut": {"netpunkt"}, "authentication.groupIdAut": {"775100"},
		"authentication.passwordAut": {"s3cret"}, "requesterAgencyId": {"775100"}, "fromDate": {"2000-01-01"}, "toDate": {today}, "stepValue": {"100"}}
	resp, err := http.PostForm(base, form)
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
