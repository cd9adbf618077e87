//go:build race

package seccomp

// raceEnabled: the race detector's runtime makes system calls of its own that a test filter
// does not list.
const raceEnabled = true
