// Package precheck runs check-instance: every check made before an instance is taken
// out, changing nothing: that drainpipe may command it (eligible's instanceTag rule),
// that no alarm its input names is in ALARM (alarms.Gate), that someone else has not put
// it in Standby in its Auto Scaling group (package standby), and that its registrations
// are healthy targets (targets.Checker). A refusal is a named error.
package precheck

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/drainpipe/drainpipe/internal/alarms"
	"github.com/drainpipe/drainpipe/internal/eligible"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// DescriberAPI is the part of the EC2 client the check uses.
type DescriberAPI interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Checker runs check-instance.
type Checker struct {
	EC2     DescriberAPI
	Alarms  alarms.Gate
	Standby standby.Mover
	Targets targets.Checker
}

// New makes the checker's clients from an AWS config.
func New(cfg aws.Config) Checker {
	return Checker{EC2: ec2.NewFromConfig(cfg), Alarms: alarms.New(cfg), Standby: standby.New(cfg), Targets: targets.NewChecker(cfg)}
}

// Request is the input of check-instance: the state, and the deployment's instanceTag.
type Request struct {
	State       workflow.State `json:"state"`
	InstanceTag workflow.Tag   `json:"instanceTag"`
}

// Check refuses, before any change, an instance drainpipe may not command
// (InstanceNotTagged), one whose input names an alarm in ALARM (AlarmActive) or that
// does not exist (AlarmNotFound), or whose registrations are not all healthy targets.
func (c Checker) Check(ctx context.Context, req Request) (workflow.TargetsReport, error) {
	if req.InstanceTag.Key == "" || req.State.InstanceID == "" {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "check-instance needs state.instanceId and instanceTag.key")
	}
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{req.State.InstanceID}})
	if err != nil {
		return workflow.TargetsReport{}, fmt.Errorf("describing %s: %w", req.State.InstanceID, err)
	}
	for _, r := range out.Reservations {
		for _, inst := range r.Instances {
			if aws.ToString(inst.InstanceId) != req.State.InstanceID {
				continue
			}
			if why := eligible.Reason(inst, req.InstanceTag); why != "" {
				return workflow.TargetsReport{}, faults.New(faults.InstanceNotTagged, "instance %s is %s", req.State.InstanceID, why)
			}
			if err := c.Alarms.Check(ctx, req.State.Alarms, time.Time{}); err != nil {
				return workflow.TargetsReport{}, err
			}
			group, state, err := c.Standby.Membership(ctx, req.State.InstanceID)
			if err != nil {
				return workflow.TargetsReport{}, err
			}
			if state == standby.Standby || state == standby.EnteringStandby {
				return workflow.TargetsReport{}, faults.New(faults.InstanceInStandby,
					"instance %s is %s in Auto Scaling group %s, put there by someone else: drainpipe would take it back into service when done; exit it from Standby first, or leave it", req.State.InstanceID, state, group)
			}
			return c.Targets.CheckInstance(ctx, req.State)
		}
	}
	return workflow.TargetsReport{}, faults.New(faults.InstanceNotTagged, "instance %s is not an EC2 instance this account can describe", req.State.InstanceID)
}
