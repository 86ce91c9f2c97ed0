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

	outFile := filepath.Join(home, "out.json")
	res := run("lambda", "invoke", "--function-name", "resolve-targets", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"instanceId": "bad"}`, outFile)
	body, _ := os.ReadFile(outFile)
	if res["FunctionError"] != "Unhandled" || !strings.Contains(string(body), `"errorType":"InvalidInput"`) {
		t.Errorf("lambda invoke: %v %s", res, body)
	}
}
