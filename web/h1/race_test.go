//go:build race

package h1

// raceEnabled: the race detector is on (it makes allocations of its own).
const raceEnabled = true
