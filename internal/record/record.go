// Package record runs record-wave: after a wave's child executions ended, it reads how
// each ended (DescribeExecution of its deterministic name), and for each that failed what
// the load balancer says of it now (registered and healthy, registered but not healthy,
// or not registered), records the results in the rollouts table, tags the instances
// maintained, and moves the rollout's cursor: on to the next wave, or done when every
// wave ran, when failures exceed maxErrors, or when the maintenance window has closed.
package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
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

// HealthReader reads the health of every target of a group (targets.Checker does).
type HealthReader interface {
	GroupHealth(ctx context.Context, arn string) ([]workflow.TargetState, error)
}

// Recorder runs record-wave.
type Recorder struct {
	DB  rollout.StoreAPI
	EC2 TaggerAPI
	SFN DescriberAPI
	ELB HealthReader
	Now clock.Clock
}

// New makes the recorder's clients from an AWS config.
func New(cfg aws.Config) Recorder {
	return Recorder{DB: dynamodb.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg), ELB: targets.NewChecker(cfg)}
}

// RecordWave finds how each instance's execution of the wave ended (DescribeExecution of
// its deterministic name: the Map passes no results, so none can be lost or overflow the
// state), stores the results, tags the instances maintained with the time, and moves the
// cursor: on to the next wave, or done when every wave ran, when failures exceed
// maxErrors (aborted), or when the maintenance window has closed.
func (f Recorder) RecordWave(ctx context.Context, s rollout.State) (rollout.State, error) {
	if s.Cursor.Done || s.Cursor.Wave >= s.Cursor.Waves {
		return rollout.State{}, faults.New(faults.InvalidInput, "record-wave: no wave is running (cursor %+v)", s.Cursor)
	}
	st := s.Store(f.DB)
	w, err := st.Wave(ctx, s.Rollout.ID, s.Cursor.Wave)
	if err != nil {
		return rollout.State{}, err
	}
	w.Results = nil
	var maintained []string
	succeeded, failed := 0, 0
	health := map[string][]workflow.TargetState{} // by group ARN, read once per wave
	var groups []waveplan.Group
	for _, item := range w.Instances {
		res, err := f.outcome(ctx, s, item.InstanceID, w.Index)
		if err != nil {
			return rollout.State{}, err
		}
		if !res.Succeeded {
			if groups == nil {
				meta, err := st.Meta(ctx, s.Rollout.ID)
				if err != nil {
					return rollout.State{}, err
				}
				groups = meta.Groups
			}
			if err := f.inService(ctx, &res, item, groups, health); err != nil {
				return rollout.State{}, err
			}
		}
		w.Results = append(w.Results, res)
		switch {
		case res.Succeeded && res.Outcome == workflow.OutcomeNothingToDo:
			// Left alone: not maintained, so not tagged as such (a later rollout that skips
			// what was maintained lately must not skip it).
			succeeded++
		case res.Succeeded:
			succeeded++
			maintained = append(maintained, item.InstanceID)
		default:
			failed++
		}
	}
	if len(maintained) > 0 {
		stamp := f.Now.Now().Format(time.RFC3339)
		_, err := f.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: maintained,
			Tags: []ec2types.Tag{{Key: new(catalog.MaintainedTag), Value: &stamp}}})
		audit.Record(ctx, audit.Tag, err, nil, audit.Instances(maintained), slog.String("tag", catalog.MaintainedTag+"="+stamp))
		if err != nil {
			return rollout.State{}, fmt.Errorf("tagging %v as maintained: %w", maintained, err)
		}
	}
	meta, err := st.RecordWave(ctx, s.Rollout.ID, w, succeeded, failed)
	if err != nil {
		return rollout.State{}, err
	}
	s.Wave = nil
	s.Cursor.Wave = meta.Next
	s.Cursor.BakeSeconds, s.Cursor.BakeSince = meta.Input.BakeSeconds, f.Now.Now().Unix()
	switch {
	case meta.Failed > meta.Input.MaxErrors:
		s.Cursor.Done, s.Cursor.Aborted, s.Cursor.BakeSeconds = true, true, 0
		s.Cursor.StopError = faults.RolloutAborted
		s.Cursor.StopReason = fmt.Sprintf("%d instance(s) failed, more than maxErrors %d", meta.Failed, meta.Input.MaxErrors)
	case s.Cursor.Wave >= s.Cursor.Waves:
		s.Cursor.Done = true
	case meta.Input.WindowClosed(f.Now.Now()):
		s.Cursor.Done = true
		s.Cursor.StopReason = "the maintenance window ended at " + meta.Input.NotAfter
	}
	return s, nil
}

// inService says what the load balancer says now of a failed instance, in each group of
// the rollout it is in: a failed execution registered it again, but only a healthy
// target is back in service.
func (f Recorder) inService(ctx context.Context, res *rollout.Result, item rollout.WaveItem, groups []waveplan.Group, health map[string][]workflow.TargetState) error {
	res.InService = rollout.InServiceHealthy
	var notHealthy []string
	for _, gi := range item.Groups {
		if gi < 0 || gi >= len(groups) {
			return fmt.Errorf("wave item %s names group %d of %d", item.InstanceID, gi, len(groups))
		}
		arn := groups[gi].ARN
		states, ok := health[arn]
		if !ok {
			var err error
			states, err = f.ELB.GroupHealth(ctx, arn)
			switch {
			case faults.NameOf(err) == faults.TargetGroupNotFound:
				states = nil // deleted: the instance is registered there no more
			case err != nil:
				return fmt.Errorf("reading the health of %s in %s: %w", item.InstanceID, arn, err)
			}
			health[arn] = states
		}
		registered := false
		for _, t := range states {
			if t.ID != item.InstanceID {
				continue
			}
			registered = true
			if t.State != workflow.Healthy {
				notHealthy = append(notHealthy, t.String())
				if res.InService == rollout.InServiceHealthy {
					res.InService = rollout.InServiceNotHealthy
				}
			}
		}
		if !registered {
			res.InService = rollout.InServiceMissing
			notHealthy = append(notHealthy, "not registered in "+workflow.GroupName(arn))
		}
	}
	res.Health = rollout.Truncate(strings.Join(notHealthy, "; "), 500)
	return nil
}

// outcome is how the instance's execution in the rollout ended.
func (f Recorder) outcome(ctx context.Context, s rollout.State, instanceID string, wave int) (rollout.Result, error) {
	arn := rollout.ExecutionARN(s.Rollout.InstanceStateMachineARN, rollout.ChildName(s.Rollout.Name, instanceID))
	res := rollout.Result{InstanceID: instanceID, Wave: wave, ExecutionARN: arn}
	out, err := f.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		res.Error, res.Cause = "NotStarted", "its execution was never started"
		return res, nil
	case err != nil:
		return rollout.Result{}, fmt.Errorf("describing the execution of %s: %w", instanceID, err)
	}
	switch out.Status {
	case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		return rollout.Result{}, faults.New(faults.ChildRunning, "the execution of %s (%s) has not ended", instanceID, arn)
	case sfntypes.ExecutionStatusSucceeded:
		res.Succeeded = true
		var summary struct {
			Outcome      string             `json:"outcome"`
			PhaseSeconds map[string]float64 `json:"phaseSeconds"`
		}
		// The instance is back in service; an output that cannot be read is a problem of
		// the record, reported as such rather than dropped.
		switch {
		case out.Output == nil:
			res.Problem = "its execution succeeded without an output"
		default:
			if err := json.Unmarshal([]byte(*out.Output), &summary); err != nil {
				res.Problem = rollout.Truncate("the output of its execution is not readable: "+err.Error(), 1000)
			}
		}
		res.PhaseSeconds, res.Outcome = summary.PhaseSeconds, summary.Outcome
	default:
		res.Error, res.Cause = string(out.Status), ""
		if out.Error != nil && *out.Error != "" {
			res.Error = *out.Error
		}
		if out.Cause != nil {
			res.Cause = rollout.Truncate(faults.CauseMessage(*out.Cause), 1000)
		}
	}
	return res, nil
}
