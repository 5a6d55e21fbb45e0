//go:build !race

package connectortest

// RaceEnabled reports whether the tests run under -race, where large inputs are too slow.
const RaceEnabled = false
