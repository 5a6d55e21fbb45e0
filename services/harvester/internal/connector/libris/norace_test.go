//go:build !race

package libris

const raceEnabled = false
