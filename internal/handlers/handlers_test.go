package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

var update = flag.Bool("update", false, "rewrite the golden output fixtures")

const (
	webARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	inst   = "i-0123456789abcdef0"
)

// staticELB is the post's fleet frozen in time: one target group "web" (interval 6,
// thresholds 2) with three instances on port 8080, in the states of the states map.
type staticELB struct {
	states map[string]elbtypes.TargetHealthStateEnum // id -> state; absent: not registered
}

func (f staticELB) DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error) {
	return &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{{
		TargetGroupArn: new(webARN), TargetGroupName: new("web"), TargetType: elbtypes.TargetTypeEnumInstance,
		Protocol: elbtypes.ProtocolEnumHttp, LoadBalancerArns: []string{"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"},
		HealthCheckIntervalSeconds: new(int32(6)), HealthCheckTimeoutSeconds: new(int32(5)), HealthyThresholdCount: new(int32(2)),
	}}}, nil
}

func (f staticELB) DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	return &elbv2.DescribeTargetGroupAttributesOutput{Attributes: []elbtypes.TargetGroupAttribute{{Key: new("deregistration_delay.timeout_seconds"), Value: new("300")}}}, nil
}

func (f staticELB) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	var out elbv2.DescribeTargetHealthOutput
	add := func(id string, state elbtypes.TargetHealthStateEnum) {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target: &elbtypes.TargetDescription{Id: new(id), Port: new(int32(8080))}, TargetHealth: &elbtypes.TargetHealth{State: state}})
	}
	if len(in.Targets) == 0 {
		ids := make([]string, 0, len(f.states))
		for id := range f.states {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			add(id, f.states[id])
		}
		return &out, nil
	}
	for _, t := range in.Targets {
		state, ok := f.states[*t.Id]
		if !ok {
			state = elbtypes.TargetHealthStateEnumUnused
		}
		add(*t.Id, state)
	}
	return &out, nil
}

func (f staticELB) RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (f staticELB) DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	return &elbv2.DeregisterTargetsOutput{}, nil
}

// staticSSM sends every command as the same id and reports one invocation.
type staticSSM struct {
	invocation *ssm.GetCommandInvocationOutput
}

func (f staticSSM) SendCommand(context.Context, *ssm.SendCommandInput, ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: new("0b5c3f7e-1a2b-4c3d-8e9f-0123456789ab")}}, nil
}

func (f staticSSM) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return f.invocation, nil
}

func (f staticSSM) CancelCommand(context.Context, *ssm.CancelCommandInput, ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error) {
	return &ssm.CancelCommandOutput{}, nil
}

// ListCommands reports the maintenance command as still running.
func (f staticSSM) ListCommands(context.Context, *ssm.ListCommandsInput, ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	return &ssm.ListCommandsOutput{Commands: []ssmtypes.Command{{CommandId: new("0b5c3f7e-1a2b-4c3d-8e9f-0123456789ab"),
		Comment: new("drainpipe reboot"), Status: ssmtypes.CommandStatusInProgress}}}, nil
}

// DescribeInstancePatchStates reports a Scan that found two patches missing.
func (f staticSSM) DescribeInstancePatchStates(_ context.Context, in *ssm.DescribeInstancePatchStatesInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstancePatchStatesOutput, error) {
	end := time.Date(2026, 11, 22, 3, 1, 0, 0, time.UTC)
	return &ssm.DescribeInstancePatchStatesOutput{InstancePatchStates: []ssmtypes.InstancePatchState{{InstanceId: &in.InstanceIds[0],
		Operation: ssmtypes.PatchOperationTypeScan, OperationEndTime: &end, MissingCount: 2}}}, nil
}

// endedSFN: every execution asked about has ended.
// staticASG is an Auto Scaling group "web-asg" holding the instance in state ("": the
// instance is in no group).
type staticASG struct{ state string }

func (f staticASG) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	if f.state != "" {
		out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{InstanceId: new(in.InstanceIds[0]), AutoScalingGroupName: new("web-asg"), LifecycleState: new(f.state)}}
	}
	return out, nil
}

func (staticASG) EnterStandby(context.Context, *autoscaling.EnterStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return &autoscaling.EnterStandbyOutput{}, nil
}

func (staticASG) ExitStandby(context.Context, *autoscaling.ExitStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	return &autoscaling.ExitStandbyOutput{}, nil
}

type endedSFN struct{}

func (endedSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusAborted}, nil
}

func (endedSFN) StopExecution(context.Context, *sfn.StopExecutionInput, ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	panic("nothing is running")
}

// staticSNS accepts every message.
type staticSNS struct{}

func (staticSNS) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return &sns.PublishOutput{MessageId: new("1")}, nil
}

var (
	allHealthy = map[string]elbtypes.TargetHealthStateEnum{inst: "healthy", "i-0aaaaaaaaaaaaaaa1": "healthy", "i-0bbbbbbbbbbbbbbb2": "healthy"}
	draining   = map[string]elbtypes.TargetHealthStateEnum{inst: "draining", "i-0aaaaaaaaaaaaaaa1": "healthy", "i-0bbbbbbbbbbbbbbb2": "healthy"}
	lastOne    = map[string]elbtypes.TargetHealthStateEnum{inst: "healthy"}
	failed     = &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusFailed, StatusDetails: new("Failed"), ResponseCode: 1,
		StandardErrorContent: new("bash: line 1: yum: command not found\n"), StandardOutputContent: new("")}
	succeeded = &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusSuccess, StatusDetails: new("Success"),
		StandardOutputContent: new("drainpipe: instance is back after the reboot\n")}
)

// TestContracts runs each function's handler through aws-lambda-go's handler path on a
// JSON fixture, testdata/contract/<function>/<case>.input.json, and compares the
// response with <case>.output.json, or the Lambda error (errorType and errorMessage, as
// Step Functions sees it) with <case>.error.json. go test -update rewrites the goldens.
func TestContracts(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		function, name string
		elb            staticELB
		ssm            staticSSM
		now            time.Duration
	}{
		{"resolve-targets", "reboot", staticELB{allHealthy}, staticSSM{}, 0},
		{"resolve-targets", "discovery-with-health-check", staticELB{allHealthy}, staticSSM{}, 0},
		{"resolve-targets", "unknown-field", staticELB{allHealthy}, staticSSM{}, 0},
		{"resolve-targets", "unknown-action", staticELB{allHealthy}, staticSSM{}, 0},
		{"check-instance", "healthy", staticELB{allHealthy}, staticSSM{}, 0},
		{"check-instance", "untagged", staticELB{allHealthy}, staticSSM{}, 0},
		{"reserve-capacity", "reserved", staticELB{allHealthy}, staticSSM{}, 0},
		{"reserve-capacity", "last-healthy-target", staticELB{lastOne}, staticSSM{}, 0},
		{"reserve-capacity", "held-by-another", staticELB{allHealthy}, staticSSM{}, 0},
		{"enter-standby", "in-service", staticELB{}, staticSSM{}, 0},
		{"enter-standby", "in-no-group", staticELB{}, staticSSM{}, 0},
		{"deregister-target", "ok", staticELB{allHealthy}, staticSSM{}, 0},
		{"check-drain", "draining", staticELB{draining}, staticSSM{}, time.Minute},
		{"check-drain", "timeout", staticELB{draining}, staticSSM{}, time.Hour},
		{"send-command", "reboot", staticELB{}, staticSSM{}, 0},
		{"check-command", "failed", staticELB{}, staticSSM{failed}, time.Minute},
		{"check-command", "success", staticELB{}, staticSSM{succeeded}, time.Minute},
		{"check-command", "scan-found-missing-patches", staticELB{}, staticSSM{succeeded}, time.Minute},
		{"register-target", "ok", staticELB{allHealthy}, staticSSM{}, 0},
		{"check-target-health", "healthy", staticELB{allHealthy}, staticSSM{}, time.Minute},
		{"exit-standby", "in-standby", staticELB{}, staticSSM{}, time.Minute},
		{"release-capacity", "released", staticELB{allHealthy}, staticSSM{}, time.Minute},
		{"restore-execution", "released", staticELB{}, staticSSM{}, 0},
		{"restore-execution", "nothing-held", staticELB{}, staticSSM{}, 0},
		{"summarize", "maintained", staticELB{}, staticSSM{}, 0},
		{"summarize", "dry-run", staticELB{}, staticSSM{}, 0},
		{"summarize", "nothing-to-do", staticELB{}, staticSSM{}, 0},
	}
	for _, c := range cases {
		t.Run(c.function+"/"+c.name, func(t *testing.T) {
			build, err := Lookup(c.function)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join("testdata", "contract", c.function, c.name)
			asg := staticASG{state: map[string]string{"in-service": "InService", "in-standby": "Standby"}[c.name]}
			h := build(Deps{Clients: []any{c.elb, c.ssm, staticDynamoDB{items: tables[c.name]}, staticSNS{}, endedSFN{}, staticEC2{}, asg},
				Now: func() time.Time { return at.Add(c.now) }, Token: func() string { return "0123456789abcdef" }})
			compareContract(t, h, base)
		})
	}
}

// TestFleetContracts runs the fleet state machine's functions the same way, against a
// DynamoDB (dynalite) holding the rollouts each case names, written as plan-rollout
// writes them (two waves: two instances, then one).
func TestFleetContracts(t *testing.T) {
	at := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	db := rollouttest.Tables(t)
	cases := []struct{ function, name, seed string }{
		{"plan-rollout", "planned", ""},
		{"plan-rollout", "over-budget", ""},
		{"plan-rollout", "unknown-field", ""},
		{"acquire-leases", "acquired", "acquire"},
		{"next-wave", "first-wave", ""}, // the rollout acquire-leases locked
		{"record-wave", "recorded", "record"},
		{"release-leases", "released", ""}, // its lease given back
		{"summarize-rollout", "stopped", "summary"},
		{"summarize-rollout", "release-failed", "problem"},
	}
	for _, c := range cases {
		t.Run(c.function+"/"+c.name, func(t *testing.T) {
			if c.seed != "" {
				rollouttest.New(t, db, c.seed, rollout.Input{Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, 2, 1)
			}
			build, err := Lookup(c.function)
			if err != nil {
				t.Fatal(err)
			}
			h := build(Deps{Clients: []any{db, staticELB{allHealthy}, staticSSM{}, staticEC2{}, staticSNS{}, endedSFN{}},
				Now: func() time.Time { return at }})
			compareContract(t, h, filepath.Join("testdata", "contract", c.function, c.name))
		})
	}
}

// compareContract invokes the handler on base.input.json and compares its answer with
// base.output.json, or its error, as Step Functions sees it, with base.error.json.
func compareContract(t *testing.T, h lambda.Handler, base string) {
	t.Helper()
	payload, err := os.ReadFile(base + ".input.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Invoke(context.Background(), h, payload)
	golden := base + ".output.json"
	if err != nil {
		var lambdaErr messages.InvokeResponse_Error
		if !errors.As(err, &lambdaErr) {
			t.Fatalf("error %T is not a Lambda error response: %v", err, err)
		}
		golden = base + ".error.json"
		out, _ = json.Marshal(map[string]string{"errorType": lambdaErr.Type, "errorMessage": lambdaErr.Message})
	}
	compareJSON(t, golden, out)
}

func compareJSON(t *testing.T, golden string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %s", got)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it, then review it)", err)
	}
	var a, b any
	_ = json.Unmarshal(want, &a)
	_ = json.Unmarshal(pretty.Bytes(), &b)
	wantN, _ := json.Marshal(a)
	gotN, _ := json.Marshal(b)
	if !bytes.Equal(wantN, gotN) {
		t.Errorf("response differs from %s:\ngot  %s\nwant %s", golden, gotN, wantN)
	}
}

// DescribeInstanceInformation: every instance asked about is online.
func (f staticSSM) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	var out ssm.DescribeInstanceInformationOutput
	for _, filter := range in.Filters {
		for _, id := range filter.Values {
			out.InstanceInformationList = append(out.InstanceInformationList, ssmtypes.InstanceInformation{InstanceId: new(id), PingStatus: ssmtypes.PingStatusOnline})
		}
	}
	return &out, nil
}

// staticDynamoDB answers GetItem from fixed items (by partition key) and accepts every
// write: the contract tests check payloads; the conditions are tested against a real
// implementation in package capacity.
type staticDynamoDB struct {
	items map[string]map[string]ddbtypes.AttributeValue
}

func (f staticDynamoDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk := in.Key["pk"].(*ddbtypes.AttributeValueMemberS).Value
	return &dynamodb.GetItemOutput{Item: f.items[pk]}, nil
}

func (f staticDynamoDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

// UpdateItem answers with the item as it is (for ReturnValues), when there is one.
func (f staticDynamoDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	pk := in.Key["pk"].(*ddbtypes.AttributeValueMemberS).Value
	return &dynamodb.UpdateItemOutput{Attributes: f.items[pk]}, nil
}

func (f staticDynamoDB) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f staticDynamoDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

func (f staticDynamoDB) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{}, nil
}

// tables are the capacity table's items for the cases that need some: another execution
// holds i-0aaaaaaaaaaaaaaa1 out of web (floor 2), and this one's reservation to release.
var tables = map[string]map[string]map[string]ddbtypes.AttributeValue{
	"held-by-another": {"group#" + webARN: {
		"version": &ddbtypes.AttributeValueMemberN{Value: "3"},
		"out": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"i-0aaaaaaaaaaaaaaa1": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
				"holder":    &ddbtypes.AttributeValueMemberS{Value: "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-instance:fleet-child"},
				"floor":     &ddbtypes.AttributeValueMemberN{Value: "2"},
				"since":     &ddbtypes.AttributeValueMemberS{Value: "2026-11-22T02:55:00Z"},
				"expiresAt": &ddbtypes.AttributeValueMemberN{Value: "1895000000"},
			}},
		}},
	}},
	"released": {"instance#" + inst: {
		"holder": &ddbtypes.AttributeValueMemberS{Value: "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-instance:console-1"},
		"registrations": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"targetGroupArn": &ddbtypes.AttributeValueMemberS{Value: webARN}, "port": &ddbtypes.AttributeValueMemberN{Value: "8080"}}}}},
	}},
}

// staticEC2: every instance asked about is running and tagged drainpipe=enabled, but an
// id ending in "bad" is tagged drainpipe=disabled; every tag is written.
type staticEC2 struct{}

func (staticEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	var r ec2types.Reservation
	for _, id := range in.InstanceIds {
		inst := ec2types.Instance{InstanceId: new(id), State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning},
			Tags: []ec2types.Tag{{Key: new("drainpipe"), Value: new("enabled")}}}
		if strings.HasSuffix(id, "bad") {
			inst.Tags = []ec2types.Tag{{Key: new("drainpipe"), Value: new("disabled")}}
		}
		r.Instances = append(r.Instances, inst)
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{r}}, nil
}

func (staticEC2) CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return &ec2.CreateTagsOutput{}, nil
}
