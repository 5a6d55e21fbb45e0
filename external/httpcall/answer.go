package httpcall

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSnippet is how many bytes of an error answer a message quotes at most.
const MaxSnippet = 200

// Markup says which error answers Snippet strips of tags.
type Markup int

const (
	// MarkupIfHTML strips tags only from an answer labelled html or starting with '<'
	// (Libris answers JSON, whose text may hold a '<' worth keeping).
	MarkupIfHTML Markup = iota
	// MarkupAlways strips tags from every answer (Netpunkt answers XML).
	MarkupAlways
)

// Snippet turns the start of an error answer into one short, printable line for staff:
// tags (as markup says) and control characters removed, the secret redacted, at most
// MaxSnippet bytes.
func Snippet(body []byte, ctype string, markup Markup, secret Secret) string {
	s := secret.Redact(strings.ToValidUTF8(string(body), "\uFFFD"))
	tags := markup == MarkupAlways || strings.Contains(ctype, "html") || strings.HasPrefix(strings.TrimSpace(s), "<")
	var b strings.Builder
	space, inTag := false, false
	for _, r := range s {
		switch {
		case tags && r == '<':
			inTag, space = true, true
			continue
		case inTag:
			inTag = r != '>'
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError:
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > MaxSnippet {
			break
		}
	}
	out := b.String()
	if len(out) > MaxSnippet {
		cut := MaxSnippet
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

// ReadErrorAnswer reads as much of an error answer as a snippet of it can need: enough
// that a secret straddling the cut is still whole, and so redacted.
func ReadErrorAnswer(r io.Reader, secret Secret) []byte {
	body, _ := io.ReadAll(io.LimitReader(r, 4096+int64(secret.Len())))
	return body
}

// StatusText is "HTTP 503 Service Unavailable", or "HTTP 599" for a code Go has no name for.
func StatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("HTTP %d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}

// MediaType names an answer's content type for a message: the parsed media type, or the
// header quoted when it does not parse.
func MediaType(ctype string) string {
	if ctype == "" {
		return "no content type"
	}
	if mt, _, err := mime.ParseMediaType(ctype); err == nil {
		return mt
	}
	return "content type " + strconv.Quote(ctype)
}

// Drain reads a little of a body we do not need so the connection can be reused.
func Drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
