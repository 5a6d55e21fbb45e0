package libris

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// maxValueBytes bounds one value of the envelope (one request, one unknown field's token)
// so that a broken or hostile answer cannot make us buffer it whole.
const maxValueBytes = 32 << 20

var errValueTooLarge = errors.New("a single value exceeds 32 MiB")

// bodyReader wraps an answer body. It remembers the first transport error, so a broken
// connection (Unreachable) is told apart from malformed JSON (Garbage) — json.Decoder
// reports both as io.ErrUnexpectedEOF — and enforces maxValueBytes per value.
type bodyReader struct {
	r        io.Reader
	err      error // first read error other than io.EOF
	tooLarge bool
	budget   int64 // bytes left for the current value; 0 before the first mark
	// idle, when set, is a stopped timer that cancels the answer after idleFor. Read arms
	// it only while it waits on the network, so decoding and the caller's visit (which may
	// ingest a batch for minutes) never count as Libris being silent.
	idle    *time.Timer
	idleFor time.Duration
	// rec keeps the bytes read from offset recFrom on (see keep), so an item can be cut out
	// of them once the decoder has checked it; read counts every byte read.
	rec     []byte
	recFrom int64
	read    int64
}

// keep drops the recorded bytes before offset from: they will not be asked for again.
func (b *bodyReader) keep(from int64) {
	drop := int(from - b.recFrom)
	if drop <= 0 {
		return
	}
	if drop >= len(b.rec) {
		b.rec = b.rec[:0]
	} else if drop > len(b.rec)/2 {
		b.rec = append(b.rec[:0], b.rec[drop:]...) // rarely: the kept tail is the smaller part
	} else {
		return // dropped later, together with more
	}
	b.recFrom = from
}

// recorded returns the input bytes between offsets from and to (see keep).
func (b *bodyReader) recorded(from, to int64) []byte {
	return b.rec[from-b.recFrom : to-b.recFrom]
}

// mark starts a new value's byte budget.
func (b *bodyReader) mark() { b.budget = maxValueBytes }

// next starts the next value of dec: its byte budget, and the recording from there on.
func (b *bodyReader) next(dec *json.Decoder) {
	b.mark()
	b.keep(dec.InputOffset())
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.budget <= 0 {
		b.tooLarge = true
		return 0, errValueTooLarge
	}
	if int64(len(p)) > b.budget {
		p = p[:b.budget]
	}
	if b.idle != nil {
		b.idle.Reset(b.idleFor)
	}
	n, err := b.r.Read(p)
	if b.idle != nil {
		b.idle.Stop()
	}
	b.rec = append(b.rec, p[:n]...)
	b.read += int64(n)
	b.budget -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

// envelope is what the walk learnt about the envelope besides its items.
type envelope struct {
	count    int64
	countSet bool
	hasItems bool // the ill_requests key was present
	items    int
}

// decodeError is a malformed envelope. notJSON marks failures on the very first token.
type decodeError struct {
	notJSON bool
	msg     string
	err     error
}

func (e *decodeError) Error() string { return e.msg }

// visitError carries the caller's own error out of the walk untouched.
type visitError struct{ err error }

func (e *visitError) Error() string { return e.err.Error() }

// decodeEnvelope walks the envelope token by token: envelope fields in any order, unknown
// ones skipped token by token, and each ill_requests item decoded on its own and handed to
// onItem before the next is read. Memory therefore holds one item, whatever the body size.
func decodeEnvelope(br *bodyReader, onItem func(raw json.RawMessage) error) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(br)
	br.next(dec)
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return env, &decodeError{notJSON: true, msg: "an empty body"}
		}
		return env, &decodeError{notJSON: true, msg: "a body that is not JSON", err: err}
	}
	if tok != json.Delim('{') {
		return env, &decodeError{notJSON: true, msg: "JSON that is not an object (" + tokenKind(tok) + ")"}
	}
	for dec.More() {
		br.next(dec)
		keyTok, err := dec.Token()
		if err != nil {
			return env, syntaxErr(err, "reading the envelope")
		}
		key, _ := keyTok.(string)
		switch key {
		case "count":
			var v flexString
			if err := dec.Decode(&v); err != nil {
				return env, syntaxErr(err, "reading count")
			}
			if !v.set && !v.odd {
				continue // null: as if absent
			}
			n, ok := parseCount(v)
			if !ok {
				if v.odd {
					return env, &decodeError{msg: "count is not a number of requests"}
				}
				return env, &decodeError{msg: fmt.Sprintf("count %q is not a number of requests", v.s)}
			}
			env.count, env.countSet = n, true
		case "ill_requests":
			env.hasItems = true
			tok, err := dec.Token()
			if err != nil {
				return env, syntaxErr(err, "reading ill_requests")
			}
			if tok == nil {
				continue // null: no requests
			}
			if tok != json.Delim('[') {
				return env, &decodeError{msg: "ill_requests is " + tokenKind(tok) + ", not an array"}
			}
			for dec.More() {
				br.next(dec)
				raw, err := nextValue(dec, br)
				if err != nil {
					return env, syntaxErr(err, "reading a request")
				}
				env.items++
				if err := onItem(raw); err != nil {
					return env, &visitError{err}
				}
			}
			if _, err := dec.Token(); err != nil { // the closing ]
				return env, syntaxErr(err, "reading ill_requests")
			}
		default:
			if err := skipValue(dec, br); err != nil {
				return env, syntaxErr(err, "reading field "+strconv.Quote(key))
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return env, syntaxErr(err, "reading the envelope")
	}
	br.next(dec)
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return env, syntaxErr(err, "after the envelope")
		}
		return env, &decodeError{msg: "more data after the envelope (" + tokenKind(tok) + ")"}
	}
	return env, nil
}

// errNoValue reports that Decode with a nil pointer did not consume a value, which nextValue relies on.
var errNoValue = errors.New("the JSON decoder did not read the value")

// nextValue reads the next element of the array dec is in and returns a copy of its bytes.
//
// Decode with a nil pointer reads the whole value and checks that it is valid JSON, then
// refuses the destination without looking at the value again; the value's bytes are cut out of
// what br recorded. Decode into a json.RawMessage would scan every byte a second time to
// find the value's end, which the first scan already knew.
func nextValue(dec *json.Decoder, br *bodyReader) (json.RawMessage, error) {
	from := dec.InputOffset()
	br.keep(from)
	var none *json.RawMessage
	err := dec.Decode(none)
	var invalid *json.InvalidUnmarshalError
	if !errors.As(err, &invalid) {
		if err == nil {
			err = errNoValue
		}
		return nil, err
	}
	to := dec.InputOffset()
	if to <= from {
		return nil, errNoValue
	}
	// Before the value: the comma after the previous element, and white space.
	v := bytes.TrimLeft(br.recorded(from, to), " \t\r\n")
	v = bytes.TrimLeft(bytes.TrimPrefix(v, []byte(",")), " \t\r\n")
	return bytes.Clone(v), nil
}

// skipValue consumes one value of any shape without keeping it.
func skipValue(dec *json.Decoder, br *bodyReader) error {
	depth := 0
	for {
		br.next(dec)
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth <= 0 {
			return nil
		}
	}
}

func syntaxErr(err error, where string) *decodeError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &decodeError{msg: "the answer ended early, " + where, err: io.ErrUnexpectedEOF}
	}
	return &decodeError{msg: "malformed JSON " + where, err: err}
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			return "an array"
		case '{':
			return "an object"
		}
		return "a delimiter " + strconv.Quote(string(v))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unexpected token"
}

// parseCount accepts a count as Libris sends it (a number) or as some clients have seen it
// (a string of digits); a whole-valued float is tolerated too.
func parseCount(v flexString) (int64, bool) {
	s := strings.TrimSpace(v.s)
	if v.odd || s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, n >= 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1e15 {
		return 0, false
	}
	return int64(f), true
}

// mapAhead bounds the items read from an answer and waiting to be mapped and visited.
const mapAhead = 64

// errVisitStopped ends the reading of an answer once a visit has failed.
var errVisitStopped = errors.New("visit failed")

// readEnvelope decodes an answer, maps each item and calls visit with it. It returns how
// many requests visit received and nil, visit's own error (as is), or a *connector.Error.
//
// Items are mapped and visited in a second goroutine while this one reads on: scanning
// the JSON and decoding each item into its fields are most of a large answer's CPU, and
// they overlap instead of taking turns. visit still sees the items one at a time and in
// order, and has seen every item read before readEnvelope returns; at most mapAhead read
// items wait. After a failed visit no further item is visited and the reading stops.
func (c *Client) readEnvelope(br *bodyReader, what, ctype string, visit func(*connector.Request) error) (int, error) {
	raws := make(chan json.RawMessage, mapAhead)
	stopped := make(chan struct{}) // closed when a visit failed
	done := make(chan struct{})
	visited := 0
	var visitErr error
	go func() {
		defer close(done)
		for raw := range raws {
			if visitErr != nil {
				continue // drain what was read before the reader saw the failure
			}
			visited++
			if err := visit(mapItem(raw, c.sigel)); err != nil {
				visitErr = err
				close(stopped)
			}
		}
	}()
	env, err := decodeEnvelope(br, func(raw json.RawMessage) error {
		select {
		case <-stopped:
			return errVisitStopped
		default:
		}
		select {
		case raws <- raw:
			return nil
		case <-stopped:
			return errVisitStopped
		}
	})
	close(raws)
	<-done
	if visitErr != nil {
		return visited, visitErr
	}
	if err != nil {
		var ve *visitError
		var de *decodeError
		switch {
		case errors.As(err, &ve):
			return visited, ve.err
		case br.tooLarge:
			return visited, c.fail(connector.KindGarbage, nil, "Libris's answer for %s holds a single value larger than %d MiB, after %d requests", what, maxValueBytes>>20, env.items)
		case br.err != nil:
			return visited, c.fail(connector.KindUnreachable, br.err, "the connection to Libris broke while reading the answer for %s, after %d requests", what, env.items)
		case errors.As(err, &de) && de.notJSON:
			return visited, c.fail(connector.KindGarbage, de.err, "Libris answered %s (%s) for %s", de.msg, mediaType(ctype), what)
		case errors.As(err, &de) && errors.Is(de.err, io.ErrUnexpectedEOF):
			return visited, c.fail(connector.KindGarbage, nil, "Libris's answer for %s ended early (truncated JSON) after %d requests", what, env.items)
		case errors.As(err, &de):
			return visited, c.fail(connector.KindGarbage, de.err, "Libris answered an unusable envelope for %s after %d requests: %s", what, env.items, de.msg)
		}
		return visited, c.fail(connector.KindGarbage, err, "Libris answered an unusable envelope for %s", what)
	}
	if !env.hasItems && !env.countSet {
		return visited, c.fail(connector.KindGarbage, nil, "Libris answered JSON without ill_requests or count for %s (%s)", what, mediaType(ctype))
	}
	if env.countSet && env.count != int64(env.items) {
		return visited, c.fail(connector.KindGarbage, nil, "Libris announced %d requests for %s but sent %d (truncated or inconsistent answer)", env.count, what, env.items)
	}
	return visited, nil
}

// flexString decodes any JSON scalar tolerantly: strings as they are, numbers and booleans
// as their literal text, null as unset. An object or array is flagged odd, never an error,
// so one strange field cannot cost a whole request.
type flexString struct {
	s   string
	set bool
	odd bool
}

func (f *flexString) UnmarshalJSON(b []byte) error {
	*f = flexOf(bytes.TrimSpace(b))
	return nil
}

// flexBool accepts JSON booleans and the usual stand-ins ("1", "true", 1); anything else
// is false (boolOf).
type flexBool bool
