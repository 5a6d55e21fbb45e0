package auth

import (
	"testing"

	"google.golang.org/grpc/metadata"
)

// FuzzParseTokenFile: any file content gives a token set or a line-numbered error,
// never a panic, and a parsed set authenticates nothing it should not.
func FuzzParseTokenFile(f *testing.F) {
	f.Add([]byte(h('a') + " alice admin\n# c\n\n" + h('b') + "\tbob viewer,operator # x\n"))
	f.Add([]byte(h('a') + " admin"))
	f.Add([]byte("il_abc alice admin\n"))
	f.Add([]byte("\r\n\x00\xff#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		if _, ok := tok.Authenticate(string(data)); ok && tok.Len() == 0 {
			t.Fatal("an empty set authenticated")
		}
	})
}

// FuzzBearer: any authorization value is parsed without a panic, and an accepted token
// never contains whitespace.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer il_x", "bearer  x ", "Basic x", "Bearer", "", "Bearer \t x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		token, ok := bearer(metadata.Pairs("authorization", v))
		if ok && (token == "" || containsSpace(token)) {
			t.Fatalf("accepted token %q from %q", token, v)
		}
	})
}

func containsSpace(s string) bool {
	for _, c := range s {
		if c == ' ' || c == '\t' {
			return true
		}
	}
	return false
}
