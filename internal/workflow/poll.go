package workflow

import "time"

// How the state machine paces its checks. A check costs three state transitions (the
// Wait, the Task and the Choice), and a check made late costs the time since the thing
// checked ended. Every loop therefore makes its first check when the thing is expected to
// end (a command's expected duration, the deregistration delay, one health check
// interval), and then, while it is not done, checks again after half the time it has run
// over: one second over, then two, three, four and a half... The check that sees the end
// is late by at most half the overrun, so a thing that ends about when expected is seen
// at once, and a long overrun costs a number of checks that grows with its logarithm,
// until the waits reach the plan's pollSeconds.
const (
	// OverrunFraction: the wait before the next check is 1/OverrunFraction of the time
	// the thing has run past its expected end.
	OverrunFraction = 2
	// MinPollSeconds is the shortest wait between two checks (a Wait state's unit).
	MinPollSeconds = 1
	// InvisibleSeconds is how long GetCommandInvocation may answer InvocationDoesNotExist
	// after SendCommand: a command expected to end sooner is first checked then.
	InvisibleSeconds = 2
)

// NextPoll is the wait, in whole seconds, before the next check of something that has run
// overrun past its expected end: overrun/OverrunFraction, at least MinPollSeconds and at
// most most (the plan's pollSeconds).
func NextPoll(overrun time.Duration, most int) int {
	s := int(overrun / (OverrunFraction * time.Second))
	return max(MinPollSeconds, min(s, max(most, MinPollSeconds)))
}

// FirstPoll is the wait before the first check of a command just sent: its expected
// duration, and never less than the window in which it is invisible.
func FirstPoll(c Command) int { return max(c.ExpectedSeconds, InvisibleSeconds) }

// SecondsUntil is the wait, in whole seconds rounded up and at least MinPollSeconds, from
// now until t.
func SecondsUntil(t, now time.Time) int {
	return max(MinPollSeconds, int(t.Sub(now).Seconds()+0.999))
}
