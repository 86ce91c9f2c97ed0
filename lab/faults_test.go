package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// TestFunctionFaultsAsStepFunctionsNamesThem: what a Task sees of each injected fault on
// Invoke, through the real engine: a crash by the panic's type (errorString), a timeout as
// Sandbox.Timedout, Lambda's service errors under the names Step Functions gives them
// (Lambda.ServiceException, Lambda.TooManyRequestsException, and Lambda.AWSLambdaException
// for a code Lambda's model does not declare, such as AccessDeniedException), with the
// Java SDK's cause; and a Task's own TimeoutSeconds, shorter than the function's run, as
// States.Timeout.
func TestFunctionFaultsAsStepFunctionsNamesThem(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l, err := lab.Start(lab.Demo())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	def := func(timeout int) []byte {
		return fmt.Appendf(nil, `{"StartAt": "Resolve", "States": {
			"Resolve": {"Type": "Task", "Resource": "${ResolveTargetsFunctionArn}", "TimeoutSeconds": %d,
				"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": true},
			"Caught": {"Type": "Pass", "End": true}}}`, timeout)
	}
	input := map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}, "dryRun": true}
	for _, c := range []struct {
		fault      awsapi.Fault
		timeout    int
		error      string
		cause      []string
		afterwards bool // the next run succeeds (a crash or timeout restarts the environment)
	}{
		{awsapi.Crash, 120, "Runtime.ExitError", []string{`"errorType":"Runtime.ExitError"`, "Runtime exited with error: exit status 2"}, true},
		{awsapi.Timeout, 120, "Sandbox.Timedout", []string{`"errorType":"Sandbox.Timedout"`, "Task timed out after 60.00 seconds"}, true},
		{awsapi.Timeout, 1, "States.Timeout", nil, true},
		{awsapi.InternalError, 120, "Lambda.ServiceException", []string{"(Service: AWSLambda; Status Code: 500; Error Code: ServiceException;"}, false},
		{awsapi.Throttling, 120, "Lambda.TooManyRequestsException", []string{"Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException;"}, false},
		{awsapi.AccessDenied, 120, "Lambda.AWSLambdaException", []string{"is not authorized to perform: lambda:InvokeFunction", "Status Code: 403; Error Code: AccessDeniedException;"}, false},
		{awsapi.ServiceUnavailable, 120, "Lambda.AWSLambdaException", []string{"Status Code: 503; Error Code: ServiceUnavailable;"}, false},
	} {
		name := fmt.Sprintf("%s in %d s", c.fault, c.timeout)
		// Always: the engine's own SDK client retries, as Step Functions' may.
		id, err := l.API.Inject(awsapi.Rule{Operation: "Invoke", Function: "resolve-targets", Fault: c.fault})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.RunDefinition(context.Background(), "faulty", def(c.timeout), input, nil)
		l.API.Remove(id)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Error struct{ Error, Cause string } `json:"error"`
		}
		_ = json.Unmarshal(res.Output, &out)
		if !res.Succeeded || out.Error.Error != c.error {
			t.Errorf("%s: caught %q (%s), want %s", name, out.Error.Error, out.Error.Cause, c.error)
		}
		for _, want := range c.cause {
			if !strings.Contains(out.Error.Cause, want) {
				t.Errorf("%s: cause %s lacks %s", name, out.Error.Cause, want)
			}
		}
	}
	res, err := l.RunDefinition(context.Background(), "faulty", def(120), input, nil)
	if err != nil || !res.Succeeded || strings.Contains(string(res.Output), `"error"`) {
		t.Errorf("without faults: %+v %v", res, err)
	}
}

// TestInstanceTerminatedMidMaintenance terminates the instance while its maintenance
// command runs, and checks that the world answers as AWS does (EC2 says terminated, the
// command's invocation stays InProgress until it expires, the registration is unused
// with Target.InvalidState, the instance gets no traffic) and that the product ends with
// a named outcome and nothing held.
func TestInstanceTerminatedMidMaintenance(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	ctx := context.Background()
	victim := l.Instances[0].ID
	input := map[string]any{"instanceId": victim, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"sleep 100"}, "timeoutSeconds": 60}}
	done := make(chan sfn.Result, 1)
	go func() {
		res, err := l.MaintainInstance(ctx, "", input, nil)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var cmd ssm.Invocation
	if err := l.WaitUntil(ctx, 300*time.Second, func() bool {
		for _, inv := range l.SSM.Sent() {
			if inv.InstanceID == victim && inv.Status == ssm.StatusInProgress {
				cmd = inv
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the maintenance command never ran: %v", err)
	}
	if err := l.TerminateInstance(victim); err != nil {
		t.Fatal(err)
	}
	if got := l.InstanceState(victim); got != elb.InstanceTerminated {
		t.Errorf("EC2 state %s", got)
	}
	for _, th := range l.Registrations()[l.Config.Groups[0].Name] {
		if th.ID == victim && th.State != elb.StateDraining && (th.State != elb.StateUnused || th.Reason != elb.ReasonInvalidState) {
			t.Errorf("the terminated target is %s/%s", th.State, th.Reason)
		}
	}
	for _, inv := range l.SSM.Sent() {
		if inv.CommandID == cmd.CommandID && inv.Status != ssm.StatusInProgress {
			t.Errorf("the command right after the termination: %s (%s)", inv.Status, inv.StatusDetails)
		}
	}
	var res sfn.Result
	select {
	case res = <-done:
	case <-time.After(l.Clock.Seconds(3600)):
		t.Fatal("the execution did not end within an hour of lab time")
	}
	inv, _ := l.SSM.GetCommandInvocation(cmd.CommandID, victim)
	t.Logf("command %s ended %s (%s)", cmd.CommandID, inv.Status, inv.StatusDetails)
	// The product: the command ends as the agent never reports (TimedOut), the rollback
	// finds nothing to put back (ELB refuses a terminated instance), gives the reservation
	// back and fails with the maintenance's error, the cause saying both; the restores the
	// end started find nothing held.
	if res.Succeeded || res.Error != "MaintenanceFailed" || !strings.Contains(res.Cause, "could not be registered again") ||
		!slices.Contains(res.States, "NothingToRestore") {
		t.Errorf("execution: %v %s: %s; states %v", res.Succeeded, res.Error, res.Cause, res.States[max(0, len(res.States)-6):])
	}
	assertNothingHeld(t, l)
	for _, in := range l.Injected() {
		t.Logf("injected: %+v", in)
	}
}

// assertNothingHeld waits for every execution to end (the restores included) and checks
// that each restore succeeded, and that no reservation or lease is left.
func assertNothingHeld(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.WaitUntil(context.Background(), 600*time.Second, func() bool { return len(running(l)) == 0 }); err != nil {
		t.Errorf("executions still running: %v", running(l))
	}
	for _, d := range l.SFN.List(lab.RestoreStateMachineARN, "") {
		if d.Status != sfn.StatusSucceeded {
			t.Errorf("restore %s: %s %s %s", d.Name, d.Status, d.Error, d.Cause)
		}
	}
	for _, prefix := range []string{"instance#", "lease#"} {
		if held := capacityItems(l, prefix); len(held) != 0 {
			t.Errorf("%s items left: %v", prefix, held)
		}
	}
	for _, item := range capacityItems(l, "group#") {
		if out, ok := item["out"].(*ddbtypes.AttributeValueMemberM); ok && len(out.Value) > 0 {
			t.Errorf("a group ledger still counts %v out", slices.Collect(maps.Keys(out.Value)))
		}
	}
}

// TestTargetGroupDeletedMidMaintenance deletes the instance's target group while its
// maintenance command runs: every ELB call naming the group then answers
// TargetGroupNotFound, and the product ends with that name and nothing held.
func TestTargetGroupDeletedMidMaintenance(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	ctx := context.Background()
	id, arn := l.Instances[0].ID, l.Groups[0].ARN
	input := map[string]any{"instanceId": id, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"sleep 0.5"}, "timeoutSeconds": 60}}
	done := make(chan sfn.Result, 1)
	go func() {
		res, err := l.MaintainInstance(ctx, "", input, nil)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	if err := l.WaitUntil(ctx, 300*time.Second, func() bool { return len(l.SSM.Commands(id)) > 0 }); err != nil {
		t.Fatalf("the maintenance command was never sent: %v", err)
	}
	if err := l.DeleteTargetGroup(arn); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LB.DescribeTargetHealth(arn, nil); err == nil || !strings.Contains(err.Error(), "TargetGroupNotFound") {
		t.Errorf("DescribeTargetHealth of the deleted group: %v", err)
	}
	res := <-done
	// The product: registering the instance again meets the deleted group; there is
	// nothing to put back there, so the reservation is given back and the execution fails
	// with TargetGroupNotFound.
	if res.Succeeded || res.Error != "TargetGroupNotFound" || !slices.Contains(res.States, "NothingToRestore") {
		t.Errorf("execution: %v %s: %s; states %v", res.Succeeded, res.Error, res.Cause, res.States[max(0, len(res.States)-6):])
	}
	assertNothingHeld(t, l)
	if got := l.Injected(); len(got) != 1 || got[0].Fault != "DeleteTargetGroup" || got[0].Target != arn {
		t.Errorf("recorded %+v", got)
	}
}
