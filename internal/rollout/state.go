package rollout

import (
	"encoding/json"

	"github.com/drainpipe/drainpipe/internal/workflow"
)

// State is the fleet state machine's state after planning.
type State struct {
	Input Input `json:"input"`
	// ExecutionARN identifies the rollout; it holds the leases.
	ExecutionARN string `json:"executionArn"`
	// LeaseTable and TopicARN are the deployment's lease table and notification topic.
	LeaseTable string `json:"leaseTable"`
	TopicARN   string `json:"topicArn"`
	StartedAt  string `json:"startedAt"`
	Plan       Plan   `json:"plan"`
	// Waves are the Map items of each wave: an instance and its execution's input.
	Waves   [][]Item `json:"waves"`
	Skipped []Skip   `json:"skipped"`
	Cursor  Cursor   `json:"cursor"`
	// Results are the outcomes of the waves run so far.
	Results []Result `json:"results"`
	// Current is the wave being run (set by the state machine).
	Current *CurrentWave `json:"current,omitempty"`
	// WaveResults are the Map's outputs for the current wave (set by the state machine).
	WaveResults []WaveItemResult `json:"waveResults,omitempty"`
	Leases      *Leases          `json:"leases,omitempty"`
}

// Item is one instance to maintain.
type Item struct {
	InstanceID string         `json:"instanceId"`
	Input      workflow.Input `json:"input"`
}

// CurrentWave holds the items of the wave being run.
type CurrentWave struct {
	Items []Item `json:"items"`
}

// Skip is an instance left out, and why.
type Skip struct {
	InstanceID string `json:"instanceId"`
	Reason     string `json:"reason"`
}

// Cursor says where the rollout is.
type Cursor struct {
	// Wave is the index of the next wave to run.
	Wave int `json:"wave"`
	// Done: no wave is left to start (all ran, the error budget is spent, or the window
	// closed).
	Done bool `json:"done"`
	// Aborted: the error budget is spent.
	Aborted bool `json:"aborted"`
	// StopReason says why the rollout stopped early, if it did.
	StopReason string `json:"stopReason,omitempty"`
}

// Result is one instance's outcome.
type Result struct {
	InstanceID   string             `json:"instanceId"`
	Wave         int                `json:"wave"`
	Succeeded    bool               `json:"succeeded"`
	Error        string             `json:"error,omitempty"`
	Cause        string             `json:"cause,omitempty"`
	ExecutionARN string             `json:"executionArn,omitempty"`
	PhaseSeconds map[string]float64 `json:"phaseSeconds,omitempty"`
}

// WaveItemResult is what the Map gives back for one item: the item, and either the
// child execution's result (startExecution.sync:2) or the error the Map's Catch kept.
type WaveItemResult struct {
	InstanceID string `json:"instanceId"`
	Result     *struct {
		Status       string          `json:"Status"`
		ExecutionArn string          `json:"ExecutionArn"`
		Output       json.RawMessage `json:"Output"`
	} `json:"result,omitempty"`
	Error *struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"error,omitempty"`
}

// Leases are the locks the rollout holds.
type Leases struct {
	Held      []string `json:"held"`
	ExpiresAt int64    `json:"expiresAt"`
}
