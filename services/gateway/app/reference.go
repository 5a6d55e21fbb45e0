package app

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed" // the reference page and its script are compiled in
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The API reference at /docs is Redoc's standalone bundle rendering /openapi.json. The
// bundle is the pinned npm package's (tools/openapi/update-reference.sh copies it here;
// scripts/openapi-lint.sh checks the copy is current), compiled in like the document, so
// the page needs nothing from another origin and a build needs no npm.
const (
	referencePath = "/docs"
	redocPath     = "/docs/redoc.standalone.js"
	// The bundle's third-party license notices, which its first line points to.
	redocLicensePath = "/docs/redoc.standalone.js.LICENSE.txt"
)

var (
	//go:embed reference/index.html
	referenceHTML []byte
	//go:embed reference/redoc.standalone.js
	redocJS []byte
	//go:embed reference/redoc.standalone.js.LICENSE.txt
	redocLicense []byte
)

// referenceCSP confines the page to the gateway's own script and document. Redoc styles
// itself with <style> elements it writes at run time (styled-components), hence inline
// styles, and builds its search index in a worker started from a blob: URL.
const referenceCSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; worker-src blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// staticAsset is one compiled-in file with its validators, and a gzip copy when that is
// worth sending (the 1 MB script shrinks to a third).
type staticAsset struct {
	contentType  string
	body, gz     []byte
	etag, gzETag string
}

func newStaticAsset(contentType string, body []byte, compress bool) *staticAsset {
	a := &staticAsset{contentType: contentType, body: body, etag: etagOf(body)}
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf) // the default level: BestCompression saves 1% more
		_, _ = zw.Write(body)      // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		a.gz, a.gzETag = buf.Bytes(), etagOf(buf.Bytes())
	}
	return a
}

// The assets are built on first use, once per process, so a gateway that never serves
// the page never compresses the script.
var (
	referenceAsset    = sync.OnceValue(func() *staticAsset { return newStaticAsset("text/html; charset=utf-8", referenceHTML, false) })
	redocAsset        = sync.OnceValue(func() *staticAsset { return newStaticAsset("text/javascript; charset=utf-8", redocJS, true) })
	redocLicenseAsset = sync.OnceValue(func() *staticAsset {
		return newStaticAsset("text/plain; charset=utf-8", redocLicense, false)
	})
)

// etagOf is a strong ETag of the bytes served.
func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// serveReference serves the page, under its Content-Security-Policy.
func serveReference(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", referenceCSP)
	h.Set("Referrer-Policy", "no-referrer")
	referenceAsset().serve(w, r)
}

// serve answers with the asset, gzip-encoded when it has a gzip copy the client accepts.
// Each encoding has its own ETag, and no-cache makes a browser revalidate, so a gateway
// upgrade shows the new page at once while an unchanged one costs a 304.
func (a *staticAsset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = a.gz, a.gzETag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding values allow gzip (RFC 9110, section
// 12.5.3): named, or covered by "*", with a non-zero weight.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && coding != "*" {
				continue
			}
			ok := true
			if q, found := strings.CutPrefix(strings.TrimSpace(params), "q="); found {
				w, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
				ok = err == nil && w > 0
			}
			if coding != "*" {
				return ok
			}
			star = ok
		}
	}
	return star
}
