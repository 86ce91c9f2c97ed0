package standby

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// fake is an Auto Scaling group of one instance, or none.
type fake struct {
	group, state      string
	enterErr, exitErr error
	entered, exited   int
	decrement         *bool
	describeErr       error
}

func (f *fake) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if f.group != "" {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{InstanceId: aws.String(in.InstanceIds[0]), AutoScalingGroupName: aws.String(f.group), LifecycleState: aws.String(f.state)}}
	}
	return out, nil
}

func (f *fake) EnterStandby(_ context.Context, in *autoscaling.EnterStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	f.entered++
	f.decrement = in.ShouldDecrementDesiredCapacity
	if f.enterErr != nil {
		return nil, f.enterErr
	}
	f.state = Standby
	return &autoscaling.EnterStandbyOutput{}, nil
}

func (f *fake) ExitStandby(context.Context, *autoscaling.ExitStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	f.exited++
	if f.exitErr != nil {
		return nil, f.exitErr
	}
	f.state = InService
	return &autoscaling.ExitStandbyOutput{}, nil
}

var state = workflow.State{Plan: workflow.Plan{InstanceID: "i-0123456789abcdef0"}}

func TestEnter(t *testing.T) {
	atMin := &smithy.GenericAPIError{Code: "ValidationError", Message: "AutoScalingGroup web-asg has min-size=2, max-size=4, and desired-size=2. To place into standby 1 instances, please update the AutoScalingGroup sizes appropriately."}
	tests := []struct {
		name        string
		f           fake
		wantErr     string
		wantEntered int
		want        workflow.Standby
	}{
		{"in no group", fake{}, "", 0, workflow.Standby{}},
		{"in service", fake{group: "web-asg", state: InService}, "", 1, workflow.Standby{Group: "web-asg", LifecycleState: EnteringStandby, Changed: true}},
		{"in Standby already (a repeated call)", fake{group: "web-asg", state: Standby}, "", 0, workflow.Standby{Group: "web-asg", LifecycleState: Standby}},
		{"entering Standby already", fake{group: "web-asg", state: EnteringStandby}, "", 0, workflow.Standby{Group: "web-asg", LifecycleState: EnteringStandby}},
		{"being launched", fake{group: "web-asg", state: "Pending:Wait"}, faults.StandbyRefused, 0, workflow.Standby{}},
		{"at the group's minimum size", fake{group: "web-asg", state: InService, enterErr: atMin}, faults.StandbyRefused, 1, workflow.Standby{}},
		{"throttled", fake{group: "web-asg", state: InService, enterErr: &smithy.GenericAPIError{Code: "Throttling"}}, faults.TransientAPIError, 1, workflow.Standby{}},
		{"describe fails", fake{describeErr: errors.New("boom")}, faults.InternalError, 0, workflow.Standby{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			got, err := Mover{API: &f}.Enter(context.Background(), state)
			if name := faults.NameOf(err); (err == nil) != (tt.wantErr == "") || (err != nil && name != tt.wantErr) {
				t.Fatalf("error %v (%s), want %s", err, name, tt.wantErr)
			}
			got.At = ""
			if got != tt.want || f.entered != tt.wantEntered {
				t.Errorf("got %+v after %d EnterStandby, want %+v after %d", got, f.entered, tt.want, tt.wantEntered)
			}
			if f.entered > 0 && !aws.ToBool(f.decrement) {
				t.Error("EnterStandby without ShouldDecrementDesiredCapacity: the group would launch a spare")
			}
		})
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		name       string
		f          fake
		wantErr    string
		wantExited int
		want       workflow.Standby
	}{
		{"in no group", fake{}, "", 0, workflow.Standby{}},
		{"in Standby", fake{group: "web-asg", state: Standby}, "", 1, workflow.Standby{Group: "web-asg", LifecycleState: InService, Changed: true}},
		{"in service already (a repeated call)", fake{group: "web-asg", state: InService}, "", 0, workflow.Standby{Group: "web-asg", LifecycleState: InService}},
		{"still entering Standby: try again", fake{group: "web-asg", state: EnteringStandby}, faults.StandbyPending, 0, workflow.Standby{}},
		{"refused at the maximum size", fake{group: "web-asg", state: Standby, exitErr: &smithy.GenericAPIError{Code: "ValidationError", Message: "desired capacity would exceed max"}}, faults.StandbyExitRefused, 1, workflow.Standby{}},
		{"throttled", fake{group: "web-asg", state: Standby, exitErr: &smithy.GenericAPIError{Code: "Throttling"}}, faults.TransientAPIError, 1, workflow.Standby{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			got, err := Mover{API: &f}.Exit(context.Background(), state)
			if name := faults.NameOf(err); (err == nil) != (tt.wantErr == "") || (err != nil && name != tt.wantErr) {
				t.Fatalf("error %v (%s), want %s", err, name, tt.wantErr)
			}
			got.At = ""
			if got != tt.want || f.exited != tt.wantExited {
				t.Errorf("got %+v after %d ExitStandby, want %+v after %d", got, f.exited, tt.want, tt.wantExited)
			}
		})
	}
	if _, err := (Mover{API: &fake{}}).Exit(context.Background(), workflow.State{}); faults.NameOf(err) != faults.InvalidInput {
		t.Errorf("no instance id: %v", err)
	}
}
