// Package rollout owns what a fleet rollout is: its input and the rules it is checked
// against, its state between the fleet state machine's steps (kept small whatever the
// fleet's size), the names of its executions (deterministic, so a retried start cannot
// maintain an instance twice), and its record in the rollouts table (the plan, the
// results, who drives it). The steps that act on it are packages of their own: planner,
// leases, progress, record and report.
package rollout

import (
	"encoding/json"
	"strings"
)

// State is the fleet state machine's state. It stays small whatever the fleet's size:
// the plan and the results live in the rollouts table (see Store), and the state carries
// only where they are, where the rollout is, and the wave being run.
type State struct {
	Rollout Ref    `json:"rollout"`
	Cursor  Cursor `json:"cursor"`
	// Wave is the wave to run next, or what happens instead (set by next-wave).
	Wave *NextWave `json:"wave,omitempty"`
	// Leases is the last lease renewal (set by acquire-leases).
	Leases *Leases `json:"leases,omitempty"`
	// ReleaseError is how releasing the leases failed (set by the fleet state machine's
	// Catch); the summary reports it.
	ReleaseError *Failure `json:"releaseError,omitempty"`
}

// Failure is an error as a Catch records it.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// AuditExecution is the execution running the rollout now.
func (s State) AuditExecution() string { return s.Rollout.Execution }

// Store is the rollout's record, in the table the state names, read and written through db.
func (s State) Store(db StoreAPI) Store { return Store{DB: db, Table: s.Rollout.Table} }

// Ref identifies the rollout and where the deployment keeps its records.
type Ref struct {
	// ID is the rollout's first execution's ARN; Name is that execution's name. The
	// rollout's leases are held in its ID, and its children are named after Name.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Execution is the execution running the rollout now: ID, or a continuation of it;
	// Part counts them from 1.
	Execution string `json:"execution"`
	Part      int    `json:"part"`
	// Table is the rollouts table; CapacityTable holds the leases; TopicARN gets the
	// summary; InstanceStateMachineARN runs each instance.
	Table                   string `json:"table"`
	CapacityTable           string `json:"capacityTable"`
	TopicARN                string `json:"topicArn"`
	InstanceStateMachineARN string `json:"instanceStateMachineArn"`
	DryRun                  bool   `json:"dryRun"`
}

// Cursor says where the rollout is.
type Cursor struct {
	// Wave is the index of the next wave to run, of Waves.
	Wave  int `json:"wave"`
	Waves int `json:"waves"`
	// Done: no wave is left to start (all ran, the error budget is spent, or the window
	// closed).
	Done bool `json:"done"`
	// Aborted: the rollout stopped early and fails: the error budget is spent, or an
	// alarm fired (StopError names which).
	Aborted bool `json:"aborted"`
	// StopReason says why the rollout stopped early, if it did.
	StopReason string `json:"stopReason,omitempty"`
	// StopError is the error an aborted rollout fails with: RolloutAborted (the error
	// budget) or AlarmActive (an alarm fired).
	StopError string `json:"stopError,omitempty"`
	// BakeSeconds is the Bake Wait after the wave just recorded (the input's bakeSeconds;
	// 0 once the rollout is aborted), and BakeSince (Unix seconds) when that wave was
	// recorded: next-wave looks for alarms that fired since.
	BakeSeconds int   `json:"bakeSeconds"`
	BakeSince   int64 `json:"bakeSince,omitempty"`
	// Events is this execution's history so far as estimated by EstimateEvents, to
	// continue as a new execution well before Step Functions' 25,000-event limit.
	Events int `json:"events"`
}

// NextWave is next-wave's answer: the wave's instances, each with its child execution's
// name and the part of its input that is its own (Common holds the rest, once: the
// maintenance and health check commands may be long, and a wave holds up to 40
// instances; the Map's ItemSelector merges the two); or Done; or Continue, with the input
// of the execution that takes over.
type NextWave struct {
	Common   map[string]any `json:"common,omitempty"`
	Items    []Child        `json:"items,omitempty"`
	Done     bool           `json:"done"`
	Continue bool           `json:"continue"`
	// ContinuationName and ContinuationInput start the next part of the rollout.
	ContinuationName  string        `json:"continuationName,omitempty"`
	ContinuationInput *Continuation `json:"continuationInput,omitempty"`
}

// Child is one instance of a wave: its child execution's deterministic name and input.
type Child struct {
	InstanceID string    `json:"instanceId"`
	Name       string    `json:"name"`
	Input      ChildPart `json:"input"`
}

// ChildPart is what a child's input holds of its own: the rest is NextWave.Common.
type ChildPart struct {
	InstanceID        string         `json:"instanceId"`
	TargetGroupARNs   []string       `json:"targetGroupArns"`
	MinHealthyTargets map[string]int `json:"minHealthyTargets"`
}

// Continuation is the input of the execution that continues a rollout.
type Continuation struct {
	State State `json:"continuation"`
}

// Skip is an instance left out, and why.
type Skip struct {
	InstanceID string `json:"instanceId"`
	Reason     string `json:"reason"`
}

// Result is one instance's outcome.
type Result struct {
	InstanceID string `json:"instanceId"`
	Wave       int    `json:"wave"`
	Succeeded  bool   `json:"succeeded"`
	// Outcome, for a succeeded instance, is its execution's (workflow.OutcomeMaintained,
	// workflow.OutcomeNothingToDo).
	Outcome      string             `json:"outcome,omitempty"`
	Error        string             `json:"error,omitempty"`
	Cause        string             `json:"cause,omitempty"`
	ExecutionARN string             `json:"executionArn,omitempty"`
	PhaseSeconds map[string]float64 `json:"phaseSeconds,omitempty"`
	// Problem is something that went wrong around the instance without failing it: its
	// execution's output could not be read, say. The summary lists it.
	Problem string `json:"problem,omitempty"`
	// InService is, for an instance that failed, what its target groups said of it when
	// the wave was recorded (one of the InService constants); Health lists its
	// registrations that were not healthy then.
	InService string `json:"inService,omitempty"`
	Health    string `json:"health,omitempty"`
}

// What a failed instance's target groups said of it when its wave was recorded.
const (
	// InServiceHealthy: registered in every group of the rollout it was in, and healthy.
	InServiceHealthy = "healthy"
	// InServiceNotHealthy: registered in each, but not healthy in every one (yet).
	InServiceNotHealthy = "registered-not-healthy"
	// InServiceMissing: not registered in one of them: it is out of service there.
	InServiceMissing = "not-registered"
)

// Leases are the locks the rollout holds.
type Leases struct {
	Held      []string `json:"held"`
	ExpiresAt int64    `json:"expiresAt"`
}

// CommonInput is what every child's input of the rollout holds: its ChildInput without
// the fields of ChildPart.
func CommonInput(in Input) (map[string]any, error) {
	raw, err := json.Marshal(in.ChildInput("", nil, nil))
	if err != nil {
		return nil, err
	}
	var common map[string]any
	if err := json.Unmarshal(raw, &common); err != nil {
		return nil, err
	}
	for _, own := range []string{"instanceId", "targetGroupArns", "minHealthyTargets"} {
		delete(common, own)
	}
	return common, nil
}

// ChildInput is the input of the child execution as the Map's ItemSelector makes it:
// States.JsonMerge of the wave's common part and the child's own.
func (w NextWave) ChildInput(c Child) (json.RawMessage, error) {
	merged := map[string]any{}
	for k, v := range w.Common {
		merged[k] = v
	}
	raw, err := json.Marshal(c.Input)
	if err != nil {
		return nil, err
	}
	var own map[string]any
	if err := json.Unmarshal(raw, &own); err != nil {
		return nil, err
	}
	for k, v := range own {
		merged[k] = v
	}
	return json.Marshal(merged)
}

// Truncate cuts s to at most n bytes, on a rune boundary, and marks the cut: the rule for
// causes and reasons in the record and the summary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
