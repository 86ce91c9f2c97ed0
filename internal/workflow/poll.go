package workflow

import "time"

// How the state machine paces its checks. A check costs three state transitions (the
// Wait, the Task and the Choice), and a check made late costs the time since the thing
// checked ended. Every loop therefore starts at the moment the thing is expected to end
// and then checks again after a fraction of the time it has taken so far: the lateness of
// the check that sees the end is at most PollFraction of the elapsed time, and a long wait
// costs a number of checks that grows with the logarithm of its length, not with it.
const (
	// PollFraction: the wait before the next check is 1/PollFraction of the elapsed time:
	// a check sees the end at most about 6% late.
	PollFraction = 16
	// MinPollSeconds is the shortest wait between two checks (a Wait state's unit).
	MinPollSeconds = 1
	// InvisibleSeconds is how long GetCommandInvocation may answer InvocationDoesNotExist
	// after SendCommand: a command expected to end sooner is first checked then.
	InvisibleSeconds = 2
)

// NextPoll is the wait, in whole seconds, before the next check of something that has
// been under way for elapsed: elapsed/PollFraction, at least MinPollSeconds and at most
// most (the plan's pollSeconds).
func NextPoll(elapsed time.Duration, most int) int {
	s := int(elapsed / (PollFraction * time.Second))
	return max(MinPollSeconds, min(s, max(most, MinPollSeconds)))
}

// FirstPoll is the wait before the first check of a command just sent: its expected
// duration, and never less than the window in which it is invisible.
func FirstPoll(c Command) int { return max(c.ExpectedSeconds, InvisibleSeconds) }
