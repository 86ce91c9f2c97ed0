package drain

import (
	"context"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

const (
	inst = "i-0123456789abcdef0"
	arn  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
)

var start = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// fakeELB shows the instance draining, or unused once drained is set.
type fakeELB struct{ drained bool }

func (f fakeELB) DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	state := elbtypes.TargetHealthStateEnumDraining
	if f.drained {
		state = elbtypes.TargetHealthStateEnumUnused
	}
	return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
		Target: &elbtypes.TargetDescription{Id: new(inst), Port: new(int32(8080))}, TargetHealth: &elbtypes.TargetHealth{State: state}}}}, nil
}

// fakeSSM answers every invocation with status.
type fakeSSM struct {
	status ssmtypes.CommandInvocationStatus
	getErr error
	sent   int
}

func (f *fakeSSM) SendCommand(context.Context, *ssm.SendCommandInput, ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	f.sent++
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: new("c-idle")}}, nil
}

func (f *fakeSSM) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return &ssm.GetCommandInvocationOutput{Status: f.status, StatusDetails: new(string(f.status)), StandardOutputContent: new("drainpipe: idle for 3 checks in a row (3 checks)\n"),
		StandardErrorContent: new("")}, nil
}

func (f *fakeSSM) CancelCommand(context.Context, *ssm.CancelCommandInput, ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error) {
	return &ssm.CancelCommandOutput{}, nil
}

func (f *fakeSSM) ListCommands(context.Context, *ssm.ListCommandsInput, ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	return &ssm.ListCommandsOutput{}, nil
}

func (f *fakeSSM) DescribeInstancePatchStates(context.Context, *ssm.DescribeInstancePatchStatesInput, ...func(*ssm.Options)) (*ssm.DescribeInstancePatchStatesOutput, error) {
	return &ssm.DescribeInstancePatchStatesOutput{}, nil
}

// TestCheck walks the idle drain step by step: no check counts during the propagation
// wait; then the idle check is sent, checked, and ends the drain when it succeeds; a
// failed one leaves the drain to the delay; the delay's end ends it whatever the check;
// an instance in an Auto Scaling group, and a plan without an idle drain, wait the delay.
func TestCheck(t *testing.T) {
	idle := workflow.IdleDrainPlan(&workflow.Drain{IdleCheck: []string{"true"}}, 300)
	sent := &workflow.CommandSent{CommandID: "c-idle", SentAt: workflow.Deadline(start, 15), Deadline: workflow.Deadline(start, 15+120+285), PollSeconds: 3}
	tests := []struct {
		name     string
		at       time.Duration
		idle     *workflow.IdleDrain
		prev     *workflow.IdleReport
		standby  string
		drained  bool
		status   ssmtypes.CommandInvocationStatus
		getErr   error
		wantDone bool
		wantIdle string
		wantPoll int
		wantSent int
	}{
		{name: "no idle drain: waits for the delay", at: 60 * time.Second, wantPoll: 10},
		{name: "propagating", at: 5 * time.Second, idle: idle, wantIdle: workflow.IdlePropagating, wantPoll: 10},
		{name: "propagating, nearly over", at: 12 * time.Second, idle: idle, wantIdle: workflow.IdlePropagating, wantPoll: 3},
		{name: "sends the check after the propagation", at: 15 * time.Second, idle: idle, wantIdle: workflow.IdleChecking, wantPoll: 3, wantSent: 1},
		{name: "still checking", at: 20 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleChecking, Command: sent},
			status: ssmtypes.CommandInvocationStatusInProgress, wantIdle: workflow.IdleChecking, wantPoll: 1},
		{name: "idle: the drain is done before the delay", at: 20 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleChecking, Command: sent},
			status: ssmtypes.CommandInvocationStatusSuccess, wantDone: true, wantIdle: workflow.IdleReached},
		{name: "never idle: waits for the delay", at: 300 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleChecking, Command: sent},
			status: ssmtypes.CommandInvocationStatusTimedOut, wantIdle: workflow.IdleGaveUp, wantPoll: 1},
		{name: "gave up stays given up, and waits for the delay's end", at: 250 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleGaveUp, Command: sent},
			wantIdle: workflow.IdleGaveUp, wantPoll: 50},
		{name: "a check SSM refuses: gives up", at: 20 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleChecking, Command: sent},
			getErr: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, wantIdle: workflow.IdleGaveUp, wantPoll: 280},
		{name: "the delay's end ends it whatever the check", at: 301 * time.Second, idle: idle, prev: &workflow.IdleReport{Status: workflow.IdleChecking, Command: sent},
			drained: true, wantDone: true},
		{name: "Auto Scaling: waits for the delay", at: 20 * time.Second, idle: idle, standby: "web-asg", wantIdle: workflow.IdleNotUsed, wantPoll: 280},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := func() time.Time { return start.Add(tt.at) }
			f := &fakeSSM{status: tt.status, getErr: tt.getErr}
			d := Drainer{Targets: targets.Checker{API: fakeELB{tt.drained}, Now: now}, Commands: command.Runner{API: f, Now: now}, Now: now}
			s := workflow.State{Plan: workflow.Plan{InstanceID: inst, Registrations: []workflow.Registration{{TargetGroupARN: arn, Port: 8080}},
				IdleDrain: tt.idle, Waits: workflow.Waits{DeregistrationDelaySeconds: 300, PollSeconds: 10}},
				Deregistration: &workflow.Deregistration{DeregisteredAt: workflow.Deadline(start, 0), DrainDeadline: workflow.Deadline(start, 360)}}
			if tt.prev != nil {
				s.Drain = &workflow.TargetsReport{Idle: tt.prev}
			}
			if tt.standby != "" {
				s.Standby = &workflow.Standby{Group: tt.standby, LifecycleState: "EnteringStandby"}
			}
			r, err := d.Check(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			gotIdle := ""
			if r.Idle != nil {
				gotIdle = r.Idle.Status
			}
			if r.Done != tt.wantDone || gotIdle != tt.wantIdle || r.PollSeconds != tt.wantPoll || f.sent != tt.wantSent {
				t.Errorf("done %v idle %q poll %d sent %d, want %v %q %d %d", r.Done, gotIdle, r.PollSeconds, f.sent, tt.wantDone, tt.wantIdle, tt.wantPoll, tt.wantSent)
			}
		})
	}
}
