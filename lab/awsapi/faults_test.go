package awsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/clock"
)

func status(err error) int {
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		return resp.HTTPStatusCode()
	}
	return 0
}

// TestFaultsInEveryProtocol: each fault, on one operation of each service, reaches the
// real SDK client as that service's error (code, HTTP status and, where the service models
// it, the SDK's typed error), once (Times 1), and the next call is answered normally.
func TestFaultsInEveryProtocol(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	elbc, ec2c, snsc, ssmc := elbv2.NewFromConfig(cfg), ec2.NewFromConfig(cfg), sns.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	ddb, sfnc, lam := dynamodb.NewFromConfig(cfg), sfn.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	calls := map[string]func() error{
		awsapi.ServiceELB: func() error {
			_, err := elbc.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
			return err
		},
		awsapi.ServiceEC2: func() error {
			_, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{l.Instances[0].ID}})
			return err
		},
		awsapi.ServiceSNS: func() error {
			_, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(lab.TopicARN), Message: aws.String("hello")})
			return err
		},
		awsapi.ServiceSSM: func() error {
			_, err := ssmc.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
			return err
		},
		awsapi.ServiceDynamoDB: func() error {
			_, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(lab.CapacityTable),
				Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "nothing"}}})
			return err
		},
		awsapi.ServiceStepFunctions: func() error {
			_, err := sfnc.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(lab.InstanceStateMachineARN)})
			return err
		},
		awsapi.ServiceLambda: func() error {
			_, err := lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("summarize"), Payload: []byte(`{}`)})
			return err
		},
	}
	ops := map[string]string{awsapi.ServiceELB: "DescribeTargetGroups", awsapi.ServiceEC2: "DescribeInstances", awsapi.ServiceSNS: "Publish",
		awsapi.ServiceSSM: "DescribeInstanceInformation", awsapi.ServiceDynamoDB: "GetItem", awsapi.ServiceStepFunctions: "ListExecutions",
		awsapi.ServiceLambda: "Invoke"}
	// Every call must work before faults are injected (the key name above may not be the
	// table's: a ValidationException is an answer too, but not one this test wants).
	for svc, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s without a fault: %v", svc, err)
		}
	}
	cases := []struct {
		service string
		fault   awsapi.Fault
		code    string
		status  int
		typed   func(error) bool
	}{
		{awsapi.ServiceELB, awsapi.InternalError, "InternalFailure", 500, nil},
		{awsapi.ServiceELB, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceELB, awsapi.AccessDenied, "AccessDenied", 403, nil},
		{awsapi.ServiceELB, awsapi.Throttling, "Throttling", 400, nil},
		{awsapi.ServiceEC2, awsapi.InternalError, "InternalError", 500, nil},
		{awsapi.ServiceEC2, awsapi.ServiceUnavailable, "Unavailable", 503, nil},
		{awsapi.ServiceEC2, awsapi.AccessDenied, "UnauthorizedOperation", 403, nil},
		{awsapi.ServiceEC2, awsapi.Throttling, "RequestLimitExceeded", 503, nil},
		{awsapi.ServiceSNS, awsapi.InternalError, "InternalError", 500, as[*snstypes.InternalErrorException]},
		{awsapi.ServiceSNS, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceSNS, awsapi.AccessDenied, "AuthorizationError", 403, as[*snstypes.AuthorizationErrorException]},
		{awsapi.ServiceSNS, awsapi.Throttling, "Throttling", 400, nil},
		{awsapi.ServiceSSM, awsapi.InternalError, "InternalServerError", 500, as[*ssmtypes.InternalServerError]},
		{awsapi.ServiceSSM, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceSSM, awsapi.AccessDenied, "AccessDeniedException", 400, nil},
		{awsapi.ServiceSSM, awsapi.Throttling, "ThrottlingException", 400, nil},
		{awsapi.ServiceDynamoDB, awsapi.InternalError, "InternalServerError", 500, as[*ddbtypes.InternalServerError]},
		{awsapi.ServiceDynamoDB, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceDynamoDB, awsapi.AccessDenied, "AccessDeniedException", 400, nil},
		{awsapi.ServiceDynamoDB, awsapi.Throttling, "ProvisionedThroughputExceededException", 400, as[*ddbtypes.ProvisionedThroughputExceededException]},
		{awsapi.ServiceStepFunctions, awsapi.InternalError, "InternalFailure", 500, nil},
		{awsapi.ServiceStepFunctions, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceStepFunctions, awsapi.AccessDenied, "AccessDeniedException", 400, nil},
		{awsapi.ServiceStepFunctions, awsapi.Throttling, "ThrottlingException", 400, nil},
		{awsapi.ServiceLambda, awsapi.InternalError, "ServiceException", 500, as[*lambdatypes.ServiceException]},
		{awsapi.ServiceLambda, awsapi.ServiceUnavailable, "ServiceUnavailable", 503, nil},
		{awsapi.ServiceLambda, awsapi.AccessDenied, "AccessDeniedException", 403, nil},
		{awsapi.ServiceLambda, awsapi.Throttling, "TooManyRequestsException", 429, as[*lambdatypes.TooManyRequestsException]},
	}
	for _, c := range cases {
		t.Run(c.service+"/"+string(c.fault), func(t *testing.T) {
			before := len(l.Injected())
			if _, err := l.API.Inject(awsapi.Rule{Service: c.service, Operation: ops[c.service], Fault: c.fault, Times: 1}); err != nil {
				t.Fatal(err)
			}
			err := calls[c.service]()
			if code(err) != c.code || status(err) != c.status {
				t.Errorf("answered %d %q (%v), want %d %s", status(err), code(err), err, c.status, c.code)
			}
			if c.typed != nil && !c.typed(err) {
				t.Errorf("%v is not the SDK's modelled error", err)
			}
			var api smithy.APIError
			if c.fault == awsapi.AccessDenied && (!errors.As(err, &api) || !strings.Contains(api.ErrorMessage(), "is not authorized to perform: "+c.service+":")) {
				t.Errorf("access denied message: %v", err)
			}
			if err := calls[c.service](); err != nil {
				t.Errorf("the call after the one fault: %v", err)
			}
			got := l.Injected()[before:]
			if len(got) != 1 || got[0].Service != c.service || got[0].Operation != ops[c.service] || got[0].Fault != c.fault ||
				got[0].Code != c.code || got[0].Status != c.status || got[0].At.IsZero() {
				t.Errorf("recorded %+v", got)
			}
		})
	}
	// Code overrides the fault's usual code: DynamoDB's other throttling answer.
	if _, err := l.API.Inject(awsapi.Rule{Operation: "GetItem", Fault: awsapi.Throttling, Code: "ThrottlingException", Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := calls[awsapi.ServiceDynamoDB](); code(err) != "ThrottlingException" || status(err) != 400 {
		t.Errorf("DynamoDB ThrottlingException: %v", err)
	}
}

func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestSDKRetriesServerFaults: the SDK's standard retryer (3 attempts) absorbs two 503s;
// a third fault in a row reaches the caller.
func TestSDKRetriesServerFaults(t *testing.T) {
	l, _ := wireLab(t)
	ctx := context.Background()
	cfg, err := l.API.Config(ctx) // the standard retryer, at the lab's time scale
	if err != nil {
		t.Fatal(err)
	}
	c := elbv2.NewFromConfig(cfg)
	arn := l.Groups[0].ARN
	if _, err := l.API.Inject(awsapi.Rule{Operation: "DescribeTargetHealth", Fault: awsapi.ServiceUnavailable, Times: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn}); err != nil {
		t.Errorf("after two 503s: %v", err)
	}
	if _, err := l.API.Inject(awsapi.Rule{Operation: "DescribeTargetHealth", Fault: awsapi.InternalError, Times: 3}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn})
	if code(err) != "InternalFailure" {
		t.Errorf("after three 500s: %v", err)
	}
	if n := len(l.Injected()); n != 5 {
		t.Errorf("%d injections recorded, want 5", n)
	}
}

// publishes makes n Publish calls and returns which of them failed.
func publishes(t *testing.T, s *awsapi.Server, n int) string {
	t.Helper()
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	c := sns.NewFromConfig(cfg)
	var b strings.Builder
	for range n {
		_, err := c.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Message: aws.String("m")})
		switch code(err) {
		case "":
			b.WriteByte('.')
		case "Throttling":
			b.WriteByte('T')
		case "InternalError":
			b.WriteByte('X')
		default:
			t.Fatalf("publish: %v", err)
		}
	}
	return b.String()
}

func endpoint(t *testing.T) *awsapi.Server {
	t.Helper()
	s, err := awsapi.Start(awsapi.Backends{}, clock.New(0.01))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestSeededFaultsReplay: with the same seed, the same calls get the same faults; each
// rule draws from its own stream, so adding a rule on another operation does not move
// them; another seed gives other faults. After, Times and P combine as documented.
func TestSeededFaultsReplay(t *testing.T) {
	run := func(seed uint64, extra bool) (string, []awsapi.Injection) {
		s := endpoint(t)
		s.Seed(seed)
		if extra {
			if _, err := s.Inject(awsapi.Rule{Operation: "Invoke", Fault: awsapi.InternalError, P: 0.5}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Inject(awsapi.Rule{Operation: "Publish", Fault: awsapi.InternalError, P: 0.3}); err != nil {
			t.Fatal(err)
		}
		s.Throttle("Publish", 0.2)
		return publishes(t, s, 200), s.Injected()
	}
	a, injA := run(7, false)
	b, injB := run(7, false)
	if a != b {
		t.Fatalf("seed 7 twice:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "X") || !strings.Contains(a, "T") || !strings.Contains(a, ".") {
		t.Errorf("seed 7 gave %s: want faults of both rules and normal answers", a)
	}
	if len(injA) != len(injB) || len(injA) != strings.Count(a, "X")+strings.Count(a, "T") {
		t.Errorf("recorded %d and %d injections for %s", len(injA), len(injB), a)
	}
	for i := range injA {
		if injA[i].Seq != i+1 || injA[i].Fault != injB[i].Fault || injA[i].Rule != injB[i].Rule {
			t.Errorf("injection %d: %+v vs %+v", i, injA[i], injB[i])
		}
	}
	if c, _ := run(8, false); c == a {
		t.Errorf("seeds 7 and 8 gave the same faults: %s", a)
	}
	// Rule ids shift by one with the extra rule, so compare with the same ids: the extra
	// rule first in both runs.
	d, _ := run(7, true)
	e, _ := run(7, true)
	if d != e {
		t.Errorf("with an unrelated rule, seed 7 twice:\n%s\n%s", d, e)
	}

	s := endpoint(t)
	if _, err := s.Inject(awsapi.Rule{Operation: "Publish", Fault: awsapi.InternalError, After: 2, Times: 3}); err != nil {
		t.Fatal(err)
	}
	if got := publishes(t, s, 8); got != "..XXX..." {
		t.Errorf("After 2, Times 3: %s", got)
	}
	s.Throttle("Publish", 1)
	if got := publishes(t, s, 2); got != "TT" {
		t.Errorf("Throttle 1: %s", got)
	}
	s.Throttle("Publish", 0)
	if got := publishes(t, s, 2); got != ".." {
		t.Errorf("Throttle 0: %s", got)
	}
	s.Seed(3)
	if _, err := s.Inject(awsapi.Rule{Operation: "Publish", Fault: awsapi.InternalError, P: 0.5, Times: 4}); err != nil {
		t.Fatal(err)
	}
	if got := publishes(t, s, 60); strings.Count(got, "X") != 4 {
		t.Errorf("P 0.5, Times 4: %s", got)
	}
	s.ClearRules()
	if got := publishes(t, s, 3); got != "..." {
		t.Errorf("after ClearRules: %s", got)
	}
	for _, bad := range []awsapi.Rule{{Fault: "Nope"}, {Fault: awsapi.Crash, Operation: "Publish"}, {Fault: awsapi.InternalError, P: 2},
		{Fault: awsapi.InternalError, Function: "summarize"}} {
		if _, err := s.Inject(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

type lambdaError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
	StackTrace   []struct {
		Path, Label string
		Line        int
	} `json:"stackTrace"`
}

// TestFunctionCrashAndTimeout: a crash answers as Lambda answers for a process that died
// (Runtime.ExitError) and a
// timeout as Lambda does (Sandbox.Timedout after the function's timeout); with
// AfterEffects the handler's calls happened although its answer was lost.
func TestFunctionCrashAndTimeout(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := lambda.NewFromConfig(cfg)
	invoke := func(fn, payload string) (*lambda.InvokeOutput, lambdaError) {
		t.Helper()
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		var e lambdaError
		if out.FunctionError != nil {
			_ = json.Unmarshal(out.Payload, &e)
		}
		return out, e
	}
	resolve := `{"instanceId": "` + l.Instances[0].ID + `", "maintenance": {"action": "reboot"}, "dryRun": true}`

	if _, err := l.API.Inject(awsapi.Rule{Fault: awsapi.Crash, Function: "resolve-targets", Times: 1}); err != nil {
		t.Fatal(err)
	}
	out, e := invoke("resolve-targets", resolve)
	if aws.ToString(out.FunctionError) != "Unhandled" || e.ErrorType != "Runtime.ExitError" ||
		!strings.HasSuffix(e.ErrorMessage, "Error: Runtime exited with error: exit status 2") {
		t.Errorf("crash: %v %s", out.FunctionError, out.Payload)
	}
	if out, _ := invoke("resolve-targets", resolve); out.FunctionError != nil {
		t.Errorf("after the crash (a new environment): %s", out.Payload)
	}

	if _, err := l.API.Inject(awsapi.Rule{Fault: awsapi.Timeout, Function: "summarize", Times: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, e = invoke("summarize", `{}`)
	took := time.Since(start)
	if aws.ToString(out.FunctionError) != "Unhandled" || e.ErrorType != "Sandbox.Timedout" ||
		!strings.HasPrefix(e.ErrorMessage, "RequestId: ") || !strings.HasSuffix(e.ErrorMessage, " Error: Task timed out after 10.00 seconds") {
		t.Errorf("timeout: %v %s", out.FunctionError, out.Payload)
	}
	if want := l.Clock.Seconds(10); took < want {
		t.Errorf("the timeout answered after %v, before the function's 10 s (%v at the lab's scale)", took, want)
	}

	// AfterEffects: deregister-target deregisters, and its answer is lost.
	id, arn := l.Instances[1].ID, l.Groups[0].ARN
	if _, err := l.API.Inject(awsapi.Rule{Fault: awsapi.Timeout, Function: "deregister-target", Times: 1, AfterEffects: true}); err != nil {
		t.Fatal(err)
	}
	out, e = invoke("deregister-target", fmt.Sprintf(`{"instanceId": %q, "registrations": [{"targetGroupArn": %q, "port": 8080}]}`, id, arn))
	if e.ErrorType != "Sandbox.Timedout" {
		t.Fatalf("deregister-target: %s", out.Payload)
	}
	h, err := l.LB.DescribeTargetHealth(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range h {
		if th.ID == id && th.State != "draining" {
			t.Errorf("%s is %s: the timed-out handler's deregistration did not happen", id, th.State)
		}
	}
	var kinds []string
	for _, in := range l.Injected() {
		kinds = append(kinds, fmt.Sprintf("%s %s %s", in.Function, in.Fault, in.Code))
	}
	if want := "resolve-targets Crash Runtime.ExitError,summarize Timeout Sandbox.Timedout,deregister-target Timeout Sandbox.Timedout"; strings.Join(kinds, ",") != want {
		t.Errorf("recorded %q, want %q", kinds, want)
	}
}

// TestEC2UnknownAndTerminated: EC2's answers for malformed and unknown ids and for
// stopped and terminated instances, and the DescribeTargetHealth and DeregisterTargets
// answers that go with them.
func TestEC2UnknownAndTerminated(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg)
	_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-nope"}})
	if code(err) != "InvalidInstanceID.Malformed" {
		t.Errorf("malformed id: %v", err)
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{l.Instances[0].ID, "i-0000000000000dead"}})
	if code(err) != "InvalidInstanceID.NotFound" || !strings.Contains(err.Error(), "The instance ID 'i-0000000000000dead' does not exist") {
		t.Errorf("unknown id: %v", err)
	}
	tag := []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"i-0000000000000dead"}, Tags: tag})
	if code(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("tags on an unknown id: %v", err)
	}
	stopped, gone := l.Instances[1].ID, l.Instances[2].ID
	if err := l.StopInstance(stopped); err != nil {
		t.Fatal(err)
	}
	if err := l.TerminateInstance(gone); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{stopped, gone}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range out.Reservations {
		for _, inst := range r.Instances {
			states[*inst.InstanceId] = fmt.Sprintf("%s %d %v", inst.State.Name, aws.ToInt32(inst.State.Code), inst.PrivateIpAddress != nil)
		}
	}
	if states[stopped] != "stopped 80 true" || states[gone] != "terminated 48 false" {
		t.Errorf("states %v", states)
	}
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{gone}, Tags: tag}); err != nil {
		t.Errorf("tags on a terminated instance EC2 still shows: %v", err)
	}

	e := elbv2.NewFromConfig(cfg)
	arn := l.Groups[0].ARN
	h, err := e.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range h.TargetHealthDescriptions {
		if id := *d.Target.Id; (id == stopped || id == gone) && (d.TargetHealth.State != elbtypes.TargetHealthStateEnumUnused || d.TargetHealth.Reason != elbtypes.TargetHealthReasonEnumInvalidState) {
			t.Errorf("%s: %+v, want unused Target.InvalidState", id, d.TargetHealth)
		}
	}
	for _, id := range []string{gone, "i-0000000000000dead"} {
		if _, err := e.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: &arn, Targets: []elbtypes.TargetDescription{{Id: aws.String(id), Port: aws.Int32(8080)}}}); err != nil {
			t.Errorf("DeregisterTargets %s: %v", id, err)
		}
	}
	_, err = e.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &arn, Targets: []elbtypes.TargetDescription{{Id: aws.String(stopped), Port: aws.Int32(8080)}}})
	if !as[*elbtypes.InvalidTargetException](err) || !strings.Contains(err.Error(), "not in a running state") {
		t.Errorf("RegisterTargets of a stopped instance: %v", err)
	}

	// An hour later (here: at once) EC2 no longer shows the terminated instance.
	l.SetTerminatedVisibleSeconds(0)
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{gone}})
	if code(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("a terminated instance an hour later: %v", err)
	}
	_, err = e.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn, Targets: []elbtypes.TargetDescription{{Id: aws.String(gone), Port: aws.Int32(8080)}}})
	if !as[*elbtypes.InvalidTargetException](err) {
		t.Errorf("DescribeTargetHealth of an instance that no longer exists: %v", err)
	}
}
