// Package standby owns the instance's place in its EC2 Auto Scaling group while drainpipe
// maintains it. Before the instance is taken out it enters Standby, so that the group's
// health checks do not replace it while it reboots; once it is healthy again in every
// target group it exits Standby. Every failure path and every stop exits Standby too
// (the rollback, and package recovery).
//
// EnterStandby decrements the group's desired capacity (ShouldDecrementDesiredCapacity
// true): drainpipe's capacity budget already counts the instance as out, and without the
// decrement the group would launch a spare that it scales in again, by terminating an
// instance it picks, once the instance exits Standby and the desired capacity goes back up.
// A group at its minimum size therefore refuses (StandbyRefused), before anything is taken
// out. Entering Standby also deregisters the instance from the group's own target groups,
// draining; drainpipe deregisters every registration itself anyway, and exiting Standby
// registers it again in the group's target groups on their ports, which drainpipe has
// already done on the exact ports it recorded, so every registration is restored exactly
// once.
package standby

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// API is the part of the Auto Scaling client Mover uses.
type API interface {
	DescribeAutoScalingInstances(ctx context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
	EnterStandby(ctx context.Context, in *autoscaling.EnterStandbyInput, opts ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error)
	ExitStandby(ctx context.Context, in *autoscaling.ExitStandbyInput, opts ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error)
}

// Mover moves an instance into Standby and back.
type Mover struct {
	API API
	// Now is the clock the steps are stamped with; nil means time.Now.
	Now clock.Clock
}

// New makes a Mover whose client is made from an AWS config.
func New(cfg aws.Config) Mover { return Mover{API: autoscaling.NewFromConfig(cfg)} }

// The lifecycle states that matter here (Auto Scaling's names).
const (
	InService       = "InService"
	Standby         = "Standby"
	EnteringStandby = "EnteringStandby"
)

// Membership is the instance's Auto Scaling group and lifecycle state ("" and "" when it
// is in none).
func (m Mover) Membership(ctx context.Context, instanceID string) (group, state string, err error) {
	out, err := m.API.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return "", "", fmt.Errorf("describing the Auto Scaling group of %s: %w", instanceID, err)
	}
	for _, d := range out.AutoScalingInstances {
		if aws.ToString(d.InstanceId) == instanceID {
			return aws.ToString(d.AutoScalingGroupName), aws.ToString(d.LifecycleState), nil
		}
	}
	return "", "", nil
}

// Enter puts the instance in Standby if it is InService in an Auto Scaling group. One
// already in Standby or entering it (a repeated call) counts as entered; an instance in
// no group has nothing to do.
func (m Mover) Enter(ctx context.Context, s workflow.State) (workflow.Standby, error) {
	id := s.InstanceID
	if id == "" {
		return workflow.Standby{}, faults.New(faults.InvalidInput, "enter-standby needs the plan's instanceId")
	}
	group, state, err := m.Membership(ctx, id)
	if err != nil || group == "" {
		return m.result(group, state, false), err
	}
	switch state {
	case Standby, EnteringStandby:
		return m.result(group, state, false), nil
	case InService:
	default:
		return workflow.Standby{}, faults.New(faults.StandbyRefused, "instance %s is %s in Auto Scaling group %s: the group is acting on it; nothing was taken out", id, state, group)
	}
	_, err = m.API.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: &group, InstanceIds: []string{id}, ShouldDecrementDesiredCapacity: aws.Bool(true)})
	audit.Record(ctx, audit.EnterStandby, err, refused, audit.Instance(id), audit.AutoScalingGroup(group))
	if refused(err) {
		return workflow.Standby{}, faults.New(faults.StandbyRefused, "Auto Scaling group %s refused to put %s in Standby: %s; a group at its minimum size cannot lose an instance to Standby: lower its MinSize by the number out at once, or maintain it outside the group; nothing was taken out",
			group, id, apiMessage(err))
	}
	if err != nil {
		return workflow.Standby{}, fmt.Errorf("putting %s in Standby in Auto Scaling group %s: %w", id, group, err)
	}
	// The group holds it in EnteringStandby while its target groups drain.
	return m.result(group, EnteringStandby, true), nil
}

// Exit takes the instance out of Standby. One in service already, or in no group, has
// nothing to do; one still entering Standby is a TransientAPIError, for the caller's
// retry.
func (m Mover) Exit(ctx context.Context, s workflow.State) (workflow.Standby, error) {
	id := s.InstanceID
	if id == "" {
		return workflow.Standby{}, faults.New(faults.InvalidInput, "exit-standby needs the plan's instanceId")
	}
	return m.ExitInstance(ctx, id)
}

// ExitInstance is Exit for an instance id (package recovery's). An instance still
// entering Standby is StandbyPending (its group's target groups drain first: up to their
// deregistration delay); a refusal (ValidationError) is read again, since someone may
// have taken it out meanwhile, and is otherwise StandbyExitRefused.
func (m Mover) ExitInstance(ctx context.Context, id string) (workflow.Standby, error) {
	group, state, err := m.Membership(ctx, id)
	if err != nil || group == "" {
		return m.result(group, state, false), err
	}
	switch state {
	case Standby:
	case EnteringStandby:
		return workflow.Standby{}, faults.New(faults.StandbyPending, "instance %s is still entering Standby in Auto Scaling group %s (its target groups drain first); it can exit once it is in Standby", id, group)
	default:
		return m.result(group, state, false), nil
	}
	_, err = m.API.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: &group, InstanceIds: []string{id}})
	audit.Record(ctx, audit.ExitStandby, err, refused, audit.Instance(id), audit.AutoScalingGroup(group))
	if refused(err) {
		if _, now, rerr := m.Membership(ctx, id); rerr == nil && now != Standby && now != EnteringStandby {
			return m.result(group, now, false), nil // taken out meanwhile
		}
		return workflow.Standby{}, faults.New(faults.StandbyExitRefused, "Auto Scaling group %s refused to take %s out of Standby: %s; a group at its maximum size cannot take one more: raise its MaxSize, or take the instance out of Standby by hand (aws autoscaling exit-standby)",
			group, id, apiMessage(err))
	}
	if err != nil {
		return workflow.Standby{}, fmt.Errorf("taking %s out of Standby in Auto Scaling group %s: %w", id, group, err)
	}
	return m.result(group, InService, true), nil
}

func (m Mover) result(group, state string, changed bool) workflow.Standby {
	return workflow.Standby{Group: group, LifecycleState: state, Changed: changed, At: m.Now.Now().UTC().Format(time.RFC3339Nano)}
}

// refused: Auto Scaling answered ValidationError, its answer to a request the group's
// state does not allow (below the minimum size, an instance not InService).
func refused(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationError"
}

func apiMessage(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorMessage()
	}
	return err.Error()
}
