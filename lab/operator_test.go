package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/cli"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/statemachine"
)

// TestOperatorCommand drives the lab with the drainpipe command's own code, as an
// operator would drive AWS: validate and plan a fleet input, start it (twice: the second
// start finds the first), watch it to its end, list the history and the reservations;
// start another and abort it, and find every instance put back; and the refusals, which
// send nothing.
func TestOperatorCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	ctx := context.Background()
	awsCfg, err := l.API.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, v any) string {
		raw, _ := json.Marshal(v)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cli.Run(ctx, cli.Env{Config: awsCfg, Stdout: &out, Stderr: &errOut, Poll: 100 * time.Millisecond}, args)
		return code, out.String(), errOut.String()
	}
	fleet := write("fleet.json", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50}))
	if code, out, errOut := run("validate", "fleet", fleet); code != cli.ExitOK || out != "valid\n" {
		t.Errorf("validate: %d %q %q", code, out, errOut)
	}
	code, out, errOut := run("plan", fleet)
	t.Logf("plan:\n%s", out)
	if code != cli.ExitOK || !strings.Contains(out, "plan: 3 wave(s)") || !strings.Contains(out, "1 out, 2 of 3 healthy left (floor 2)") {
		t.Errorf("plan: %d\n%s%s", code, out, errOut)
	}
	assertNoChange(t, l)

	// A step of Step Functions' trouble mid-watch: one poll's reads of a history fail
	// through all of the SDK's retries; watch says so, tries again, and goes on.
	l.API.Inject(awsapi.Rule{Service: awsapi.ServiceStepFunctions, Operation: "GetExecutionHistory", Fault: awsapi.ServiceUnavailable, After: 3, Times: 3})
	code, out, errOut = run("start", "fleet", fleet, "--name", "ops", "--wait")
	t.Logf("start --wait:\n%s", out)
	if !strings.Contains(errOut, "trying again in") {
		t.Errorf("start --wait did not ride out a failed read: %s", errOut)
	}
	if code != cli.ExitOK || !strings.Contains(out, "started arn:") || !regexp.MustCompile(`ops SUCCEEDED after [0-9.:s]+: 3 done, 0 failed\n$`).MatchString(out) ||
		!strings.Contains(out, "hello-world 2/3 healthy (floor 2)") || !strings.Contains(out, "hello-world 3/3 healthy (floor 2)") || !strings.Contains(out, "wave 3 of 3 done") {
		t.Errorf("start --wait: %d\n%s%s", code, out, errOut)
	}
	// Each instance's phases, in order, from its execution's history.
	for _, inst := range l.Instances {
		draining, maintenance, done := strings.Index(out, inst.ID+" draining"), strings.Index(out, inst.ID+" maintenance (draining took"), strings.Index(out, inst.ID+" done")
		if draining < 0 || maintenance < draining || done < maintenance {
			t.Errorf("start --wait: %s's phases are not draining, maintenance, done:\n%s", inst.ID, out)
		}
	}
	// watch --output json of an execution that ended: one object, every instance done.
	code, out, _ = run("watch", "ops", "--output", "json")
	var watched struct {
		Status    string
		Instances []struct{ InstanceID, Phase string }
		Groups    []struct{ Healthy, Targets, MinHealthy int }
	}
	if err := json.Unmarshal([]byte(out), &watched); code != cli.ExitOK || err != nil || watched.Status != "SUCCEEDED" || len(watched.Instances) != 3 ||
		watched.Instances[2].Phase != "done" || len(watched.Groups) != 1 || watched.Groups[0].Healthy != 3 || watched.Groups[0].MinHealthy != 2 {
		t.Errorf("watch --output json: %d %v %s", code, err, out)
	}
	if code, out, errOut := run("start", "fleet", fleet, "--name", "ops", "--output", "json"); code != cli.ExitOK || !strings.Contains(out, `"alreadyStarted":true`) ||
		!strings.Contains(errOut, "ops ran this input already (ended SUCCEEDED") {
		t.Errorf("a repeated start: %d %s %s", code, out, errOut)
	}
	other := write("other.json", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50}))
	if code, _, errOut := run("start", "fleet", other, "--name", "ops"); code != cli.ExitUsage || !strings.Contains(errOut, `the name "ops" is taken by an execution with another input`) {
		t.Errorf("a name taken by another input: %d %s", code, errOut)
	}
	if code, out, _ := run("history"); code != cli.ExitOK || !strings.Contains(out, "ops") || !strings.Contains(out, "completed (3 planned, 3 succeeded, 0 failed, 0 skipped)") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if code, out, _ := run("reservations"); code != cli.ExitOK || out != "no instance is reserved out of service\n" {
		t.Errorf("reservations: %d %q", code, out)
	}

	// A lone instance whose input names no group: watch shows the groups it is taken
	// out of, found as its execution found them.
	lone := write("lone.json", map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2})
	code, out, errOut = run("start", "instance", lone, "--wait")
	if code != cli.ExitOK || !strings.Contains(out, "hello-world 2/3 healthy") || !strings.Contains(out, l.Instances[0].ID+" done") {
		t.Errorf("start instance --wait: %d\n%s%s", code, out, errOut)
	}

	// Abort a rollout while an instance is out: every instance is put back.
	started := make(chan int, 1)
	go func() { code, _, _ := run("start", "fleet", fleet, "--name", "aborted", "--wait"); started <- code }()
	if err := l.WaitUntil(ctx, 300*time.Second, func() bool { return inMaintenance(l) }); err != nil {
		t.Fatal("no instance was ever in maintenance")
	}
	if _, out, _ := run("reservations"); !strings.Contains(out, "held by") || !strings.Contains(out, "lease on") {
		t.Errorf("reservations, mid-maintenance:\n%s", out)
	}
	code, out, errOut = run("abort", "aborted")
	if code != cli.ExitOK || !strings.Contains(out, "none of its instances is held out of service") || !strings.Contains(errOut, "stopped arn:") {
		t.Errorf("abort: %d\n%s%s", code, out, errOut)
	}
	if code := <-started; code != cli.ExitFailed {
		t.Errorf("the aborted start exited %d", code)
	}
	assertBack(t, l, cfg)

	// Refusals: nothing is started.
	before := len(l.SFN.List("", ""))
	bad := write("bad.json", map[string]any{"targetGroupArns": []string{}, "maintenance": map[string]any{"action": "reboot"}})
	if code, _, errOut := run("start", "fleet", bad); code != cli.ExitUsage || !strings.Contains(errOut, "minItems") {
		t.Errorf("a bad input: %d %s", code, errOut)
	}
	if code, _, errOut := run("history", "--prefix", "nope"); code != cli.ExitAWS || !strings.Contains(errOut, "no state machine nope-maintain-fleet") {
		t.Errorf("no deployment: %d %s", code, errOut)
	}
	if code, _, _ := run("start", "rocket", fleet); code != cli.ExitUsage {
		t.Errorf("an unknown kind: %d", code)
	}
	if n := len(l.SFN.List("", "")); n != before {
		t.Errorf("the refusals started %d executions", n-before)
	}
}

// inMaintenance reports whether an instance execution is in its maintenance phase now,
// by the lab's record of its states.
func inMaintenance(l *lab.Lab) bool {
	for _, d := range l.SFN.List(lab.InstanceStateMachineARN, sfn.StatusRunning) {
		events, _ := l.SFN.History(d.ARN)
		for _, e := range slices.Backward(events) {
			if e.Type == "StateEntered" {
				if statemachine.InstancePhase(e.Name) == statemachine.PhaseMaintenance {
					return true
				}
				break
			}
		}
	}
	return false
}
