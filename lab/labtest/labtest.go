// Package labtest holds what the lab's tests share: waiting for a condition with a
// deadline, so that a test that fails says what it waited for instead of hanging. Tests
// only.
package labtest

import (
	"testing"
	"time"
)

// WaitFor polls cond every pause until it holds, and fails the test when it still does
// not after timeout, saying what was awaited and what cond last saw (its second result).
// It returns how long the wait took. Call it from the test's goroutine.
func WaitFor(t testing.TB, timeout, pause time.Duration, what string, cond func() (bool, any)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("waited %v for %s; last seen: %+v", timeout, what, seen)
		}
		time.Sleep(pause)
	}
}
