//go:build race

package fakelibris_test

// raceEnabled skips the 100 000-item generation test, which the race detector slows tenfold.
const raceEnabled = true
