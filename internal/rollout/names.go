package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxWaveSize is the most instances a wave may hold: a wave runs in an inline Map, which
// Step Functions runs at most 40 iterations of at once.
const MaxWaveSize = 40

// Step Functions ends an execution whose history reaches 25,000 events. A rollout runs as
// a chain of executions (parts), each continuing the one before when its estimated history
// would pass PartEventBudget, which leaves room for retries the estimate does not count.
const (
	HistoryLimit    = 25000
	PartEventBudget = 10000
)

// History events, counted as Step Functions counts them (see EstimateEvents).
const (
	// partEvents: ExecutionStarted; the IsContinuation Choice (2); planning or resuming:
	// a Lambda Task (5: TaskStateEntered, LambdaFunctionScheduled, Started, Succeeded,
	// TaskStateExited), the IsDryRun Choice (2) and taking the leases (5); and at the end the
	// lease release and the summary (5 each), the IsAborted Choice (2) and the final state
	// (2), or the continuation's startExecution.sync:2 Task (6) and its end (2); and
	// ExecutionSucceeded or Failed.
	partEvents = 1 + 2 + 5 + 2 + 5 + 5 + 5 + 2 + 6 + 2 + 1
	// waveEvents: next-wave (5), the IsWaveReady Choice (2), the Map's MapStateEntered,
	// MapStateStarted, MapStateSucceeded and MapStateExited (4), record-wave (5), the Bake
	// Wait (2).
	waveEvents = 5 + 2 + 4 + 5 + 2
	// childEvents: per instance, MapIterationStarted, the startExecution.sync:2 Task
	// (TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded or
	// TaskFailed, TaskStateExited), a Pass on failure (2) and MapIterationSucceeded.
	childEvents = 1 + 6 + 2 + 1
)

// EstimateEvents is the history events of a part that has run waves of these sizes, not
// counting retries.
func EstimateEvents(waveSizes ...int) int {
	n := partEvents
	for _, size := range waveSizes {
		n += WaveEvents(size)
	}
	return n
}

// WaveEvents is the history events one wave of size instances adds to the part.
func WaveEvents(size int) int { return waveEvents + childEvents*size }

// Execution names: 1 to 80 characters, none of them whitespace, brackets, wildcards or
// " # % \ ^ | ~ ` $ & , ; : /.
const maxNameLength = 80

// rolloutPrefix is the rollout's name, shortened (with a hash of the whole, so that it
// stays unique) to leave room in an execution name for what follows it.
func rolloutPrefix(name string, room int) string {
	if len(name) <= room {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:room-9] + "-" + hex.EncodeToString(sum[:4])
}

// ChildName is the deterministic name of the instance's execution in the rollout: a
// StartExecution retried with it returns the running execution instead of starting a
// second one, and one that ended is never started again.
func ChildName(rollout, instanceID string) string {
	return rolloutPrefix(rollout, maxNameLength-len(instanceID)-1) + "-" + instanceID
}

// ContinuationName is the deterministic name of the rollout's part (2, 3, ...).
func ContinuationName(rollout string, part int) string {
	suffix := fmt.Sprintf("-part-%d", part)
	return rolloutPrefix(rollout, maxNameLength-len(suffix)) + suffix
}

// ExecutionARN is the ARN of the state machine's execution with that name.
func ExecutionARN(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}
