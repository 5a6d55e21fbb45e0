//go:build race

package store

// raceEnabled skips the allocation count: under the race detector sync.Pool drops what
// it is given at random, so the code checks (pooled regexp machines) allocate.
const raceEnabled = true
