package app

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/interloan/interloan/gen"
)

// TestReferencePage fetches /docs as a browser would: the page, then the script and the
// document it names (resolved against the page's URL), and checks that the page runs no
// script but the gateway's own and loads nothing from elsewhere.
func TestReferencePage(t *testing.T) {
	base, _ := fakeSuite(t, Options{})
	page := do(t, "GET", base+"/docs", "")
	if page.code != http.StatusOK || page.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("/docs: HTTP %d, Content-Type %q", page.code, page.header.Get("Content-Type"))
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	html := string(page.body)
	scripts := regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(html, -1)
	if len(scripts) != 1 || strings.TrimSpace(scripts[0][2]) != "" {
		t.Fatalf("want one <script> with no inline code, got %q", scripts)
	}
	if regexp.MustCompile(`(src|href|spec-url)="[^"]*//`).MatchString(html) {
		t.Errorf("the page names another origin:\n%s", html)
	}
	pageURL, _ := url.Parse(base + "/docs")
	resolve := func(attr string) string {
		m := regexp.MustCompile(attr + `="([^"]+)"`).FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("no %s in the page:\n%s", attr, html)
		}
		u, err := pageURL.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return u.String()
	}

	script := do(t, "GET", resolve("src"), "", "Accept-Encoding", "identity")
	if script.code != http.StatusOK || script.header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		!bytes.Equal(script.body, redocJS) || script.header.Get("Content-Encoding") != "" {
		t.Fatalf("script: HTTP %d, %s, Content-Encoding %q, %d bytes, want the %d embedded",
			script.code, script.header.Get("Content-Type"), script.header.Get("Content-Encoding"), len(script.body), len(redocJS))
	}
	// The bundle's first line names its license notices, served beside it.
	if !bytes.HasPrefix(script.body, []byte("/*! For license information please see redoc.standalone.js.LICENSE.txt */")) {
		t.Errorf("the script does not point to %s: %.100q", redocLicensePath, script.body)
	}
	if doc := do(t, "GET", resolve("spec-url"), ""); doc.code != http.StatusOK || !bytes.Equal(doc.body, gen.OpenAPI()) {
		t.Errorf("spec-url: HTTP %d, not the OpenAPI document", doc.code)
	}
	license := do(t, "GET", base+redocLicensePath, "")
	if license.code != http.StatusOK || !bytes.Equal(license.body, redocLicense) {
		t.Errorf("%s: HTTP %d", redocLicensePath, license.code)
	}

	// A browser asks for gzip: a third of the bytes, under an ETag of their own.
	zipped := do(t, "GET", resolve("src"), "", "Accept-Encoding", "gzip, deflate, br")
	if zipped.header.Get("Content-Encoding") != "gzip" || zipped.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: Content-Encoding %q, Vary %q", zipped.header.Get("Content-Encoding"), zipped.header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, redocJS) {
		t.Fatalf("gzip body does not decode to the script: %v", err)
	}
	t.Logf("page %d bytes, script %d bytes, %d gzip-encoded", len(page.body), len(script.body), len(zipped.body))
	if zipped.header.Get("ETag") == script.header.Get("ETag") {
		t.Errorf("both encodings have ETag %s", zipped.header.Get("ETag"))
	}

	// Each revalidates with its ETag.
	for _, c := range []struct{ path, encoding, etag string }{
		{"/docs", "identity", page.header.Get("ETag")},
		{redocPath, "identity", script.header.Get("ETag")},
		{redocPath, "gzip", zipped.header.Get("ETag")},
	} {
		r := do(t, "GET", base+c.path, "", "Accept-Encoding", c.encoding, "If-None-Match", c.etag)
		if c.etag == "" || r.code != http.StatusNotModified {
			t.Errorf("%s (%s) with If-None-Match %q: HTTP %d, want 304", c.path, c.encoding, c.etag, r.code)
		}
	}
	if r := do(t, "POST", base+"/docs", "{}"); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /docs: HTTP %d, want 405", r.code)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"br, gzip;q=0.5"}, true},
		{[]string{"deflate", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=nonsense"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"identity"}, false},
		{[]string{"x-gzip"}, false},
	} {
		if got := acceptsGzip(c.values); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}
