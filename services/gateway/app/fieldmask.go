package app

import (
	"net/http"
	"net/url"
	"strings"
)

// maskParams are the query parameters of type google.protobuf.FieldMask in this API
// (AIP-134's update_mask, AIP-157's read_mask), in both spellings grpc-gateway accepts.
var maskParams = []string{"updateMask", "update_mask", "readMask", "read_mask"}

// snakeMasks applies the JSON mapping of google.protobuf.FieldMask to the mask query
// parameters, which grpc-gateway applies to bodies but not to query parameters: in
// JSON a mask path is lowerCamelCase (`?updateMask=displayName,libris.baseUrl`), while
// the services compare proto names (display_name, libris.base_url). Paths already in
// snake_case, and `*`, pass unchanged, so both spellings work. (grpc-gateway's own hook
// for this, SetQueryParameterParser, sets a package global, hence the rewrite here.)
//
// q is r's parsed query; it is changed in place.
func snakeMasks(r *http.Request, q url.Values) *http.Request {
	changed := false
	for _, k := range maskParams {
		for i, v := range q[k] {
			paths := strings.Split(v, ",")
			for j, p := range paths {
				paths[j] = snakePath(p)
			}
			if s := strings.Join(paths, ","); s != v {
				q[k][i], changed = s, true
			}
		}
	}
	if !changed {
		return r
	}
	r = r.WithContext(r.Context()) // a shallow copy: a handler must not change its caller's request
	u := *r.URL
	u.RawQuery = q.Encode()
	r.URL = &u
	return r
}

// snakePath turns each segment of a lowerCamelCase field path into snake_case.
func snakePath(path string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(path) {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
