// Package clock owns the one place drainpipe reads the time. A Clock is a function that
// tells the time; the zero Clock is the system's, so a struct holding one works unset.
// The lab and the tests set it to run deadlines at their own pace.
package clock

import "time"

// Clock tells the time; nil means time.Now.
type Clock func() time.Time

// Now is the time in UTC.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}
