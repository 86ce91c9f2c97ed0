package awsapi_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// awsCLI is the official aws CLI from Debian's awscli package (a different aws may come
// first on PATH).
const awsCLI = "/usr/bin/aws"

// TestAWSCLI drives the lab with the official aws CLI, a client the product did not
// write, for every operation the product uses.
func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skip("the aws CLI is not installed (apt-get install awscli); .ci/run installs it")
	}
	l, _ := wireLab(t)
	home := t.TempDir()
	run := func(args ...string) map[string]any {
		t.Helper()
		// aws-cli 2.9 predates AWS_ENDPOINT_URL: name the endpoint explicitly.
		cmd := exec.Command(awsCLI, append(args, "--output", "json", "--no-cli-pager", "--endpoint-url", l.API.URL)...)
		cmd.Env = append(l.API.Env(), "HOME="+home, "PATH=/usr/bin:/bin")
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return v
	}
	web, id := l.Groups[0].ARN, l.Instances[0].ID
	groups := run("elbv2", "describe-target-groups")["TargetGroups"].([]any)
	if len(groups) != 2 {
		t.Errorf("describe-target-groups: %v", groups)
	}
	attrs := run("elbv2", "describe-target-group-attributes", "--target-group-arn", web)["Attributes"].([]any)
	if len(attrs) == 0 {
		t.Error("describe-target-group-attributes: none")
	}
	health := run("elbv2", "describe-target-health", "--target-group-arn", web, "--targets", "Id="+id+",Port=8080")
	if state := health["TargetHealthDescriptions"].([]any)[0].(map[string]any)["TargetHealth"].(map[string]any)["State"]; state != "healthy" {
		t.Errorf("describe-target-health: %v", health)
	}
	run("elbv2", "deregister-targets", "--target-group-arn", web, "--targets", "Id="+id+",Port=8080")
	run("elbv2", "register-targets", "--target-group-arn", web, "--targets", "Id="+id+",Port=8080")

	sent := run("ssm", "send-command", "--document-name", "AWS-RunShellScript", "--instance-ids", id, "--parameters", `commands=["echo from-the-cli"]`)
	cmdID := sent["Command"].(map[string]any)["CommandId"].(string)
	var inv map[string]any
	labtest.WaitFor(t, 20*time.Second, 100*time.Millisecond, "command "+cmdID+" to be Success", func() (bool, any) {
		cmd := exec.Command(awsCLI, "ssm", "get-command-invocation", "--command-id", cmdID, "--instance-id", id, "--output", "json", "--endpoint-url", l.API.URL)
		cmd.Env = append(l.API.Env(), "HOME="+home, "PATH=/usr/bin:/bin")
		out, err := cmd.Output() // InvocationDoesNotExist at first: an error exit
		if err != nil {
			return false, fmt.Sprintf("%v %s", err, out)
		}
		if err := json.Unmarshal(out, &inv); err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		return inv["Status"] == "Success", inv
	})
	if inv["StandardOutputContent"] != "from-the-cli\n" {
		t.Errorf("get-command-invocation: %v", inv)
	}
	run("ssm", "cancel-command", "--command-id", cmdID)

	// Step Functions: start a dry run, follow it to its end, read its history, list it;
	// start a real run and stop it.
	input := fmt.Sprintf(`{"instanceId": %q, "maintenance": {"action": "reboot"}, "dryRun": true}`, id)
	arn := run("stepfunctions", "start-execution", "--state-machine-arn", lab.InstanceStateMachineARN, "--name", "from-the-cli", "--input", input)["executionArn"].(string)
	labtest.WaitFor(t, 60*time.Second, 100*time.Millisecond, "the dry run to succeed", func() (bool, any) {
		d := run("stepfunctions", "describe-execution", "--execution-arn", arn)
		return d["status"] == "SUCCEEDED", d
	})
	// The CLI pages through the history by itself (--page-size 4: a page of 4 a call).
	events := run("stepfunctions", "get-execution-history", "--execution-arn", arn, "--page-size", "4")["events"].([]any)
	if n := len(events); n < 4 || events[0].(map[string]any)["type"] != "ExecutionStarted" || events[n-1].(map[string]any)["type"] != "ExecutionSucceeded" ||
		events[1].(map[string]any)["stateEnteredEventDetails"].(map[string]any)["name"] != "ResolveTargets" {
		t.Errorf("get-execution-history: %v", events)
	}
	reversed := run("stepfunctions", "get-execution-history", "--execution-arn", arn, "--reverse-order", "--max-items", "1")["events"].([]any)
	if len(reversed) != 1 || reversed[0].(map[string]any)["type"] != "ExecutionSucceeded" {
		t.Errorf("get-execution-history --reverse-order: %v", reversed)
	}
	listed := run("stepfunctions", "list-executions", "--state-machine-arn", lab.InstanceStateMachineARN, "--status-filter", "SUCCEEDED")["executions"].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)["executionArn"] != arn {
		t.Errorf("list-executions: %v", listed)
	}
	real := fmt.Sprintf(`{"instanceId": %q, "maintenance": {"action": "reboot"}}`, l.Instances[1].ID)
	stopped := run("stepfunctions", "start-execution", "--state-machine-arn", lab.InstanceStateMachineARN, "--name", "stopped-from-the-cli", "--input", real)["executionArn"].(string)
	run("stepfunctions", "stop-execution", "--execution-arn", stopped, "--error", "Operator", "--cause", "stopped from the CLI")
	if d := run("stepfunctions", "describe-execution", "--execution-arn", stopped); d["status"] != "ABORTED" || d["error"] != "Operator" {
		t.Errorf("stop-execution: %v", d)
	}
	machines := run("stepfunctions", "list-state-machines")["stateMachines"].([]any)
	if len(machines) != 3 {
		t.Errorf("list-state-machines: %v", machines)
	}

	outFile := filepath.Join(home, "out.json")
	res := run("lambda", "invoke", "--function-name", "resolve-targets", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"instanceId": "bad"}`, outFile)
	body, _ := os.ReadFile(outFile)
	if res["FunctionError"] != "Unhandled" || !strings.Contains(string(body), `"errorType":"InvalidInput"`) {
		t.Errorf("lambda invoke: %v %s", res, body)
	}
}
