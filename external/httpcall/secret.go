package httpcall

import (
	"errors"
	"fmt"
	"strings"

	"github.com/interloan/interloan/external/connector"
)

// Secret is a credential that must never reach an error text: Libris's API key, DBC's
// password. The zero Secret redacts nothing.
type Secret struct {
	value string
	label string   // what stands in its place, e.g. "[api-key]"
	forms []string // other spellings it travels in (form-encoded), also redacted
}

// NewSecret returns a Secret replaced by label wherever value, or value passed through any
// of encodings (e.g. url.QueryEscape for a form body an answer might echo), appears.
func NewSecret(value, label string, encodings ...func(string) string) Secret {
	s := Secret{value: value, label: label}
	for _, enc := range encodings {
		if e := enc(value); e != value && e != "" {
			s.forms = append(s.forms, e)
		}
	}
	return s
}

// Len is the length of the secret, so a quoted answer can be read far enough to redact it.
func (s Secret) Len() int { return len(s.value) }

// Redact replaces every spelling of the secret in text.
func (s Secret) Redact(text string) string {
	if s.value == "" {
		return text
	}
	text = strings.ReplaceAll(text, s.value, s.label)
	for _, f := range s.forms {
		text = strings.ReplaceAll(text, f, s.label)
	}
	return text
}

// Fail builds a connector error whose text cannot contain the secret, whatever an
// underlying error or a quoted answer held.
func (s Secret) Fail(kind connector.Kind, err error, format string, args ...any) *connector.Error {
	msg := s.Redact(fmt.Sprintf(format, args...))
	if err != nil {
		if text := err.Error(); s.Redact(text) != text {
			err = errors.New(s.Redact(text))
		}
	}
	return &connector.Error{Kind: kind, Message: msg, Err: err}
}
