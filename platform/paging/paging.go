// Package paging implements AIP-158 pagination over ordered keys: page sizes with a
// default and a maximum, and opaque, URL-safe page tokens that remember the last key
// served and a hash of the request's filters, so a token cannot be replayed with other
// filters.
package paging

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/interloan/interloan/platform/apierr"
)

// Default and maximum page sizes for every List method.
const (
	DefaultSize = 50
	MaxSize     = 1000
)

// Size validates and normalises page_size: 0 → DefaultSize, above MaxSize → MaxSize,
// negative → INVALID_ARGUMENT.
func Size(pageSize int32) (int, error) {
	switch {
	case pageSize < 0:
		return 0, apierr.Invalid("page_size", "must not be negative")
	case pageSize == 0:
		return DefaultSize, nil
	case pageSize > MaxSize:
		return MaxSize, nil
	}
	return int(pageSize), nil
}

type token struct {
	After  []byte `json:"a"`
	Filter string `json:"f"`
}

// FilterHash identifies a request's filter values; pass every filter parameter.
func FilterHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

// Encode makes the token that resumes after key `after`.
func Encode(after []byte, filterHash string) string {
	b, _ := json.Marshal(token{After: after, Filter: filterHash}) // cannot fail for this type
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the key to resume after; an empty token means the start (nil).
func Decode(tok, filterHash string) ([]byte, error) {
	if tok == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	var t token
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	if err != nil || len(t.After) == 0 {
		return nil, apierr.Invalid("page_token", "is not a token this server issued")
	}
	if t.Filter != filterHash {
		return nil, apierr.Invalid("page_token", "was issued for a request with other filters; repeat the same filters on every page")
	}
	return t.After, nil
}

// List serves one page of a List call: it validates page_size and page_token against the
// request's filter values, fetches up to the page size after the token's key, and makes
// the next token from the key fetch says to resume after (nil when nothing follows).
// Put the collection among the filter values so a token cannot be replayed elsewhere.
func List[T any](pageSize int32, pageToken string, filter []string, fetch func(after []byte, limit int) (items []T, next []byte, err error)) ([]T, string, error) {
	limit, err := Size(pageSize)
	if err != nil {
		return nil, "", err
	}
	hash := FilterHash(filter...)
	after, err := Decode(pageToken, hash)
	if err != nil {
		return nil, "", err
	}
	items, next, err := fetch(after, limit)
	if err != nil || next == nil {
		return items, "", err
	}
	return items, Encode(next, hash), nil
}
