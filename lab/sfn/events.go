package sfn

import (
	"encoding/json"
	"time"
)

// StatusChange is EventBridge's "Step Functions Execution Status Change" event, as AWS
// sends it for every execution of a Standard state machine.
type StatusChange struct {
	Version    string       `json:"version"`
	ID         string       `json:"id"`
	DetailType string       `json:"detail-type"`
	Source     string       `json:"source"`
	Account    string       `json:"account"`
	Time       string       `json:"time"`
	Region     string       `json:"region"`
	Resources  []string     `json:"resources"`
	Detail     ChangeDetail `json:"detail"`
}

// ChangeDetail is the event's detail. Dates are epoch milliseconds; input and output are
// JSON text; error and cause are set for FAILED, TIMED_OUT and (when given) ABORTED.
type ChangeDetail struct {
	ExecutionARN    string  `json:"executionArn"`
	StateMachineARN string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       int64   `json:"startDate"`
	StopDate        *int64  `json:"stopDate"`
	Input           string  `json:"input"`
	Output          *string `json:"output"`
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
	InputDetails    struct {
		Included bool `json:"included"`
	} `json:"inputDetails"`
}

// newStatusChange is the event for the execution's current status. Callers hold s.mu.
func newStatusChange(s *Service, ex *Execution) StatusChange {
	d := ChangeDetail{ExecutionARN: ex.ARN, StateMachineARN: ex.StateMachineARN, Name: ex.Name, Status: ex.status,
		StartDate: ex.StartDate.UnixMilli(), Input: string(ex.Input)}
	d.InputDetails.Included = true
	if ex.status != StatusRunning {
		stop := ex.stopDate.UnixMilli()
		d.StopDate = &stop
		if ex.output != nil {
			out := string(ex.output)
			d.Output = &out
		}
		if ex.errName != "" {
			d.Error = &ex.errName
		}
		if ex.cause != "" {
			d.Cause = &ex.cause
		}
	}
	return StatusChange{Version: "0", ID: uuid(), DetailType: "Step Functions Execution Status Change", Source: "aws.states",
		Account: s.Account, Time: time.Now().UTC().Format(time.RFC3339), Region: s.Region, Resources: []string{ex.ARN}, Detail: d}
}

// JSON is the event as EventBridge delivers it to a target.
func (c StatusChange) JSON() json.RawMessage {
	b, _ := json.Marshal(c) // plain strings and numbers
	return b
}
