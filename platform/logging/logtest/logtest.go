// Package logtest holds what tests need to read logs that goroutines write: a buffer
// safe for concurrent writers and readers. It has no test-only build tag so that the
// tests of every module can share it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer many goroutines (services, watchers, schedulers) may log to
// while a test reads what they wrote.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
