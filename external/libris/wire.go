package libris

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The item decoder. json.Decoder has already cut the item out of the answer and checked
// that it is valid JSON; decodeItem then reads it once, field by field, into wireItem.
// (json.Unmarshal would scan it again to validate it, and once more for every value it
// hands to a custom UnmarshalJSON, nested objects included.) It keeps encoding/json's
// rules: keys match a field exactly or else case-insensitively, the last occurrence of a
// field wins, a null resets it, unknown fields are skipped, strings are unquoted as
// encoding/json does (invalid UTF-8 becomes U+FFFD).

// wireFields sets each field of wireItem from its raw value.
var wireFields = map[string]func(*wireItem, []byte){
	"request_id":                func(it *wireItem, v []byte) { it.RequestID = flexOf(v) },
	"lf_number":                 func(it *wireItem, v []byte) { it.LFNumber = flexOf(v) },
	"status":                    func(it *wireItem, v []byte) { it.Status = flexOf(v) },
	"last_modified":             func(it *wireItem, v []byte) { it.LastModified = flexOf(v) },
	"media_type":                func(it *wireItem, v []byte) { it.MediaType = flexOf(v) },
	"requesting_library":        func(it *wireItem, v []byte) { it.RequestingLibrary = flexOf(v) },
	"active_library":            func(it *wireItem, v []byte) { it.ActiveLibrary = flexOf(v) },
	"receiving_library":         func(it *wireItem, v []byte) { it.ReceivingLibrary = libraryOf(v) },
	"recipients":                func(it *wireItem, v []byte) { it.Recipients = recipientsOf(v) },
	"end_user":                  func(it *wireItem, v []byte) { it.EndUser = endUserOf(v) },
	"bib_id":                    func(it *wireItem, v []byte) { it.BibID = flexOf(v) },
	"isbn_issn":                 func(it *wireItem, v []byte) { it.IsbnIssn = flexOf(v) },
	"title":                     func(it *wireItem, v []byte) { it.Title = flexOf(v) },
	"author":                    func(it *wireItem, v []byte) { it.Author = flexOf(v) },
	"publisher":                 func(it *wireItem, v []byte) { it.Publisher = flexOf(v) },
	"place_of_publication":      func(it *wireItem, v []byte) { it.PlaceOfPublication = flexOf(v) },
	"year":                      func(it *wireItem, v []byte) { it.Year = flexOf(v) },
	"volume_designation":        func(it *wireItem, v []byte) { it.VolumeDesignation = flexOf(v) },
	"pages":                     func(it *wireItem, v []byte) { it.Pages = flexOf(v) },
	"title_of_article":          func(it *wireItem, v []byte) { it.TitleOfArticle = flexOf(v) },
	"author_of_article":         func(it *wireItem, v []byte) { it.AuthorOfArticle = flexOf(v) },
	"user":                      func(it *wireItem, v []byte) { it.User = flexOf(v) },
	"user_id":                   func(it *wireItem, v []byte) { it.UserID = flexOf(v) },
	"message":                   func(it *wireItem, v []byte) { it.Message = flexOf(v) },
	"libris_enduser_request_id": func(it *wireItem, v []byte) { it.EnduserRequestID = flexOf(v) },
	"enduser_id":                func(it *wireItem, v []byte) { it.EnduserID = flexOf(v) },
}

// fieldSet is a set of fields by name, matched as encoding/json matches keys: the exact
// name, else one equal under case folding. folded holds the names in ASCII lower case, so
// an ASCII key (every name the service sends) is matched by two map lookups instead of a
// comparison with every name.
type fieldSet[T any] struct {
	exact  map[string]T
	folded map[string]T
}

func newFieldSet[T any](fields map[string]T) fieldSet[T] {
	fs := fieldSet[T]{exact: fields, folded: make(map[string]T, len(fields))}
	for name, f := range fields {
		fs.folded[strings.ToLower(name)] = f
	}
	return fs
}

// find finds the field of key (unquoted).
func (fs fieldSet[T]) find(key []byte) (T, bool) {
	if f, ok := fs.exact[string(key)]; ok {
		return f, true
	}
	var buf [64]byte
	if lower, ok := asciiLower(buf[:0], key); ok {
		f, ok := fs.folded[string(lower)]
		return f, ok
	}
	for name, f := range fs.exact {
		if bytes.EqualFold([]byte(name), key) {
			return f, true
		}
	}
	var zero T
	return zero, false
}

// asciiLower appends key in lower case to dst; false when key is not all ASCII (Unicode
// folding then applies: "ſ" folds to "s", the Kelvin sign to "k").
func asciiLower(dst, key []byte) ([]byte, bool) {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

var (
	wireFieldSet      = newFieldSet(wireFields)
	recipientFieldSet = newFieldSet(recipientFields)
)

// decodeItem reads an item object (raw starts with '{' and is valid JSON).
func decodeItem(raw []byte) wireItem {
	var it wireItem
	eachField(raw, func(key, v []byte) {
		if set, ok := wireFieldSet.find(key); ok {
			set(&it, v)
		}
	})
	return it
}

// flexOf reads a scalar tolerantly, as flexString.UnmarshalJSON does.
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

func libraryOf(v []byte) wireLibrary {
	switch firstByte(v) {
	case '{':
		var l wireLibrary
		eachField(v, func(key, v []byte) {
			if bytes.EqualFold(key, []byte("library_code")) {
				l.LibraryCode = flexOf(v)
			}
		})
		return l
	case 'n':
		return wireLibrary{}
	}
	return wireLibrary{odd: true}
}

func endUserOf(v []byte) wireEndUser {
	switch firstByte(v) {
	case '{':
		var u wireEndUser
		eachField(v, func(key, v []byte) {
			if bytes.EqualFold(key, []byte("approved")) {
				u.Approved = boolOf(v)
			}
		})
		return u
	case 'n':
		return wireEndUser{}
	}
	return wireEndUser{odd: true}
}

var recipientFields = map[string]func(*wireRecipient, []byte){
	"library_code":      func(r *wireRecipient, v []byte) { r.LibraryCode = flexOf(v) },
	"is_active_library": func(r *wireRecipient, v []byte) { r.IsActiveLibrary = boolOf(v) },
	"response":          func(r *wireRecipient, v []byte) { r.Response = flexOf(v) },
}

func recipientsOf(v []byte) wireRecipients {
	switch firstByte(v) {
	case '[':
		var r wireRecipients
		eachElement(v, func(e []byte) {
			if e[0] != '{' {
				r.dropped++
				return
			}
			var w wireRecipient
			eachField(e, func(key, v []byte) {
				if set, ok := recipientFieldSet.find(key); ok {
					set(&w, v)
				}
			})
			r.list = append(r.list, w)
		})
		return r
	case 'n':
		return wireRecipients{}
	}
	return wireRecipients{odd: true}
}

// unquote returns the string a JSON string literal (quotes included) holds.
func unquote(lit []byte) (string, bool) {
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

// eachField calls fn with each key (unquoted) and raw value of the object obj (valid
// JSON). A key without escapes is handed over as the bytes of obj, not copied.
func eachField(obj []byte, fn func(key, v []byte)) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		end := valueEnd(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			k, _ := unquote(obj[i:end])
			key = []byte(k)
		}
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the colon
		end = valueEnd(obj, i)
		fn(key, obj[i:end])
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// eachElement calls fn with each raw element of the array arr (valid JSON).
func eachElement(arr []byte, fn func(v []byte)) {
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := valueEnd(arr, i)
		fn(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
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
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
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

// stringEnd is the index just past the string literal starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}
