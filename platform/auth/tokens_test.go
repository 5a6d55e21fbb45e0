package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/logging/logtest"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// h is a well-formed hash for test lines (64 hex digits made from a seed character).
func h(c byte) string { return strings.Repeat(string(c), 64) }

func TestParseTokenFileErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		kind error
	}{
		{"short hash", "# c\n\n" + h('a')[:63] + " alice admin\n", 3, ErrHash},
		{"long hash", h('a') + "0 alice admin", 1, ErrHash},
		{"non-hex hash", strings.Repeat("g", 64) + " alice admin", 1, ErrHash},
		{"token instead of hash", "il_" + strings.Repeat("A", 43) + " alice admin", 1, ErrHash},
		{"empty principal", h('a') + " admin", 1, ErrPrincipal},
		{"bad principal charset", h('a') + " al/ice admin", 1, ErrPrincipal},
		{"long principal", h('a') + " " + strings.Repeat("p", 129) + " admin", 1, ErrPrincipal},
		{"no roles", h('a') + " alice", 1, ErrRole},
		{"unknown role", h('a') + " alice admin\n" + h('b') + " bob root", 2, ErrRole},
		{"pseudo-role", h('a') + " alice *public", 1, ErrRole},
		{"empty role in list", h('a') + " alice admin,,viewer", 1, ErrRole},
		{"role twice", h('a') + " alice viewer,viewer", 1, ErrRole},
		{"too many fields", h('a') + " alice admin viewer", 1, ErrSyntax},
		{"hash alone", h('a'), 1, ErrSyntax},
		{"duplicate hash", h('a') + " alice admin\n" + h('b') + " bob viewer\n" + strings.ToUpper(h('a')) + " carol viewer", 3, ErrDuplicate},
		{"windows line endings keep numbering", h('a') + " alice admin\r\n\r\n" + h('a') + " bob viewer\r\n", 3, ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Line != tt.line || !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v (line %d), want line %d kind %v", err, fe.Line, tt.line, tt.kind)
			}
			if !contains(err.Error(), "line ") {
				t.Fatalf("message lacks the line number: %v", err)
			}
			if contains(err.Error(), "il_") {
				t.Fatalf("message quotes a token: %v", err)
			}
		})
	}
}

func TestParseTokenFileValid(t *testing.T) {
	text := "# Interloan tokens\n" +
		"\n" +
		"   # indented comment\n" +
		h('a') + " alice admin   # the GSA\n" +
		"\t" + h('b') + "\tharvester@svc\tharvester\n" +
		h('c') + " alice viewer,operator\n" + // a second token of the same principal
		strings.ToUpper(h('d')) + " ops.team-1:x operator" // no final newline, upper-case hex
	tok, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Len() != 4 {
		t.Fatalf("Len = %d, want 4", tok.Len())
	}
	if _, err := Parse(nil); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := Parse(bytes.Repeat([]byte("#"), MaxTokenFileSize+1)); !errors.Is(err, ErrFileSize) {
		t.Fatalf("huge file: %v", err)
	}
}

func TestNewTokenRoundTrip(t *testing.T) {
	var file strings.Builder
	tokens := map[string]Principal{}
	for _, p := range []Principal{
		{Name: "alice", Roles: []Role{RoleAdmin}},
		{Name: "harvester", Roles: []Role{RoleHarvester}},
		{Name: "bob@example.org", Roles: []Role{RoleViewer, RoleOperator}},
	} {
		token, line, err := NewToken(p.Name, p.Roles...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, TokenPrefix) || len(token) != len(TokenPrefix)+43 {
			t.Fatalf("token %q: want %s + 43 base64url characters", token, TokenPrefix)
		}
		if strings.ContainsAny(token[len(TokenPrefix):], "+/=") {
			t.Fatalf("token %q is not unpadded base64url", token)
		}
		if contains(line, token) || contains(line, token[len(TokenPrefix):]) {
			t.Fatal("the file line contains the token")
		}
		if !strings.HasPrefix(line, HashToken(token)+" ") {
			t.Fatalf("line %q does not start with the token's hash", line)
		}
		file.WriteString(line + "\n")
		tokens[token] = p
	}
	set, err := Parse([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range tokens {
		got, ok := set.Authenticate(token)
		if !ok || got.Name != want.Name || !slices.Equal(got.Roles, want.Roles) {
			t.Errorf("Authenticate = %v %v, want %v", got, ok, want)
		}
		if contains(file.String(), token) {
			t.Error("the file text contains a token")
		}
	}
	t1, _, _ := NewToken("x", RoleViewer)
	t2, _, _ := NewToken("x", RoleViewer)
	if t1 == t2 {
		t.Fatal("two tokens are equal")
	}
}

func TestNewTokenRejects(t *testing.T) {
	tests := []struct {
		principal string
		roles     []Role
		kind      error
	}{
		{"", []Role{RoleAdmin}, ErrPrincipal},
		{"a b", []Role{RoleAdmin}, ErrPrincipal},
		{"a#b", []Role{RoleAdmin}, ErrPrincipal},
		{"a\nb", []Role{RoleAdmin}, ErrPrincipal},
		{"alice", nil, ErrRole},
		{"alice", []Role{"root"}, ErrRole},
		{"alice", []Role{Public}, ErrRole},
		{"alice", []Role{RoleAdmin, RoleAdmin}, ErrRole},
	}
	for _, tt := range tests {
		token, line, err := NewToken(tt.principal, tt.roles...)
		if !errors.Is(err, tt.kind) || token != "" || line != "" {
			t.Errorf("NewToken(%q, %v) = %q, %q, %v; want error %v", tt.principal, tt.roles, token, line, err, tt.kind)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	var lines []string
	var tokens []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		tok, line, err := NewToken(name, RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
		lines = append(lines, line)
	}
	set, err := Parse([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	// Every position in the scan must match: first, middle and last entry.
	for i, tok := range tokens {
		p, ok := set.Authenticate(tok)
		if !ok || p.Name != string(rune('a'+i)) {
			t.Errorf("token %d: %v %v", i, p, ok)
		}
	}
	for _, bad := range []string{
		"", " ", tokens[0] + "x", tokens[0][:len(tokens[0])-1], strings.ToUpper(tokens[0]),
		HashToken(tokens[0]), // the hash is not the token
		strings.Repeat("x", MaxTokenLen+1),
	} {
		if p, ok := set.Authenticate(bad); ok {
			t.Errorf("Authenticate(%.20q) = %v, want no principal", bad, p)
		}
	}
	var nilTokens *Tokens
	if _, ok := nilTokens.Authenticate(tokens[0]); ok {
		t.Error("nil *Tokens authenticated")
	}
	// The returned principal is a copy: changing it does not change the set.
	p, _ := set.Authenticate(tokens[0])
	p.Roles[0] = RoleAdmin
	if again, _ := set.Authenticate(tokens[0]); again.Roles[0] != RoleViewer {
		t.Fatal("Authenticate shares its roles with the caller")
	}
}

// writeFile writes text and gives the file a distinct mtime, so a change is seen even
// on file systems with coarse timestamps.
func writeFile(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestReloadKeepsLastGoodSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	alice, aliceLine, _ := NewToken("alice", RoleAdmin)
	bob, bobLine, _ := NewToken("bob", RoleViewer)
	base := time.Now().Add(-time.Hour)
	writeFile(t, path, aliceLine+"\n", base)

	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	mustAuth := func(token, want string) {
		t.Helper()
		p, ok := tok.Authenticate(token)
		if want == "" && ok {
			t.Fatalf("authenticated as %s, want refused", p.Name)
		}
		if want != "" && (!ok || p.Name != want) {
			t.Fatalf("got %v %v, want %s", p, ok, want)
		}
	}
	mustAuth(alice, "alice")
	mustAuth(bob, "")

	// Unchanged file: nothing to do.
	if changed, err := tok.Reload(); changed || err != nil {
		t.Fatalf("unchanged file: %v %v", changed, err)
	}
	// Bob added, alice revoked.
	writeFile(t, path, bobLine+"\n", base.Add(time.Second))
	if changed, err := tok.Reload(); !changed || err != nil {
		t.Fatalf("changed file: %v %v", changed, err)
	}
	mustAuth(alice, "")
	mustAuth(bob, "bob")

	// A broken file is an error once, and bob keeps working.
	writeFile(t, path, aliceLine+"\n"+bobLine+" extra\n", base.Add(2*time.Second))
	changed, err := tok.Reload()
	var fe *FileError
	if changed || !errors.As(err, &fe) || fe.Line != 2 {
		t.Fatalf("broken file: %v %v", changed, err)
	}
	mustAuth(alice, "")
	mustAuth(bob, "bob")
	if changed, err := tok.Reload(); changed || err != nil {
		t.Fatalf("same broken file again: %v %v (want it reported once)", changed, err)
	}

	// A missing file is an error each time, and bob still works.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Reload(); err == nil {
		t.Fatal("missing file: no error")
	}
	mustAuth(bob, "bob")

	// The file is back.
	writeFile(t, path, aliceLine+"\n", base)
	if changed, err := tok.Reload(); !changed || err != nil {
		t.Fatalf("restored file: %v %v", changed, err)
	}
	mustAuth(alice, "alice")
	mustAuth(bob, "")

	// Replaced by rename (as a Kubernetes Secret update does) with a file of the same
	// size and mtime: the new inode alone must trigger the reload.
	carol, carolLine, _ := NewToken("carol", RoleAdmin)
	if len(carolLine) != len(aliceLine) {
		t.Fatal("test needs lines of equal length")
	}
	tmp := filepath.Join(dir, "tokens.new")
	writeFile(t, tmp, carolLine+"\n", base)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if changed, err := tok.Reload(); !changed || err != nil {
		t.Fatalf("renamed file: %v %v", changed, err)
	}
	mustAuth(carol, "carol")
	mustAuth(alice, "")
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file loaded")
	}
	path := filepath.Join(dir, "bad")
	writeFile(t, path, h('a')+" alice nobody\n", time.Now())
	_, err := Load(path)
	if !errors.Is(err, ErrRole) || !contains(err.Error(), path) || !contains(err.Error(), "line 1") {
		t.Fatalf("bad file: %v", err)
	}
}

// replaceFile writes text to a new file and renames it over path, the way a careful
// operator (or Kubernetes) updates the token file.
func replaceFile(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	tmp := path + ".new"
	writeFile(t, tmp, text, mtime)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	alice, aliceLine, _ := NewToken("alice", RoleAdmin)
	bob, bobLine, _ := NewToken("bob", RoleViewer)
	base := time.Now().Add(-time.Hour)
	writeFile(t, path, aliceLine+"\n", base)
	var logs logtest.Buffer
	tok, err := Load(path, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tok.Watch(ctx, time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	replaceFile(t, path, aliceLine+"\n"+bobLine+"\n", base.Add(time.Second))
	eventually("bob to be accepted", func() bool { _, ok := tok.Authenticate(bob); return ok })
	eventually("the reload log line", func() bool { return contains(logs.String(), "token file reloaded") })

	replaceFile(t, path, "not a token line\n", base.Add(2*time.Second))
	eventually("the error log line", func() bool { return contains(logs.String(), "keeping the last good tokens") })
	if _, ok := tok.Authenticate(alice); !ok {
		t.Fatal("a broken file dropped the last good set")
	}
	// Fixed again, with every token gone: applied, and warned about.
	replaceFile(t, path, "# nobody\n", base.Add(3*time.Second))
	eventually("alice to be refused", func() bool { _, ok := tok.Authenticate(alice); return !ok })
	eventually("the empty-file warning", func() bool { return contains(logs.String(), "holds no tokens") })
	for _, secret := range []string{alice, bob} {
		if contains(logs.String(), secret) {
			t.Fatal("a token appears in the logs")
		}
	}
}

// TestWatchWaitsForTheFileToSettle: an in-place rewrite (truncate, then write) is
// applied only once the file stops changing, never half written.
func TestWatchWaitsForTheFileToSettle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	alice, aliceLine, _ := NewToken("alice", RoleAdmin)
	bob, bobLine, _ := NewToken("bob", RoleViewer)
	base := time.Now().Add(-time.Hour)
	writeFile(t, path, aliceLine+"\n", base)
	tok, err := Load(path, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	w := watcher{t: tok}
	ctx := context.Background()
	if w.poll(ctx) {
		t.Fatal("unchanged file applied")
	}
	writeFile(t, path, "", base.Add(time.Second)) // the editor truncated the file...
	if w.poll(ctx) {
		t.Fatal("a change was applied on first sight")
	}
	writeFile(t, path, aliceLine+"\n"+bobLine+"\n", base.Add(2*time.Second)) // ...and wrote it
	if w.poll(ctx) {
		t.Fatal("a file still changing was applied")
	}
	if _, ok := tok.Authenticate(alice); !ok {
		t.Fatal("the half-written (empty) file took effect")
	}
	if !w.poll(ctx) {
		t.Fatal("a settled change was not applied")
	}
	if _, ok := tok.Authenticate(bob); !ok {
		t.Fatal("bob refused after the reload")
	}
	if w.poll(ctx) {
		t.Fatal("the same file applied twice")
	}
}

func TestParsedTokensDoNotReload(t *testing.T) {
	tok, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := tok.Reload(); changed || err != nil {
		t.Fatalf("Reload on parsed tokens: %v %v", changed, err)
	}
	tok.Watch(context.Background(), time.Millisecond) // returns at once: no file
}
