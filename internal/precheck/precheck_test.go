package precheck

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/alarms"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

const group = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

type fakeEC2 struct{ tagged bool }

func (f fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	inst := ec2types.Instance{InstanceId: aws.String(in.InstanceIds[0])}
	if f.tagged {
		inst.Tags = []ec2types.Tag{{Key: aws.String("drainpipe"), Value: aws.String("enabled")}}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{inst}}}}, nil
}

type fakeCW struct {
	state cwtypes.StateValue
	calls *int
}

func (f fakeCW) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	*f.calls++
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{{AlarmName: aws.String(in.AlarmNames[0]), StateValue: f.state}}}, nil
}

func (f fakeCW) DescribeAlarmHistory(context.Context, *cloudwatch.DescribeAlarmHistoryInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	return nil, errors.New("check-instance reads no history")
}

// fakeASG is an Auto Scaling group holding the instance in state ("": in no group).
type fakeASG struct{ state string }

func (f fakeASG) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if f.state != "" {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{InstanceId: aws.String(in.InstanceIds[0]), AutoScalingGroupName: aws.String("web-asg"), LifecycleState: aws.String(f.state)}}
	}
	return out, nil
}

func (fakeASG) EnterStandby(context.Context, *autoscaling.EnterStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return nil, errors.New("check-instance changes nothing")
}

func (fakeASG) ExitStandby(context.Context, *autoscaling.ExitStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	return nil, errors.New("check-instance changes nothing")
}

type fakeELB struct{ calls *int }

func (f fakeELB) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	*f.calls++
	return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
		Target: &elbtypes.TargetDescription{Id: aws.String("i-0123456789abcdef0"), Port: aws.Int32(80)}, TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}}}}, nil
}

// TestCheck: the checks run in order, each refusal named, and a refusal stops the checks
// after it (no alarm or health read for an instance drainpipe may not command).
func TestCheck(t *testing.T) {
	watch := &workflow.Alarms{Names: []string{"web-5xx"}}
	tests := []struct {
		name                    string
		tagged                  bool
		alarms                  *workflow.Alarms
		state                   cwtypes.StateValue
		lifecycle               string
		fault                   string
		alarmCalls, healthCalls int
	}{
		{name: "not tagged", tagged: false, alarms: watch, state: cwtypes.StateValueOk, fault: faults.InstanceNotTagged},
		{name: "an alarm in ALARM", tagged: true, alarms: watch, state: cwtypes.StateValueAlarm, fault: faults.AlarmActive, alarmCalls: 1},
		{name: "alarms OK", tagged: true, alarms: watch, state: cwtypes.StateValueOk, alarmCalls: 1, healthCalls: 1},
		{name: "no alarms named", tagged: true, healthCalls: 1},
		{name: "in service in an Auto Scaling group", tagged: true, lifecycle: "InService", healthCalls: 1},
		{name: "put in Standby by someone else", tagged: true, lifecycle: "Standby", fault: faults.InstanceInStandby},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var alarmCalls, healthCalls int
			c := Checker{EC2: fakeEC2{tagged: tt.tagged}, Alarms: alarms.Gate{CW: fakeCW{state: tt.state, calls: &alarmCalls}},
				Standby: standby.Mover{API: fakeASG{state: tt.lifecycle}}, Targets: targets.Checker{API: fakeELB{calls: &healthCalls}}}
			state := workflow.State{Plan: workflow.Plan{InstanceID: "i-0123456789abcdef0", Alarms: tt.alarms,
				Registrations: []workflow.Registration{{TargetGroupARN: group, Port: 80}}}}
			_, err := c.Check(context.Background(), Request{State: state, InstanceTag: workflow.Tag{Key: "drainpipe", Value: "enabled"}})
			var named *faults.Error
			switch {
			case tt.fault == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.fault != "" && (!errors.As(err, &named) || named.Name != tt.fault):
				t.Fatalf("got %v, want %s", err, tt.fault)
			}
			if alarmCalls != tt.alarmCalls || healthCalls != tt.healthCalls {
				t.Errorf("%d alarm and %d health reads, want %d and %d", alarmCalls, healthCalls, tt.alarmCalls, tt.healthCalls)
			}
		})
	}
}
