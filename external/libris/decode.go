package libris

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/interloan/interloan/external/connector"
)

// maxValueBytes bounds one value of the envelope (one request, one unknown field's token)
// so that a broken or hostile answer cannot make us buffer it whole.
const maxValueBytes = 32 << 20

var errValueTooLarge = errors.New("a single value exceeds 32 MiB")

// readAhead is how much of an answer bodyReader asks the network for at a time.
const readAhead = 64 << 10

// bodyReader wraps an answer body. It remembers the first transport error, so a broken
// connection (Unreachable) is told apart from malformed JSON (Garbage) — the decoder
// reports both as io.ErrUnexpectedEOF — and enforces maxValueBytes per value.
//
// It reads the body readAhead bytes at a time and passes them on as asked, so it knows when
// the reader has used up all that arrived and is about to wait on the network: it then
// calls waiting, which hands the items read so far to the caller's visit.
type bodyReader struct {
	r        io.Reader
	err      error // first read error other than io.EOF, once passed on
	tooLarge bool
	budget   int64 // bytes left for the current value; 0 before the first mark
	// idle, when set, is a stopped timer that cancels the answer after idleFor. Read arms
	// it only while it waits on the network, so decoding and the caller's visit (which may
	// ingest a batch for minutes) never count as Libris being silent.
	idle    *time.Timer
	idleFor time.Duration
	waiting func() // when set, called before each read of r

	ahead    []byte // read from r, not yet passed on
	aheadErr error  // r's error, passed on once ahead is empty
	buf      []byte
	filled   bool // the last read filled buf
}

// mark starts a new value's byte budget.
func (b *bodyReader) mark() { b.budget = maxValueBytes }

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.budget <= 0 {
		b.tooLarge = true
		return 0, errValueTooLarge
	}
	if len(b.ahead) == 0 && b.aheadErr == nil {
		if b.waiting != nil {
			b.waiting()
		}
		b.fill()
	}
	if len(b.ahead) == 0 {
		err := b.aheadErr
		if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
			b.err = err
		}
		return 0, err
	}
	if int64(len(p)) > b.budget {
		p = p[:b.budget]
	}
	n := copy(p, b.ahead)
	b.ahead = b.ahead[n:]
	b.budget -= int64(n)
	return n, nil
}

// fill reads what the network has, up to readAhead bytes. The buffer starts small, for
// the many short answers, and doubles each time a read fills it.
func (b *bodyReader) fill() {
	switch {
	case b.buf == nil:
		b.buf = make([]byte, 4<<10)
	case b.filled && len(b.buf) < readAhead:
		b.buf = make([]byte, 2*len(b.buf))
	}
	if b.idle != nil {
		b.idle.Reset(b.idleFor)
	}
	n, err := b.r.Read(b.buf)
	if b.idle != nil {
		b.idle.Stop()
	}
	b.ahead, b.aheadErr = b.buf[:n], err
	b.filled = n == len(b.buf)
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

// decodeOptions keep encoding/json's tolerance, which real answers may rely on: invalid
// UTF-8 (and lone surrogate escapes) in strings is accepted, as are duplicate keys (the
// item decoder lets the last one win).
var decodeOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)}

// decodeEnvelope walks the envelope with the jsontext streaming decoder, which checks the
// JSON syntax of everything it reads: envelope fields in any order, unknown ones skipped
// token by token, and each ill_requests item read whole and handed to onItem before the
// next is read. Memory therefore holds one item, whatever the body size. raw is only
// valid during the call to onItem.
func decodeEnvelope(br *bodyReader, onItem func(raw json.RawMessage) error) (envelope, error) {
	var env envelope
	dec := jsontext.NewDecoder(br, decodeOptions...)
	br.mark()
	tok, err := dec.ReadToken()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return env, &decodeError{notJSON: true, msg: "an empty body"}
		}
		return env, &decodeError{notJSON: true, msg: "a body that is not JSON", err: err}
	}
	if tok.Kind() != '{' {
		return env, &decodeError{notJSON: true, msg: "JSON that is not an object (" + kindName(tok.Kind()) + ")"}
	}
	for {
		br.mark()
		if dec.PeekKind() == '}' {
			break
		}
		keyTok, err := dec.ReadToken() // a malformed or missing key fails here
		if err != nil {
			return env, syntaxErr(err, "reading the envelope")
		}
		key := keyTok.String()
		br.mark()
		switch key {
		case "count":
			raw, err := dec.ReadValue()
			if err != nil {
				return env, syntaxErr(err, "reading count")
			}
			v := flexOf(raw)
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
			tok, err := dec.ReadToken()
			if err != nil {
				return env, syntaxErr(err, "reading ill_requests")
			}
			if tok.Kind() == 'n' {
				continue // null: no requests
			}
			if tok.Kind() != '[' {
				return env, &decodeError{msg: "ill_requests is " + kindName(tok.Kind()) + ", not an array"}
			}
			for {
				br.mark()
				if dec.PeekKind() == ']' {
					break
				}
				raw, err := dec.ReadValue()
				if err != nil {
					return env, syntaxErr(err, "reading a request")
				}
				env.items++
				if err := onItem(json.RawMessage(raw)); err != nil {
					return env, &visitError{err}
				}
			}
			if _, err := dec.ReadToken(); err != nil { // the closing ]
				return env, syntaxErr(err, "reading ill_requests")
			}
		default:
			if err := skipValue(dec, br); err != nil {
				return env, syntaxErr(err, "reading field "+strconv.Quote(key))
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing }
		return env, syntaxErr(err, "reading the envelope")
	}
	br.mark()
	if tok, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err != nil {
			return env, syntaxErr(err, "after the envelope")
		}
		return env, &decodeError{msg: "more data after the envelope (" + kindName(tok.Kind()) + ")"}
	}
	return env, nil
}

// skipValue consumes one value of any shape token by token, so that an unknown field of
// any size is neither held in memory whole nor counted as one value against maxValueBytes.
func skipValue(dec *jsontext.Decoder, br *bodyReader) error {
	depth := dec.StackDepth()
	for {
		br.mark()
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		if dec.StackDepth() <= depth {
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

// kindName names a JSON value's kind for an error message.
func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
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

// Items go from the reading goroutine to the visiting one in batches of up to batchItems
// (or of batchBytes and more), so that the two wake each other once per batch rather than
// once per item, and the batches' buffers are reused. A batch is also handed over whenever
// the reader is about to wait on the network (bodyReader.waiting), so that a slow answer
// never keeps read items from visit.
const (
	batchItems = 16
	batchBytes = 64 << 10
)

// itemBatch holds read items, their bytes one after another; item i ends at ends[i].
type itemBatch struct {
	buf  []byte
	ends []int
}

// errVisitStopped ends the reading of an answer once a visit has failed.
var errVisitStopped = errors.New("visit failed")

// readEnvelope decodes an answer, maps each item and calls visit with it. It returns how
// many requests visit received and nil, visit's own error (as is), or a *connector.Error.
//
// Items are mapped and visited in a second goroutine while this one reads on: scanning
// the JSON and decoding each item into its fields are most of a large answer's CPU, and
// they overlap instead of taking turns. visit still sees the items one at a time and in
// order, and has seen every item read before readEnvelope returns; at most mapAhead read
// items wait (a batch being filled, batches handed over, the rest of the one being
// visited). After a failed visit no further item is visited and the reading stops.
func (c *Client) readEnvelope(br *bodyReader, what, ctype string, visit func(*connector.Request) error) (int, error) {
	batches := make(chan *itemBatch, mapAhead/batchItems-2)
	free := make(chan *itemBatch, mapAhead/batchItems)
	stopped := make(chan struct{}) // closed when a visit failed
	done := make(chan struct{})
	visited := 0
	var visitErr error
	go func() {
		defer close(done)
		for b := range batches {
			from := 0
			for _, end := range b.ends {
				raw := b.buf[from:end]
				from = end
				if visitErr != nil {
					continue // drain what was read before the reader saw the failure
				}
				visited++
				// mapItem keeps nothing of raw: every string it returns is a copy.
				if err := visit(mapItem(raw, c.sigel)); err != nil {
					visitErr = err
					close(stopped)
				}
			}
			b.buf, b.ends = b.buf[:0], b.ends[:0]
			select {
			case free <- b:
			default:
			}
		}
	}()
	var cur *itemBatch
	handOver := func() error {
		b := cur
		cur = nil
		select {
		case <-stopped:
			return errVisitStopped
		default:
		}
		select {
		case batches <- b:
			return nil
		case <-stopped:
			return errVisitStopped
		}
	}
	br.waiting = func() {
		if cur != nil {
			_ = handOver() // a failed visit is seen at the next item
		}
	}
	env, err := decodeEnvelope(br, func(raw json.RawMessage) error {
		if cur == nil {
			select {
			case cur = <-free:
			default:
				cur = &itemBatch{ends: make([]int, 0, batchItems)}
			}
		}
		cur.buf = append(cur.buf, raw...) // raw is only valid during this call
		cur.ends = append(cur.ends, len(cur.buf))
		if len(cur.ends) < batchItems && len(cur.buf) < batchBytes {
			return nil
		}
		return handOver()
	})
	br.waiting = nil
	if cur != nil {
		_ = handOver() // the items read before the answer ended or broke
	}
	close(batches)
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

// flexString is any JSON scalar read tolerantly (flexOf): strings as they are, numbers and
// booleans as their literal text, null as unset. An object or array is flagged odd, never
// an error, so one strange field cannot cost a whole request.
type flexString struct {
	s   string
	set bool
	odd bool
}

// flexBool accepts JSON booleans and the usual stand-ins ("1", "true", 1); anything else
// is false (boolOf).
type flexBool bool
