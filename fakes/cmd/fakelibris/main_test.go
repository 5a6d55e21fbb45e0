package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakecmd/fakecmdtest"
)

func TestRunServesAndShutsDown(t *testing.T) {
	fake := fakecmdtest.Start(t, run, "--addr", "127.0.0.1:0", "--count", "25", "--days", "3", "--sigel", "Tida", "--not-found-status", "400")
	base, logs := fake.URL, fake.Logs
	if !strings.HasSuffix(base, "/librisfjarrlan/api") || !strings.Contains(logs.String(), "WARNING") {
		t.Fatalf("log %q", logs.String())
	}

	now := time.Now()
	url := base + "/illrequests/Tida/outgoing?start_date=" + now.AddDate(0, 0, -2).Format(time.DateOnly) + "&end_date=" + now.Format(time.DateOnly)
	rq, _ := http.NewRequest(http.MethodGet, url, nil)
	rq.Header.Set("api-key", "demo-key")
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Count int `json:"count"`
	}
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || e.Count != 25 {
		t.Fatalf("status %d, count %d, err %v", resp.StatusCode, e.Count, err)
	}

	rq, _ = http.NewRequest(http.MethodGet, base+"/illrequests/Tida/Tida-000101-0001", nil)
	rq.Header.Set("api-key", "demo-key")
	if resp, err := http.DefaultClient.Do(rq); err != nil || resp.StatusCode != 400 {
		t.Fatalf("not found: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	if err := fake.Stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if strings.Contains(logs.String(), "api-key: ") {
		t.Fatal("a header was logged")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--not-found-status", "500"},
		{"--days", "0"},
		{"--count", "-1"},
		{"--sigel", ""},
		{"--key", ""},
		{"--nope"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var logs fakecmdtest.LogBuffer
			if err := run(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, args...), &logs); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRunCustomKeyNotPrinted(t *testing.T) {
	fake := fakecmdtest.Start(t, run, "--addr", "127.0.0.1:0", "--count", "1", "--key", "s3cret-value")
	if err := fake.Stop(t); err != nil {
		t.Fatal(err)
	}
	logs := fake.Logs
	if strings.Contains(logs.String(), "s3cret-value") || strings.Contains(logs.String(), "WARNING") {
		t.Fatalf("log %q", logs.String())
	}
}
