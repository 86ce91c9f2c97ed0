package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/faults"
)

// TaggerAPI is the part of the EC2 client the wave recorder uses.
type TaggerAPI interface {
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// DescriberAPI is the part of the Step Functions client the wave recorder uses: how each
// instance's execution ended.
type DescriberAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// FleetDB is the part of the DynamoDB client a rollout's steps use: the rollouts table
// and the leases in the capacity table.
type FleetDB interface {
	StoreAPI
	DynamoDBAPI
}

// Fleet runs the steps of the fleet state machine after planning.
type Fleet struct {
	DB  FleetDB
	EC2 TaggerAPI
	SFN DescriberAPI
	SNS PublisherAPI
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (f Fleet) now() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
}

func (f Fleet) store(s State) Store { return Store{DB: f.DB, Table: s.Rollout.Table} }

func (f Fleet) locker() Locker { return Locker{API: f.DB, Now: f.Now} }

// AcquireRequest is the input of acquire-leases: the state, and the execution running.
type AcquireRequest struct {
	State     State  `json:"state"`
	Execution string `json:"execution"`
}

// AcquireLeases takes (or renews) the rollout's lease on every group, all or none. An
// execution that continues a rollout first takes it over from the execution that started
// it (the rollout's record names its driver), so that two executions never drive one
// rollout.
func (f Fleet) AcquireLeases(ctx context.Context, req AcquireRequest) (State, error) {
	s := req.State
	if s.Rollout.ID == "" || req.Execution == "" {
		return State{}, faults.New(faults.InvalidInput, "acquire-leases needs state.rollout and execution")
	}
	if s.Rollout.Execution != req.Execution {
		if err := f.store(s).Claim(ctx, s.Rollout.ID, s.Rollout.Execution, req.Execution, s.Rollout.Part+1); err != nil {
			return State{}, err
		}
		s.Rollout.Execution, s.Rollout.Part = req.Execution, s.Rollout.Part+1
		s.Cursor.Events = EstimateEvents()
	}
	meta, err := f.store(s).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return State{}, err
	}
	leases, err := f.locker().Acquire(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs, meta.Input.LeaseSeconds)
	if err != nil {
		return State{}, err
	}
	s.Leases = &Leases{ExpiresAt: leases.ExpiresAt, Held: leases.Held}
	return s, nil
}

// NextWave renews the leases and answers what comes next: the next wave's instances
// (each with its child execution's name and input), or done (every wave ran, the error
// budget is spent, the window closed), or continue: this execution's history would pass
// PartEventBudget with the wave, so a new execution takes the rollout over.
func (f Fleet) NextWave(ctx context.Context, s State) (State, error) {
	s.Wave = &NextWave{}
	if s.Cursor.Done || s.Cursor.Wave >= s.Cursor.Waves {
		s.Wave.Done = true
		return s, nil
	}
	meta, err := f.store(s).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return State{}, err
	}
	if windowClosed(meta.Input.NotAfter, f.now()) {
		s.Cursor.Done, s.Cursor.StopReason = true, "the maintenance window ended at "+meta.Input.NotAfter
		s.Wave.Done = true
		return s, f.store(s).Finish(ctx, s.Rollout.ID, StatusRunning, s.Cursor.StopReason)
	}
	if _, err := f.locker().Acquire(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs, meta.Input.LeaseSeconds); err != nil {
		return State{}, err
	}
	w, err := f.store(s).Wave(ctx, s.Rollout.ID, s.Cursor.Wave)
	if err != nil {
		return State{}, err
	}
	if s.Cursor.Events+WaveEvents(len(w.Instances)) > PartEventBudget {
		next := s
		next.Wave, next.Leases = nil, nil
		next.Cursor.Events = 0
		s.Wave.Continue = true
		s.Wave.ContinuationName = ContinuationName(s.Rollout.Name, s.Rollout.Part+1)
		s.Wave.ContinuationInput = &Continuation{State: next}
		return s, nil
	}
	common, err := commonInput(meta.Input)
	if err != nil {
		return State{}, err
	}
	s.Wave.Common = common
	for _, item := range w.Instances {
		part := ChildPart{InstanceID: item.InstanceID, MinHealthyTargets: map[string]int{}}
		for _, g := range item.Groups {
			arn := meta.Groups[g].ARN
			part.TargetGroupARNs = append(part.TargetGroupARNs, arn)
			part.MinHealthyTargets[arn] = meta.Groups[g].MinHealthy
			if w.BelowBudget {
				part.MinHealthyTargets[arn] = 0
			}
		}
		s.Wave.Items = append(s.Wave.Items, Child{InstanceID: item.InstanceID, Name: ChildName(s.Rollout.Name, item.InstanceID), Input: part})
	}
	s.Cursor.Events += WaveEvents(len(w.Instances))
	return s, nil
}

// RecordWave finds how each instance's execution of the wave ended (DescribeExecution of
// its deterministic name: the Map passes no results, so none can be lost or overflow the
// state), stores the results, tags the instances maintained with the time, and moves the
// cursor: on to the next wave, or done when every wave ran, when failures exceed
// maxErrors (aborted), or when the maintenance window has closed.
func (f Fleet) RecordWave(ctx context.Context, s State) (State, error) {
	if s.Cursor.Done || s.Cursor.Wave >= s.Cursor.Waves {
		return State{}, faults.New(faults.InvalidInput, "record-wave: no wave is running (cursor %+v)", s.Cursor)
	}
	st := f.store(s)
	w, err := st.Wave(ctx, s.Rollout.ID, s.Cursor.Wave)
	if err != nil {
		return State{}, err
	}
	w.Results = nil
	var maintained []string
	succeeded, failed := 0, 0
	for _, item := range w.Instances {
		res, err := f.outcome(ctx, s, item.InstanceID, w.Index)
		if err != nil {
			return State{}, err
		}
		w.Results = append(w.Results, res)
		if res.Succeeded {
			succeeded++
			maintained = append(maintained, item.InstanceID)
		} else {
			failed++
		}
	}
	if len(maintained) > 0 {
		stamp := f.now().Format(time.RFC3339)
		_, err := f.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: maintained,
			Tags: []ec2types.Tag{{Key: ptr(MaintainedTag), Value: &stamp}}})
		if err != nil {
			return State{}, fmt.Errorf("tagging %v as maintained: %w", maintained, err)
		}
	}
	meta, err := st.RecordWave(ctx, s.Rollout.ID, w, succeeded, failed)
	if err != nil {
		return State{}, err
	}
	s.Wave = nil
	s.Cursor.Wave = meta.Next
	switch {
	case meta.Failed > meta.Input.MaxErrors:
		s.Cursor.Done, s.Cursor.Aborted = true, true
		s.Cursor.StopReason = fmt.Sprintf("%d instance(s) failed, more than maxErrors %d", meta.Failed, meta.Input.MaxErrors)
	case s.Cursor.Wave >= s.Cursor.Waves:
		s.Cursor.Done = true
	case windowClosed(meta.Input.NotAfter, f.now()):
		s.Cursor.Done = true
		s.Cursor.StopReason = "the maintenance window ended at " + meta.Input.NotAfter
	}
	return s, nil
}

// outcome is how the instance's execution in the rollout ended.
func (f Fleet) outcome(ctx context.Context, s State, instanceID string, wave int) (Result, error) {
	arn := ExecutionARN(s.Rollout.InstanceStateMachineARN, ChildName(s.Rollout.Name, instanceID))
	res := Result{InstanceID: instanceID, Wave: wave, ExecutionARN: arn}
	out, err := f.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		res.Error, res.Cause = "NotStarted", "its execution was never started"
		return res, nil
	case err != nil:
		return Result{}, fmt.Errorf("describing the execution of %s: %w", instanceID, err)
	}
	switch out.Status {
	case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		return Result{}, faults.New(faults.ChildRunning, "the execution of %s (%s) has not ended", instanceID, arn)
	case sfntypes.ExecutionStatusSucceeded:
		res.Succeeded = true
		var summary struct {
			PhaseSeconds map[string]float64 `json:"phaseSeconds"`
		}
		if out.Output != nil {
			if err := json.Unmarshal([]byte(*out.Output), &summary); err != nil {
				res.Cause = "its output is not readable: " + err.Error()
			}
		}
		res.PhaseSeconds = summary.PhaseSeconds
	default:
		res.Error, res.Cause = string(out.Status), ""
		if out.Error != nil && *out.Error != "" {
			res.Error = *out.Error
		}
		if out.Cause != nil {
			res.Cause = truncate(*out.Cause, 1000)
		}
	}
	return res, nil
}

// commonInput is what every child's input of the rollout holds: its ChildInput without
// the fields of ChildPart.
func commonInput(in Input) (map[string]any, error) {
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

// ReleaseLeases gives back the rollout's leases on its groups, unless another execution
// (a continuation) drives the rollout now.
func (f Fleet) ReleaseLeases(ctx context.Context, s State) ([]string, error) {
	meta, err := f.store(s).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return nil, err
	}
	if meta.Driver != s.Rollout.Execution {
		return []string{}, nil
	}
	released, err := f.locker().Release(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs)
	slices.Sort(released)
	return released, err
}

func windowClosed(notAfter string, now time.Time) bool {
	if notAfter == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, notAfter)
	return err == nil && !now.Before(t)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
