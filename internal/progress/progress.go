// Package progress runs next-wave, which moves a fleet rollout to its next wave: it checks
// the alarms the input names (none in ALARM, and none fired during the bake after the
// last wave), renews the leases and hands out the wave's instances, each with its child
// execution's name and input; or it says the rollout is done, stopped by an alarm, or must
// continue in a new execution before the history grows too long.
package progress

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/drainpipe/drainpipe/internal/alarms"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/rollout"
)

// DB is the part of the DynamoDB client next-wave uses: the rollouts table and the
// leases in the capacity table.
type DB interface {
	rollout.StoreAPI
	leases.DynamoDBAPI
}

// Steps runs next-wave.
type Steps struct {
	DB     DB
	Alarms alarms.Gate
	Now    clock.Clock
}

// New makes the step's clients from an AWS config.
func New(cfg aws.Config) Steps {
	return Steps{DB: dynamodb.NewFromConfig(cfg), Alarms: alarms.New(cfg)}
}

func (f Steps) locker() leases.Locker { return leases.Locker{API: f.DB, Now: f.Now} }

// NextWave renews the leases and answers what comes next: the next wave's instances
// (each with its child execution's name and input), or done (every wave ran, the error
// budget is spent, the window closed), or continue: this execution's history would pass
// rollout.PartEventBudget with the wave, so a new execution takes the rollout over.
func (f Steps) NextWave(ctx context.Context, s rollout.State) (rollout.State, error) {
	s.Wave = &rollout.NextWave{}
	if s.Cursor.Aborted {
		s.Wave.Done = true
		return s, nil
	}
	meta, err := s.Store(f.DB).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return rollout.State{}, err
	}
	// The alarm gate, before every wave and after the last one's bake: an alarm in ALARM
	// now, or one that fired since the last wave was recorded, stops the rollout.
	var since time.Time
	if s.Cursor.BakeSince > 0 {
		since = time.Unix(s.Cursor.BakeSince, 0)
	}
	if err := f.Alarms.Check(ctx, meta.Input.Alarms, since); err != nil {
		var named *faults.Error
		if !errors.As(err, &named) {
			return rollout.State{}, err // CloudWatch failed: the Task's retries, then its Catch
		}
		s.Cursor.Done, s.Cursor.Aborted, s.Cursor.StopError, s.Cursor.StopReason = true, true, named.Name, named.Message
		s.Wave.Done = true
		return s, s.Store(f.DB).Finish(ctx, s.Rollout.ID, rollout.StatusRunning, s.Cursor.StopReason)
	}
	if s.Cursor.Done || s.Cursor.Wave >= s.Cursor.Waves {
		s.Wave.Done = true
		return s, nil
	}
	if meta.Input.WindowClosed(f.Now.Now()) {
		s.Cursor.Done, s.Cursor.StopReason = true, "the maintenance window ended at "+meta.Input.NotAfter
		s.Wave.Done = true
		return s, s.Store(f.DB).Finish(ctx, s.Rollout.ID, rollout.StatusRunning, s.Cursor.StopReason)
	}
	if _, err := f.locker().Acquire(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs, meta.Input.LeaseSeconds); err != nil {
		return rollout.State{}, err
	}
	w, err := s.Store(f.DB).Wave(ctx, s.Rollout.ID, s.Cursor.Wave)
	if err != nil {
		return rollout.State{}, err
	}
	if s.Cursor.Events+rollout.WaveEvents(len(w.Instances)) > rollout.PartEventBudget {
		next := s
		next.Wave, next.Leases = nil, nil
		next.Cursor.Events = 0
		s.Wave.Continue = true
		s.Wave.ContinuationName = rollout.ContinuationName(s.Rollout.Name, s.Rollout.Part+1)
		s.Wave.ContinuationInput = &rollout.Continuation{State: next}
		return s, nil
	}
	common, err := rollout.CommonInput(meta.Input)
	if err != nil {
		return rollout.State{}, err
	}
	s.Wave.Common = common
	for _, item := range w.Instances {
		part := rollout.ChildPart{InstanceID: item.InstanceID, MinHealthyTargets: map[string]int{}}
		for _, g := range item.Groups {
			arn := meta.Groups[g].ARN
			part.TargetGroupARNs = append(part.TargetGroupARNs, arn)
			part.MinHealthyTargets[arn] = meta.Groups[g].MinHealthy
			if w.BelowBudget {
				part.MinHealthyTargets[arn] = 0
			}
		}
		s.Wave.Items = append(s.Wave.Items, rollout.Child{InstanceID: item.InstanceID, Name: rollout.ChildName(s.Rollout.Name, item.InstanceID), Input: part})
	}
	s.Cursor.Events += rollout.WaveEvents(len(w.Instances))
	return s, nil
}
