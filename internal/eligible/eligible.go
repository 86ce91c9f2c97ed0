// Package eligible decides whether drainpipe may maintain an instance at all, before
// anything changes: its functions may send commands only to instances that carry the
// deployment's instanceTag (the IAM condition on ssm:SendCommand), so an instance without
// it would be taken out of service and then fail at SendCommand. The planner skips such
// instances with the reason (Reason), and check-instance refuses a lone execution on one
// (Checker.Check) together with the registrations' health (targets.Checker).
package eligible

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Reason says why drainpipe may not command the instance, or "" when it may.
func Reason(inst ec2types.Instance, tag workflow.Tag) string {
	for _, t := range inst.Tags {
		if aws.ToString(t.Key) == tag.Key && aws.ToString(t.Value) == tag.Value {
			return ""
		}
	}
	return fmt.Sprintf("not tagged %s: drainpipe may send commands only to instances with the deployment's instanceTag; tag it, or leave it out", tag)
}

// DescriberAPI is the part of the EC2 client the check uses.
type DescriberAPI interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Checker runs check-instance.
type Checker struct {
	EC2     DescriberAPI
	Targets targets.Checker
}

// New makes the checker's clients from an AWS config.
func New(cfg aws.Config) Checker {
	return Checker{EC2: ec2.NewFromConfig(cfg), Targets: targets.NewChecker(cfg)}
}

// Request is the input of check-instance: the state, and the deployment's instanceTag.
type Request struct {
	State       workflow.State `json:"state"`
	InstanceTag workflow.Tag   `json:"instanceTag"`
}

// Check refuses, before any change, an instance drainpipe may not command
// (InstanceNotTagged) or whose registrations are not all healthy targets.
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
			if why := Reason(inst, req.InstanceTag); why != "" {
				return workflow.TargetsReport{}, faults.New(faults.InstanceNotTagged, "instance %s is %s", req.State.InstanceID, why)
			}
			return c.Targets.CheckInstance(ctx, req.State)
		}
	}
	return workflow.TargetsReport{}, faults.New(faults.InstanceNotTagged, "instance %s is not an EC2 instance this account can describe", req.State.InstanceID)
}
