package awsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// wireLab: the demo fleet plus a second, empty group, so that listing pages.
func wireLab(t *testing.T) (*lab.Lab, aws.Config) {
	t.Helper()
	cfg := lab.Demo()
	cfg.Groups = append(cfg.Groups, lab.GroupSpec{Name: "second", Port: 9090, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 10})
	return wireLabOf(t, cfg)
}

// wireLabOf starts a lab of cfg, waits until every target is healthy, and returns a
// client configuration for its endpoint that does not retry (a test sees each answer).
func wireLabOf(t *testing.T, cfg lab.Config) (*lab.Lab, aws.Config) {
	t.Helper()
	l, err := lab.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	awsCfg, err := l.API.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	awsCfg.RetryMaxAttempts = 1
	if err := l.WaitAllHealthy(context.Background(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	return l, awsCfg
}

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func TestELBv2Wire(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := elbv2.NewFromConfig(cfg)
	web := l.Groups[0].ARN
	id := l.Instances[0].ID

	// Pagination: one group a page.
	var names []string
	pages := elbv2.NewDescribeTargetGroupsPaginator(c, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.TargetGroups {
			names = append(names, *g.TargetGroupName)
		}
	}
	if strings.Join(names, ",") != "hello-world,second" {
		t.Errorf("paged names %v", names)
	}
	out, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{web}})
	if err != nil {
		t.Fatal(err)
	}
	g := out.TargetGroups[0]
	if *g.HealthCheckIntervalSeconds != 6 || *g.HealthyThresholdCount != 2 || *g.UnhealthyThresholdCount != 2 || g.TargetType != elbtypes.TargetTypeEnumInstance || *g.Port != 8080 || *g.Matcher.HttpCode != "200" {
		t.Errorf("group %+v", g)
	}
	byName, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"second"}})
	if err != nil || len(byName.TargetGroups) != 1 || *byName.TargetGroups[0].TargetGroupArn != l.Groups[1].ARN {
		t.Errorf("by name: %+v, %v", byName, err)
	}
	_, err = c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{web + "0"}})
	var notFound *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown group: %v, want TargetGroupNotFoundException", err)
	}

	attrs, err := c.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: &web})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range attrs.Attributes {
		found = found || (*a.Key == "deregistration_delay.timeout_seconds" && *a.Value == "30")
	}
	if !found {
		t.Errorf("attributes %+v lack the deregistration delay", attrs.Attributes)
	}

	all, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &web})
	if err != nil || len(all.TargetHealthDescriptions) != 3 || all.TargetHealthDescriptions[0].TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
		t.Fatalf("all targets: %+v, %v", all, err)
	}
	named, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &web,
		Targets: []elbtypes.TargetDescription{{Id: &id, Port: aws.Int32(8080)}, {Id: &id, Port: aws.Int32(9999)}}})
	if err != nil {
		t.Fatal(err)
	}
	if h := named.TargetHealthDescriptions; h[0].TargetHealth.State != "healthy" || h[1].TargetHealth.State != "unused" || h[1].TargetHealth.Reason != elbtypes.TargetHealthReasonEnumNotRegistered {
		t.Errorf("named targets: %+v %+v", h[0].TargetHealth, h[1].TargetHealth)
	}

	target := []elbtypes.TargetDescription{{Id: &id, Port: aws.Int32(8080)}}
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: &web, Targets: target}); err != nil {
		t.Fatal(err)
	}
	h, _ := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &web, Targets: target})
	if th := h.TargetHealthDescriptions[0].TargetHealth; th.State != elbtypes.TargetHealthStateEnumDraining || th.Reason != elbtypes.TargetHealthReasonEnumDeregistrationInProgress {
		t.Errorf("after DeregisterTargets: %+v", th)
	}
	if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &web, Targets: target}); err != nil {
		t.Fatal(err)
	}
	h, _ = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &web, Targets: target})
	if th := h.TargetHealthDescriptions[0].TargetHealth; th.State != elbtypes.TargetHealthStateEnumInitial {
		t.Errorf("after RegisterTargets: %+v", th)
	}
	_, err = c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &web, Targets: []elbtypes.TargetDescription{{Id: aws.String("i-0000000000000dead")}}})
	var invalid *elbtypes.InvalidTargetException
	if !errors.As(err, &invalid) {
		t.Errorf("unknown instance: %v, want InvalidTargetException", err)
	}

	l.API.Throttle("DescribeTargetHealth", 1)
	_, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &web})
	if code(err) != "Throttling" {
		t.Errorf("throttled call: %v, want Throttling", err)
	}
}

func TestSSMWire(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := ssm.NewFromConfig(cfg)
	id := l.Instances[0].ID
	sent, err := c.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id},
		Parameters: map[string][]string{"commands": {"echo hello", "echo oops >&2", "exit 4"}}, TimeoutSeconds: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	cmd := *sent.Command.CommandId
	_, err = c.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: &cmd, InstanceId: &id})
	var notYet *ssmtypes.InvocationDoesNotExist
	if !errors.As(err, &notYet) {
		t.Errorf("right after SendCommand: %v, want InvocationDoesNotExist", err)
	}
	var inv *ssm.GetCommandInvocationOutput
	labtest.WaitFor(t, 10*time.Second, 20*time.Millisecond, "command "+cmd+" to be Failed", func() (bool, any) {
		inv, err = c.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: &cmd, InstanceId: &id})
		if err != nil {
			return false, err
		}
		return inv.Status == ssmtypes.CommandInvocationStatusFailed, inv.Status
	})
	if inv == nil || inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 4 || *inv.StandardOutputContent != "hello\n" || *inv.StandardErrorContent != "oops\n" {
		t.Fatalf("invocation %+v", inv)
	}
	_, err = c.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-Nope"), InstanceIds: []string{id}})
	var badDoc *ssmtypes.InvalidDocument
	if !errors.As(err, &badDoc) {
		t.Errorf("unknown document: %v", err)
	}
	if _, err := c.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: &cmd}); err != nil {
		t.Errorf("cancelling a finished command: %v", err)
	}
	_, err = c.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: aws.String("00000000-0000-4000-8000-000000000000")})
	var badID *ssmtypes.InvalidCommandId
	if !errors.As(err, &badID) {
		t.Errorf("cancelling an unknown command: %v", err)
	}

	// An AlarmConfiguration takes exactly one alarm. A command whose alarm does not exist
	// is stopped (IgnorePollAlarmFailure false), and ListCommands of that command says so.
	two := &ssmtypes.AlarmConfiguration{Alarms: []ssmtypes.Alarm{{Name: aws.String("a")}, {Name: aws.String("b")}}}
	if _, err := c.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id},
		Parameters: map[string][]string{"commands": {"sleep 30"}}, AlarmConfiguration: two}); code(err) != "ValidationException" {
		t.Errorf("two alarms: %v, want ValidationException", err)
	}
	watched, err := c.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id},
		Parameters: map[string][]string{"commands": {"sleep 30"}}, AlarmConfiguration: &ssmtypes.AlarmConfiguration{Alarms: []ssmtypes.Alarm{{Name: aws.String("missing")}}}})
	if err != nil || aws.ToString(watched.Command.AlarmConfiguration.Alarms[0].Name) != "missing" {
		t.Fatalf("one alarm: %v", err)
	}
	labtest.WaitFor(t, 10*time.Second, 20*time.Millisecond, "the watched command to be stopped", func() (bool, any) {
		list, err := c.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: watched.Command.CommandId, InstanceId: &id})
		if err != nil || len(list.Commands) != 1 {
			return false, err
		}
		got := list.Commands[0]
		return got.Status == ssmtypes.CommandStatusCancelled && len(got.TriggeredAlarms) == 1 && aws.ToString(got.TriggeredAlarms[0].Name) == "missing" &&
			got.TriggeredAlarms[0].State == ssmtypes.ExternalAlarmStateUnknown, got
	})
}

func TestLambdaWire(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := lambda.NewFromConfig(cfg)
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:123456789012:function:resolve-targets"),
		Payload: []byte(`{"instanceId": "` + l.Instances[0].ID + `", "maintenance": {"action": "reboot"}, "dryRun": true}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("resolve-targets: %v %s", err, out.Payload)
	}
	var plan struct {
		Registrations []struct{ Port int } `json:"registrations"`
	}
	if err := json.Unmarshal(out.Payload, &plan); err != nil || len(plan.Registrations) != 1 || plan.Registrations[0].Port != 8080 {
		t.Errorf("plan %s", out.Payload)
	}
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("resolve-targets"), Payload: []byte(`{"instanceId": "x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var fnErr struct{ ErrorType, ErrorMessage string }
	_ = json.Unmarshal(out.Payload, &fnErr)
	if out.FunctionError == nil || *out.FunctionError != "Unhandled" || fnErr.ErrorType != "InvalidInput" || !strings.Contains(fnErr.ErrorMessage, "instanceId") {
		t.Errorf("function error: %v %s", out.FunctionError, out.Payload)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("no-such-function"), Payload: []byte(`{}`)})
	var notFound *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown function: %v", err)
	}
	l.API.Throttle("Invoke", 1)
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("summarize"), Payload: []byte(`{}`)})
	var throttled *lambdatypes.TooManyRequestsException
	if !errors.As(err, &throttled) {
		t.Errorf("throttled invoke: %v", err)
	}
}
