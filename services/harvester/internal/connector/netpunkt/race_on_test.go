//go:build race

package netpunkt

const raceEnabled = true
