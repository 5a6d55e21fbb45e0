package libris

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// The item decoder. The envelope decoder has already cut the item out of the answer and
// checked that it is valid JSON; decodeItem then reads it once, field by field, into
// wireItem, without checking the syntax again. (json.Unmarshal would scan it again to
// validate it, and once more for every value it hands to a custom UnmarshalJSON, nested
// objects included.) It keeps encoding/json's rules, which FuzzDecodeItem holds it to:
// keys match a field exactly or else case-insensitively, the last occurrence of a field
// wins, a null resets it, unknown fields are skipped, strings are unquoted as
// encoding/json does (invalid UTF-8 becomes U+FFFD).

// decodeItem reads an item object (raw starts with '{' and is valid JSON).
func decodeItem(raw []byte) wireItem {
	var it wireItem
	r := objectReader{b: raw, i: 1}
	for key, ok := r.key(); ok; key, ok = r.key() {
		if it.set(key, &r) {
			continue
		}
		var buf [64]byte
		if folded, ok := foldKey(buf[:0], key); ok && it.set(folded, &r) {
			continue
		}
		r.skip()
	}
	return it
}

// set reads the value of the field named exactly key from r; false, reading nothing, for
// no such field. It is the one place that names each field's JSON key.
func (it *wireItem) set(key []byte, r *objectReader) bool {
	switch string(key) {
	case "request_id":
		it.RequestID = r.flex()
	case "lf_number":
		it.LFNumber = r.flex()
	case "status":
		it.Status = r.flex()
	case "last_modified":
		it.LastModified = r.flex()
	case "media_type":
		it.MediaType = r.flex()
	case "requesting_library":
		it.RequestingLibrary = r.flex()
	case "active_library":
		it.ActiveLibrary = r.flex()
	case "receiving_library":
		it.ReceivingLibrary = r.library()
	case "recipients":
		it.Recipients = r.recipients()
	case "end_user":
		it.EndUser = r.endUser()
	case "bib_id":
		it.BibID = r.flex()
	case "isbn_issn":
		it.IsbnIssn = r.flex()
	case "title":
		it.Title = r.flex()
	case "author":
		it.Author = r.flex()
	case "publisher":
		it.Publisher = r.flex()
	case "place_of_publication":
		it.PlaceOfPublication = r.flex()
	case "year":
		it.Year = r.flex()
	case "volume_designation":
		it.VolumeDesignation = r.flex()
	case "pages":
		it.Pages = r.flex()
	case "title_of_article":
		it.TitleOfArticle = r.flex()
	case "author_of_article":
		it.AuthorOfArticle = r.flex()
	case "user":
		it.User = r.flex()
	case "user_id":
		it.UserID = r.flex()
	case "message":
		it.Message = r.flex()
	case "libris_enduser_request_id":
		it.EnduserRequestID = r.flex()
	case "enduser_id":
		it.EnduserID = r.flex()
	default:
		return false
	}
	return true
}

// foldKey appends key folded to lower case to dst, for matching it case-insensitively
// against field names, which are lower-case ASCII. ok is false when the folded key could
// not match where key itself did not: key is already lower-case ASCII, or holds a rune
// that folds to no ASCII letter. Under Unicode simple folding only ſ (U+017F) and the
// Kelvin sign (U+212A) fold to ASCII letters, s and k (TestFoldKeyRunes checks this), so
// the result equals a field name exactly when key equals it under bytes.EqualFold.
func foldKey(dst, key []byte) (folded []byte, ok bool) {
	if !mayFold(key) {
		return nil, false
	}
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		switch r {
		case '\u017F': // ſ
			dst = append(dst, 's')
		case '\u212A': // the Kelvin sign
			dst = append(dst, 'k')
		default:
			return nil, false
		}
		i += n
	}
	return dst, true
}

// mayFold reports whether key holds an upper-case ASCII letter or a non-ASCII byte, that
// is, whether folding could change it. Most keys are neither, so it looks at eight bytes
// at a time.
func mayFold(key []byte) bool {
	for ; len(key) >= 8; key = key[8:] {
		x := binary.LittleEndian.Uint64(key)
		if x&highBits != 0 {
			return true
		}
		// With no byte at 0x80 or above, adding 0x80-c sets a byte's high bit exactly
		// when the byte is c or above, and no sum carries into the next byte.
		if (x+lowBits*(0x80-'A'))&^(x+lowBits*(0x80-'Z'-1))&highBits != 0 {
			return true
		}
	}
	for _, c := range key {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// matchKey reports whether key names the lower-case ASCII field name as encoding/json
// matches keys: exactly, or else case-insensitively.
func matchKey(key []byte, name string) bool {
	if string(key) == name {
		return true
	}
	var buf [64]byte
	folded, ok := foldKey(buf[:0], key)
	return ok && string(folded) == name
}

// flexOf reads a scalar tolerantly (see flexString).
func flexOf(v []byte) flexString {
	if len(v) == 0 {
		return flexString{}
	}
	switch v[0] {
	case 'n':
		return flexString{}
	case '"':
		s, ok := unquote(v)
		if !ok {
			return flexString{odd: true}
		}
		return flexString{s: s, set: true}
	case '{', '[':
		return flexString{odd: true}
	}
	return flexString{s: string(v), set: true}
}

// boolOf reads a flexBool: booleans and the usual stand-ins.
func boolOf(v []byte) flexBool {
	switch strings.ToLower(strings.TrimSpace(flexOf(v).s)) {
	case "true", "1", "yes", "y", "t":
		return true
	}
	return false
}

// library reads receiving_library.
func (r *objectReader) library() wireLibrary {
	switch r.peek() {
	case '{':
		var l wireLibrary
		o := r.object()
		for key, ok := o.key(); ok; key, ok = o.key() {
			if matchKey(key, "library_code") {
				l.LibraryCode = o.flex()
			} else {
				o.skip()
			}
		}
		r.resume(o)
		return l
	case 'n':
		r.skip()
		return wireLibrary{}
	}
	r.skip()
	return wireLibrary{odd: true}
}

// endUser reads end_user.
func (r *objectReader) endUser() wireEndUser {
	switch r.peek() {
	case '{':
		var u wireEndUser
		o := r.object()
		for key, ok := o.key(); ok; key, ok = o.key() {
			if matchKey(key, "approved") {
				u.Approved = boolOf(o.value())
			} else {
				o.skip()
			}
		}
		r.resume(o)
		return u
	case 'n':
		r.skip()
		return wireEndUser{}
	}
	r.skip()
	return wireEndUser{odd: true}
}

// set reads the value of the recipient's field named exactly key, as wireItem.set does.
func (w *wireRecipient) set(key []byte, r *objectReader) bool {
	switch string(key) {
	case "library_code":
		w.LibraryCode = r.flex()
	case "is_active_library":
		w.IsActiveLibrary = boolOf(r.value())
	case "response":
		w.Response = r.flex()
	default:
		return false
	}
	return true
}

// recipients reads the recipients array.
func (r *objectReader) recipients() wireRecipients {
	switch r.peek() {
	case '[':
		var rs wireRecipients
		a := r.object() // the elements, read as values without keys
		for a.more() {
			if a.peek() != '{' {
				rs.dropped++
				a.skip()
				continue
			}
			var w wireRecipient
			o := a.object()
			for key, ok := o.key(); ok; key, ok = o.key() {
				if w.set(key, &o) {
					continue
				}
				var buf [64]byte
				if folded, ok := foldKey(buf[:0], key); ok && w.set(folded, &o) {
					continue
				}
				o.skip()
			}
			a.resume(o)
			rs.list = append(rs.list, w)
		}
		r.resume(a)
		return rs
	case 'n':
		r.skip()
		return wireRecipients{}
	}
	r.skip()
	return wireRecipients{odd: true}
}

// unquote returns the string a JSON string literal (quotes included) holds.
func unquote(lit []byte) (string, bool) {
	if len(lit) < 2 {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", false
	}
	return s, true
}

// objectReader reads an object or array (valid JSON) in place, one member or element at
// a time: key (in an object) and then one of the value readers, each of which moves past
// the value; a nested object or array is read with a reader of its own (object, then
// resume), so no byte is scanned twice.
type objectReader struct {
	b []byte
	i int // at the next key, value or closing bracket
}

// key returns the next member's key (unquoted); ok is false, and the reader past the
// closing brace, after the last. A key without escapes is handed over as the bytes of the
// object, not copied.
func (r *objectReader) key() (key []byte, ok bool) {
	b := r.b
	i := skipSpace(b, r.i)
	if i >= len(b) || b[i] != '"' {
		r.i = i + 1
		return nil, false
	}
	end, escaped := stringEnd(b, i)
	if end < i+2 {
		r.i = len(b) // unterminated: not valid JSON
		return nil, false
	}
	key = b[i+1 : end-1]
	if escaped {
		k, _ := unquote(b[i:end])
		key = []byte(k)
	}
	i = skipSpace(b, end)
	r.i = skipSpace(b, i+1) // past the colon
	return key, true
}

// more reports whether an array has another element; false moves past the closing bracket.
func (r *objectReader) more() bool {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) || r.b[r.i] == ']' {
		r.i++
		return false
	}
	return true
}

// peek is the first byte of the next value, 0 at the end of the input.
func (r *objectReader) peek() byte {
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// value returns the next value's raw bytes and moves past it.
func (r *objectReader) value() []byte {
	end := valueEnd(r.b, r.i)
	v := r.b[r.i:end]
	r.i = afterValue(r.b, end)
	return v
}

// skip moves past the next value.
func (r *objectReader) skip() { r.i = afterValue(r.b, valueEnd(r.b, r.i)) }

// flex reads the next value tolerantly (flexOf). A string without escapes, the usual
// value, is taken as it stands.
func (r *objectReader) flex() flexString {
	if r.peek() != '"' {
		return flexOf(r.value())
	}
	from := r.i
	end, escaped := stringEnd(r.b, from)
	r.i = afterValue(r.b, end)
	if body := r.b[from+1 : max(end-1, from+1)]; !escaped && end-from >= 2 && utf8.Valid(body) {
		return flexString{s: string(body), set: true}
	}
	return flexOf(r.b[from:end])
}

// object returns a reader of the object or array that is the next value; resume then
// moves this reader past it.
func (r *objectReader) object() objectReader { return objectReader{b: r.b, i: r.i + 1} }

// resume moves past the nested object or array that o has read to its end.
func (r *objectReader) resume(o objectReader) { r.i = afterValue(r.b, o.i) }

// afterValue skips the white space and comma after a value ending at b[i].
func afterValue(b []byte, i int) int {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i++
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd is the index just past the value starting at b[i] (valid JSON).
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// stringEnd is the index just past the string literal starting at b[i], and whether it
// holds an escape. It looks for the closing quote or a backslash eight bytes at a time.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	i++
	for {
		for i+8 <= len(b) {
			if m := quoteOrBackslash(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return len(b), escaped
		}
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			i += 2
		default:
			i++
		}
	}
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// quoteOrBackslash marks the bytes of x (eight bytes, little-endian) that are '"' or '\\'
// with their high bit. Bytes after the first marked one may be marked wrongly; the lowest
// mark is always right (the usual "has zero byte" test, on x with each wanted byte made 0).
func quoteOrBackslash(x uint64) uint64 {
	q := x ^ (lowBits * '"')
	e := x ^ (lowBits * '\\')
	return ((q-lowBits)&^q | (e-lowBits)&^e) & highBits
}
