package httpcall

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
)

func TestSnippet(t *testing.T) {
	key := NewSecret("s3cr&t", "[key]", url.QueryEscape)
	for _, tc := range []struct {
		name, body, ctype string
		markup            Markup
		want              string
	}{
		{"json keeps angle brackets", `{"error": "a < b"}`, "application/json", MarkupIfHTML, `{"error": "a < b"}`},
		{"html by content type", "<p>Down\n for <b>maintenance</b></p>", "text/html; charset=utf-8", MarkupIfHTML, "Down for maintenance"},
		{"html by first byte", "  <h1>Oops</h1>", "", MarkupIfHTML, "Oops"},
		{"xml always", "<error>bad <i>agency</i></error>", "text/plain", MarkupAlways, "bad agency"},
		{"control characters and invalid utf-8", "a\x00\x01b\xffc\td", "", MarkupIfHTML, "a b c d"},
		{"secret plain", "key s3cr&t here", "", MarkupIfHTML, "key [key] here"},
		{"secret form-encoded", "password=s3cr%26t", "", MarkupAlways, "password=[key]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Snippet([]byte(tc.body), tc.ctype, tc.markup, key); got != tc.want {
				t.Errorf("Snippet = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSnippetIsShortAndWholeRunes(t *testing.T) {
	got := Snippet([]byte(strings.Repeat("å", 300)), "", MarkupIfHTML, Secret{})
	if !strings.HasSuffix(got, "…") || len(got) > MaxSnippet+len("…") {
		t.Fatalf("len %d, %q", len(got), got)
	}
	if strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("a rune was cut: %q", got)
	}
}

func TestSecretFailRedactsMessageAndCause(t *testing.T) {
	s := NewSecret("hunter2", "[password]")
	err := s.Fail(connector.KindGarbage, errors.New("echo: hunter2"), "answered %q", "hunter2!")
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Err.Error(), "hunter2") {
		t.Fatalf("secret leaked: %v / %v", err, err.Err)
	}
	if err.Kind != connector.KindGarbage || !strings.Contains(err.Message, "[password]") {
		t.Errorf("got %+v", err)
	}
	plain := errors.New("no secret here")
	if got := s.Fail(connector.KindAuth, plain, "x").Err; got != plain {
		t.Errorf("an error without the secret was replaced: %v", got)
	}
	if got := (Secret{}).Redact("anything"); got != "anything" {
		t.Errorf("zero Secret redacted: %q", got)
	}
}

func TestRetryAfter(t *testing.T) {
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header              string
		seconds, secOrDate  time.Duration
		dateIsSomeTimeAhead bool
	}{
		{"", 0, 0, false},
		{" 3 ", 3 * time.Second, 3 * time.Second, false},
		{"0", 0, 0, false},
		{"-5", 0, 0, false},
		{"999999", 86400 * time.Second, 86400 * time.Second, false},
		{"soon", 0, 0, false},
		{date, 0, 0, true},
	} {
		if got := retryAfterSeconds(tc.header); got != tc.seconds {
			t.Errorf("retryAfterSeconds(%q) = %s, want %s", tc.header, got, tc.seconds)
		}
		got := retryAfter(tc.header)
		if tc.dateIsSomeTimeAhead {
			if got <= 0 || got > time.Hour {
				t.Errorf("retryAfter(%q) = %s, want in (0, 1h]", tc.header, got)
			}
		} else if got != tc.secOrDate {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.header, got, tc.secOrDate)
		}
	}
}

func TestBackoff(t *testing.T) {
	maxJitter := func(n int64) int64 { return n - 1 }
	noJitter := func(int64) int64 { return 0 }
	const base, top = 500 * time.Millisecond, 3 * time.Second
	for _, tc := range []struct {
		name       string
		jitter     func(int64) int64
		failures   int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first", maxJitter, 1, 0, base},
		{"doubles", maxJitter, 3, 0, 4 * base},
		{"capped", maxJitter, 10, 0, top},
		{"jitter may be zero", noJitter, 3, 0, 0},
		{"raised to Retry-After", noJitter, 1, 2 * time.Second, 2 * time.Second},
		{"Retry-After capped", noJitter, 1, time.Hour, top},
	} {
		if got := Backoff(base, top, tc.jitter, tc.failures, tc.retryAfter); got != tc.want {
			t.Errorf("%s: Backoff = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRetryingDefaults(t *testing.T) {
	r := Retrying{BaseBackoff: time.Minute}.WithDefaults()
	if r.MaxAttempts != DefaultMaxAttempts || r.MaxBackoff != DefaultMaxBackoff || r.BaseBackoff != DefaultMaxBackoff || r.Sleep == nil {
		t.Errorf("got %+v", r)
	}
}

func TestLoop(t *testing.T) {
	secret := NewSecret("k3y", "[key]")
	var slept []time.Duration
	loop := Loop{
		Peer: "Sys", Package: "sys", Secret: secret,
		Retrying: Retrying{MaxAttempts: 3, BaseBackoff: time.Second, MaxBackoff: 10 * time.Second,
			Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }},
		Jitter: func(n int64) int64 { return n - 1 }, // the most, so waits are exact
	}
	t.Run("gives up naming the last failure", func(t *testing.T) {
		slept = nil
		calls := 0
		err := loop.Run(context.Background(), "list", "page 1", func() (*Retry, time.Duration, error) {
			calls++
			return &Retry{Last: "HTTP 503", Err: errors.New("said k3y")}, 1500 * time.Millisecond, nil
		})
		var ce *connector.Error
		if !errors.As(err, &ce) || ce.Kind != connector.KindUnreachable || calls != 3 {
			t.Fatalf("after %d calls: %v", calls, err)
		}
		if want := "Sys did not answer usefully for page 1 after 3 attempts (last: HTTP 503)"; ce.Message != want || strings.Contains(ce.Err.Error(), "k3y") {
			t.Errorf("got %q / %v", ce.Message, ce.Err)
		}
		// 1s doubled, each raised to the server's Retry-After of 1.5s.
		if len(slept) != 2 || slept[0] != 1500*time.Millisecond || slept[1] != 2*time.Second {
			t.Errorf("slept %v", slept)
		}
	})
	t.Run("an attempt's end is returned as is", func(t *testing.T) {
		mine := errors.New("visit failed")
		calls := 0
		err := loop.Run(context.Background(), "get", "x", func() (*Retry, time.Duration, error) {
			calls++
			if calls == 1 {
				return &Retry{Last: "timeout"}, 0, nil
			}
			return nil, 0, mine
		})
		if err != mine || calls != 2 {
			t.Errorf("after %d calls: %v", calls, err)
		}
	})
	t.Run("a cancelled context is not a connector error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := loop.Run(ctx, "get", "x", func() (*Retry, time.Duration, error) {
			cancel()
			return &Retry{Last: "timeout"}, 0, nil
		})
		if !errors.Is(err, context.Canceled) || connector.KindOf(err) != 0 || !strings.HasPrefix(err.Error(), "sys: x stopped") {
			t.Errorf("got %v", err)
		}
	})
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ raw, wantErr string }{
		{" https://h.example/api/ ", ""},
		{"", "not a valid URL"},
		{"ftp://h.example", "absolute http or https"},
		{"/relative", "absolute http or https"},
		{"https://u:p@h.example", "set the key instead"},
		{"https://h.example/?a=1", "query or fragment"},
		{"https://h.example/#f", "query or fragment"},
	} {
		_, err := BaseURL("sys", tc.raw, "the key")
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "sys: ")) {
			t.Errorf("BaseURL(%q) = %v, want %q", tc.raw, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "u:p") {
			t.Errorf("credentials in %v", err)
		}
	}
}

func TestRedirects(t *testing.T) {
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u}
	}
	callerSays := errors.New("caller's policy")
	caller := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return callerSays }}
	for _, tc := range []struct {
		name     string
		policy   Redirects
		from, to string
		want     error
	}{
		{"same origin", Redirects{}, "https://a.example/x", "https://a.example/y", nil},
		{"other host", Redirects{UpgradeToHTTPS: true}, "https://a.example/x", "https://b.example/x", ErrRedirectRefused},
		{"down to http", Redirects{UpgradeToHTTPS: true}, "https://a.example/x", "http://a.example/x", ErrRedirectRefused},
		{"up to https allowed", Redirects{UpgradeToHTTPS: true}, "http://a.example/x", "https://a.example/x", nil},
		{"up to https refused", Redirects{}, "http://a.example/x", "https://a.example/x", ErrRedirectRefused},
		{"caller's policy kept", Redirects{KeepCallers: true}, "https://a.example/x", "https://a.example/y", callerSays},
	} {
		hc := Client(caller, "Sys", tc.policy)
		if got := hc.CheckRedirect(req(tc.to), []*http.Request{req(tc.from)}); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if caller.CheckRedirect(nil, nil) != callerSays {
		t.Error("the given client was changed")
	}
	if Client(nil, "Sys", Redirects{}).Timeout != 0 {
		t.Error("the default client has an overall timeout, which would cut long answers")
	}
}

func TestLoopSend(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate no client trusts
	defer tlsSrv.Close()
	away := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
	}))
	defer away.Close()
	ok := httptest.NewServer(http.NotFoundHandler())
	defer ok.Close()
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", r.URL.Query().Get("after"))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	inAMinute := url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))

	get := func(u string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	hc := Client(nil, "Sys", Redirects{})
	for _, tc := range []struct {
		name      string
		url       string
		wantResp  bool
		wantRetry string
		wantAfter time.Duration // exact, or for a date: > 0
		wantErr   string
	}{
		{"an answer", ok.URL, true, "", 0, ""},
		{"redirect away", away.URL, false, "", 0, "Sys redirected page 1 to another site; the key is not sent there"},
		{"bad certificate", tlsSrv.URL, false, "", 0, "Sys's TLS certificate was not accepted for page 1"},
		{"nobody listening", "http://127.0.0.1:1/", false, "network error", 0, ""},
		{"transient, seconds", busy.URL + "?after=7", false, "HTTP 503 Service Unavailable", 7 * time.Second, ""},
		{"transient, date", busy.URL + "?after=" + inAMinute, false, "HTTP 503 Service Unavailable", time.Nanosecond, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Loop{Peer: "Sys", Package: "sys", Credential: "the key"}
			resp, retry, after, err := l.Send(context.Background(), hc, get(tc.url), "page 1")
			if tc.wantAfter == time.Nanosecond && (after <= 0 || after > time.Minute) || tc.wantAfter != time.Nanosecond && after != tc.wantAfter {
				t.Errorf("retry after %s, want %s", after, tc.wantAfter)
			}
			if resp != nil {
				resp.Body.Close()
			}
			if (resp != nil) != tc.wantResp {
				t.Errorf("resp %v", resp)
			}
			if got := ""; retry != nil {
				got = retry.Last
				if got != tc.wantRetry {
					t.Errorf("retry %q, want %q", got, tc.wantRetry)
				}
			} else if tc.wantRetry != "" {
				t.Errorf("no retry, want %q (err %v)", tc.wantRetry, err)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, retry, _, err := (Loop{Package: "sys"}).Send(ctx, hc, get(ok.URL).WithContext(ctx), "x"); retry != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v %v", retry, err)
	}
}
