package fault

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestQueueOrderMatchAndTimes(t *testing.T) {
	var q Queue[string]
	q.Push("A", "outgoing", 2)
	q.Push("B", "outgoing", 1)
	q.Push("forever", "libraries", 0)
	for i, tc := range []struct {
		call string
		want string
		ok   bool
	}{
		{"/illrequests/Abc/outgoing", "A", true},
		{"/illrequests/Abc/123", "", false},
		{"/illrequests/Abc/outgoing", "A", true},
		{"/illrequests/Abc/outgoing", "B", true},
		{"/illrequests/Abc/outgoing", "", false},
		{"/libraries/x", "forever", true},
		{"/libraries/y", "forever", true},
	} {
		if got, ok := q.Take(tc.call); got != tc.want || ok != tc.ok {
			t.Errorf("call %d %s: %q %v, want %q %v", i, tc.call, got, ok, tc.want, tc.ok)
		}
	}
	q.Clear()
	if _, ok := q.Take("/libraries/x"); ok {
		t.Error("a fault survived Clear")
	}
}

func TestWriteStatus(t *testing.T) {
	for _, tc := range []struct {
		code     int
		bodiless []int
		want     int
		body     string
	}{
		{503, nil, 503, "503 Service Unavailable\n"},
		{401, nil, 401, "401 Unauthorized\n"},
		{401, []int{401, 403}, 401, ""},
		{42, nil, 500, "500 Internal Server Error\n"},
		{1000, nil, 500, "500 Internal Server Error\n"},
	} {
		rec := httptest.NewRecorder()
		WriteStatus(rec, tc.code, tc.bodiless...)
		if rec.Code != tc.want || rec.Body.String() != tc.body {
			t.Errorf("WriteStatus(%d, %v) = %d %q, want %d %q", tc.code, tc.bodiless, rec.Code, rec.Body, tc.want, tc.body)
		}
	}
}

func TestWriteTruncatedBreaksOffTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteTruncated(w, http.StatusOK, []byte(strings.Repeat("x", 1000)))
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil || len(body) != 500 || resp.ContentLength != 1000 {
		t.Errorf("read %d of %d bytes, err %v; want 500 and an unexpected EOF", len(body), resp.ContentLength, err)
	}
}

func TestDelayEndsWithTheClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	if Delay(r, time.Hour) {
		t.Error("a cancelled request waited out the delay")
	}
	if !Delay(httptest.NewRequest(http.MethodGet, "/", nil), 0) {
		t.Error("no delay did not go on")
	}
}
