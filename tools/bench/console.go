package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// consoleClient is a signed-in browser of the staff console, as far as the bench needs
// one: the session cookie sent by hand, since net/http's cookie jar keeps the console's
// Secure cookies off plain-HTTP loopback.
type consoleClient struct {
	base    string
	http    *http.Client
	cookies map[string]string
}

var nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// signInConsole signs in to the console at base with token through its sign-in form.
func signInConsole(ctx context.Context, base, token string) (*consoleClient, error) {
	c := &consoleClient{base: base, cookies: map[string]string{},
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	page, _, err := c.get(ctx, "/signin")
	if err != nil {
		return nil, err
	}
	m := nonceField.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("console: the sign-in page has no nonce field")
	}
	form := url.Values{"nonce": {string(m[1])}, "token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/signin", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || c.cookies["__Host-interloan-session"] == "" {
		return nil, fmt.Errorf("console: sign-in answered %s without a session", resp.Status)
	}
	return c, nil
}

func (c *consoleClient) do(req *http.Request) (*http.Response, error) {
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	for _, ck := range resp.Cookies() {
		c.cookies[ck.Name] = ck.Value
	}
	return resp, nil
}

// get fetches path and returns its body, failing on anything but 200.
func (c *consoleClient) get(ctx context.Context, path string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("console GET %s: %s", path, resp.Status)
	}
	return body, resp.Header, nil
}

// consoleQueueLatencies times the request queue page, filtered by each status in turn
// (and, every other time, by status and text), as staff open it: the whole page,
// rendered, with its counts per status.
func consoleQueueLatencies(ctx context.Context, c *consoleClient, statuses []requestsv1.Status, samples int) ([]time.Duration, error) {
	if len(statuses) == 0 {
		return nil, errors.New("no statuses to filter by")
	}
	if _, _, err := c.get(ctx, "/requests"); err != nil { // untimed: opens the connections
		return nil, err
	}
	out := make([]time.Duration, 0, samples)
	for i := range samples {
		q := url.Values{"status": {strings.ToLower(strings.TrimPrefix(statuses[i%len(statuses)].String(), "STATUS_"))}}
		if i%2 == 1 {
			q.Set("q", "historia") // a word of many generated titles
		}
		start := time.Now()
		if _, _, err := c.get(ctx, "/requests?"+q.Encode()); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// consolePayloadKB is the console's script and styles as a browser downloads them the
// first time, gzip-compressed (the level a reverse proxy would typically use).
func consolePayloadKB(ctx context.Context, c *consoleClient) (float64, error) {
	page, _, err := c.get(ctx, "/requests")
	if err != nil {
		return 0, err
	}
	assets := regexp.MustCompile(`(?:src|href)="(/static/[^"]+\.(?:js|css))"`).FindAllSubmatch(page, -1)
	if len(assets) == 0 {
		return 0, errors.New("console: the queue page links no script or stylesheet")
	}
	var total int
	for _, a := range assets {
		body, _, err := c.get(ctx, string(a[1]))
		if err != nil {
			return 0, err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(body)
		zw.Close()
		total += buf.Len()
	}
	return float64(total) / 1024, nil
}
