//go:build !race

package fakelibris_test

const raceEnabled = false
