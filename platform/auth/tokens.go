package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TokenPrefix starts every token NewToken creates, so secret scanners and people
// recognise a leaked Interloan token.
const TokenPrefix = "il_"

// tokenBytes is the entropy of a token: 256 bits, beyond any guessing.
const tokenBytes = 32

// MaxTokenLen bounds a presented token; anything longer is rejected before hashing.
const MaxTokenLen = 1024

// MaxTokenFileSize bounds the token file (a few thousand lines fit easily).
const MaxTokenFileSize = 1 << 20

// DefaultWatchInterval is the poll interval Watch uses when given none.
const DefaultWatchInterval = 5 * time.Second

// maxPrincipalLen bounds a principal name, which appears in logs and audit records.
const maxPrincipalLen = 128

// Errors a token file can have; a *FileError wraps exactly one of them.
var (
	ErrSyntax    = errors.New("malformed line")
	ErrHash      = errors.New("bad token hash")
	ErrPrincipal = errors.New("bad principal")
	ErrRole      = errors.New("bad roles")
	ErrDuplicate = errors.New("duplicate token hash")
	ErrFileSize  = errors.New("token file too large")
)

// FileError is a token file problem on one line. Its message never quotes a hash field,
// since someone may have pasted a token there by mistake.
type FileError struct {
	Line   int
	Kind   error // one of the Err* values above
	Detail string
}

func (e *FileError) Error() string {
	msg := fmt.Sprintf("line %d: %v", e.Line, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *FileError) Unwrap() error { return e.Kind }

// Authenticator maps a presented bearer token to its principal. *Tokens is the
// implementation; tests may supply their own.
type Authenticator interface {
	Authenticate(token string) (Principal, bool)
}

type entry struct {
	hash      [sha256.Size]byte
	principal Principal
}

type tokenSet struct{ entries []entry }

// Tokens is a token set loaded from a token file; it is safe for concurrent use, and
// Reload or Watch swap in a new set atomically (in-flight calls keep the old one).
//
// The file holds one token per line: `<sha256 hex of the token> <principal>
// <role>[,<role>...]`, fields separated by spaces or tabs. `#` starts a comment anywhere
// (no field may contain it); blank lines are ignored. One principal may have several
// lines (several tokens, e.g. during rotation); a hash may appear only once. Update it
// by writing a new file and renaming it over the old one, so no reader sees half of it.
type Tokens struct {
	path string
	log  *slog.Logger
	set  atomic.Pointer[tokenSet]

	mu   sync.Mutex  // serialises Reload; guards last
	last os.FileInfo // the file as last read, to skip unchanged files
}

// Option configures Load.
type Option func(*Tokens)

// WithLogger sets where Watch reports reloads and errors (default slog.Default()).
func WithLogger(log *slog.Logger) Option {
	return func(t *Tokens) {
		if log != nil {
			t.log = log
		}
	}
}

// Load reads the token file at path. A missing, unreadable or invalid file is an error:
// a server must not start with an authentication set it did not mean to have.
func Load(path string, opts ...Option) (*Tokens, error) {
	t := &Tokens{path: path, log: slog.Default()}
	for _, o := range opts {
		o(t)
	}
	if _, err := t.Reload(); err != nil {
		return nil, err
	}
	if t.set.Load() == nil { // the file changed while being read; try once more
		if _, err := t.Reload(); err != nil {
			return nil, err
		}
		if t.set.Load() == nil {
			return nil, fmt.Errorf("auth: token file %s keeps changing while being read", path)
		}
	}
	return t, nil
}

// Parse builds a fixed token set from token-file text (no file behind it: Reload and
// Watch do nothing). Tools use it to check a file; tests to build an Authenticator.
func Parse(data []byte) (*Tokens, error) {
	set, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("auth: token file: %w", err)
	}
	t := &Tokens{log: slog.Default()}
	t.set.Store(set)
	return t, nil
}

// Len is the number of tokens in the current set.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	if s := t.set.Load(); s != nil {
		return len(s.entries)
	}
	return 0
}

// Reload re-reads the file if its identity, size or modification time changed since
// the last read and reports whether a new set took effect. On an invalid or unreadable
// file it returns the error and keeps the last good set. A file that changes while it
// is read is not applied; the next Reload reads it again.
func (t *Tokens) Reload() (changed bool, err error) {
	if t == nil || t.path == "" {
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	before, err := os.Stat(t.path)
	if err != nil {
		return false, fmt.Errorf("auth: token file: %w", err)
	}
	if t.last != nil && sameFile(t.last, before) {
		return false, nil
	}
	data, err := readLimited(t.path)
	if err != nil {
		return false, fmt.Errorf("auth: token file %s: %w", t.path, err)
	}
	after, err := os.Stat(t.path)
	if err != nil || !sameFile(before, after) {
		return false, nil // written to while we read: take it on the next poll
	}
	t.last = after // remember even a broken file, so its error is reported once
	set, err := parse(data)
	if err != nil {
		return false, fmt.Errorf("auth: token file %s: %w", t.path, err)
	}
	t.set.Store(set)
	return true, nil
}

// Watch polls the file every interval (DefaultWatchInterval if ≤ 0) until ctx ends, so
// an edited or replaced file takes effect without a restart. A change is applied once
// the file has held still for one interval, so an editor's truncate-then-write is not
// caught half done; replacing the file by rename (as Kubernetes does when a Secret
// changes) is atomic anyway. Errors are logged once each and the last good set stays.
// It blocks: run it in its own goroutine.
func (t *Tokens) Watch(ctx context.Context, interval time.Duration) {
	if t == nil || t.path == "" {
		return
	}
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	w := watcher{t: t}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.poll(ctx)
	}
}

// watcher is Watch's state between polls.
type watcher struct {
	t       *Tokens
	pending os.FileInfo // a change seen on the previous poll, not yet applied
	lastErr string      // the last error logged, so a lasting problem is logged once
}

// poll is one tick of Watch; it reports whether a new set took effect.
func (w *watcher) poll(ctx context.Context) bool {
	t := w.t
	if fi, err := os.Stat(t.path); err == nil {
		if !t.changed(fi) {
			w.pending = nil
			return false
		}
		if w.pending == nil || !sameFile(w.pending, fi) {
			w.pending = fi // still being written, perhaps: look again next time
			return false
		}
	}
	w.pending = nil
	changed, err := t.Reload()
	switch {
	case err != nil:
		if msg := err.Error(); msg != w.lastErr {
			t.log.ErrorContext(ctx, "token file not reloaded; keeping the last good tokens", "error", msg)
			w.lastErr = msg
		}
	case changed:
		w.lastErr = ""
		n := t.Len()
		t.log.InfoContext(ctx, "token file reloaded", "path", t.path, "tokens", n)
		if n == 0 {
			t.log.WarnContext(ctx, "token file holds no tokens: every authenticated call will be refused", "path", t.path)
		}
	}
	return changed
}

// changed reports whether fi differs from the file as last read.
func (t *Tokens) changed(fi os.FileInfo) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last == nil || !sameFile(t.last, fi)
}

// Authenticate returns the principal of token. It hashes the token and compares the
// hash with every entry in constant time, without stopping at a match.
//
// Why not a map lookup on the hash? That would be safe too: a timing difference could at
// most reveal how much of the attacker's own hash matches a stored hash, and steering a
// SHA-256 output towards a target gives no route to a preimage, let alone to a 256-bit
// random token. We scan anyway because the set is small (tens of tokens, nanoseconds
// each) and a scan needs no such argument to be convincing.
func (t *Tokens) Authenticate(token string) (Principal, bool) {
	if t == nil || token == "" || len(token) > MaxTokenLen {
		return Principal{}, false
	}
	set := t.set.Load()
	if set == nil {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	found, idx := 0, 0
	for i := range set.entries {
		eq := subtle.ConstantTimeCompare(sum[:], set.entries[i].hash[:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
		found |= eq
	}
	if found == 0 {
		return Principal{}, false
	}
	p := set.entries[idx].principal
	// A copy, so a handler that alters its roles cannot alter the set.
	return Principal{Name: p.Name, Roles: slices.Clone(p.Roles)}, true
}

// NewToken creates a random token for principal with roles, and the token-file line
// that grants it. Show the token to its owner once and append the line to the file:
// the file holds only the hash, so the token cannot be recovered from it.
func NewToken(principal string, roles ...Role) (token, line string, err error) {
	if problem := checkPrincipal(principal); problem != "" {
		return "", "", fmt.Errorf("%w: %s", ErrPrincipal, problem)
	}
	if len(roles) == 0 {
		return "", "", fmt.Errorf("%w: no role given", ErrRole)
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	// Reuse the file's parser, so NewToken can never write a line Load would reject.
	if _, err := ParseRoles(strings.Join(names, ",")); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrRole, err)
	}
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("auth: random token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	line = HashToken(token) + " " + principal + " " + strings.Join(names, ",")
	return token, line, nil
}

// HashToken is the lower-case hex SHA-256 of token, as the token file stores it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func parse(data []byte) (*tokenSet, error) {
	if len(data) > MaxTokenFileSize {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrFileSize, MaxTokenFileSize)
	}
	set := &tokenSet{}
	seen := make(map[[sha256.Size]byte]int)
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		text := string(raw)
		if before, _, ok := strings.Cut(text, "#"); ok {
			text = before
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		e, err := parseLine(fields)
		if err != nil {
			err.Line = n
			return nil, err
		}
		if first, dup := seen[e.hash]; dup {
			return nil, &FileError{Line: n, Kind: ErrDuplicate, Detail: fmt.Sprintf("same token hash as line %d", first)}
		}
		seen[e.hash] = n
		set.entries = append(set.entries, e)
	}
	return set, nil
}

func parseLine(fields []string) (entry, *FileError) {
	var e entry
	if err := parseHash(fields[0], &e.hash); err != nil {
		return e, err
	}
	switch len(fields) {
	case 3:
	case 2:
		// Name the missing field: a role list where the principal belongs means the
		// principal is missing.
		if _, err := ParseRoles(fields[1]); err == nil {
			return e, &FileError{Kind: ErrPrincipal, Detail: "principal is empty"}
		}
		return e, &FileError{Kind: ErrRole, Detail: "no roles given"}
	default:
		return e, &FileError{Kind: ErrSyntax, Detail: fmt.Sprintf("want 3 fields `<sha256-hex> <principal> <role>[,<role>...]`, got %d", len(fields))}
	}
	if problem := checkPrincipal(fields[1]); problem != "" {
		return e, &FileError{Kind: ErrPrincipal, Detail: problem}
	}
	roles, err := ParseRoles(fields[2])
	if err != nil {
		return e, &FileError{Kind: ErrRole, Detail: err.Error()}
	}
	e.principal = Principal{Name: fields[1], Roles: roles}
	return e, nil
}

func parseHash(s string, out *[sha256.Size]byte) *FileError {
	if strings.HasPrefix(s, TokenPrefix) {
		return &FileError{Kind: ErrHash, Detail: "this is a token, not its hash; the file must hold only hashes (remove it and revoke the token)"}
	}
	if len(s) != 2*sha256.Size {
		return &FileError{Kind: ErrHash, Detail: fmt.Sprintf("want %d hex digits, got %d characters", 2*sha256.Size, len(s))}
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return &FileError{Kind: ErrHash, Detail: "not hexadecimal"}
	}
	return nil
}

// checkPrincipal says what is wrong with a principal name ("" if nothing). Names are
// kept to a plain charset: they go into logs and the audit trail, and a space, newline
// or `#` would break the token file.
func checkPrincipal(name string) string {
	if name == "" {
		return "principal is empty"
	}
	if len(name) > maxPrincipalLen {
		return fmt.Sprintf("principal is longer than %d characters", maxPrincipalLen)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '@' || c == ':'
		if !ok {
			return "principal may hold only letters, digits and . _ - @ :"
		}
	}
	return ""
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTokenFileSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// sameFile reports whether two stats describe the same file content as far as polling
// can tell: same inode (a rename or symlink swap changes it), size and mtime.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
