package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/report"
	fleet "github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/statemachine"
)

// standIn replaces the instance state machine in the scale runs: each instance's
// execution succeeds at once with an instance execution's output. Everything else is
// real: the fleet state machine, its functions, the lab's load balancer, EC2, SSM,
// DynamoDB, and Step Functions' quotas.
const standIn = `{"Comment": "A stand-in for the instance state machine: succeeds at once.", "StartAt": "Maintained",
	"States": {"Maintained": {"Type": "Pass", "Parameters": {"instanceId.$": "$.instanceId", "outcome": "maintained",
		"phaseSeconds": {"drain": 0, "maintenance": 0, "returnToHealthy": 0, "outOfService": 0}}, "End": true}}}`

// scaleResult is one scale run: every execution of the fleet state machine (the
// rollout's parts, in order) and the rollout's summary.
type scaleResult struct {
	parts   []sfn.Result
	summary report.Summary
	elapsed time.Duration
}

// maxEvents and maxPayload are the largest history and state of any part.
func (r scaleResult) maxEvents() (n int) {
	for _, p := range r.parts {
		n = max(n, p.Events)
	}
	return n
}

func (r scaleResult) maxPayload() (n int) {
	for _, p := range r.parts {
		n = max(n, p.MaxPayloadBytes)
	}
	return n
}

// scaleLab is a lab of n simulated instances in groups target groups: instance k is in
// group k mod groups, and every tenth also in the next group on another port.
func scaleLab(tb testing.TB, n, groups int) *lab.Lab {
	tb.Helper()
	cfg := lab.Demo()
	cfg.Scale = 0.2
	cfg.Instances = n
	cfg.Simulated = true
	cfg.Groups = nil
	hc := lab.PostHealthCheck
	hc.IntervalSeconds = 5
	for g := range groups {
		cfg.Groups = append(cfg.Groups, lab.GroupSpec{Name: fmt.Sprintf("g%02d", g), Port: 8080, HealthCheck: hc, DeregistrationDelaySeconds: 30})
	}
	for k := range n {
		cfg.Groups[k%groups].Members = append(cfg.Groups[k%groups].Members, lab.Member{Instance: k})
		if k%10 == 0 && groups > 1 {
			cfg.Groups[(k+1)%groups].Members = append(cfg.Groups[(k+1)%groups].Members, lab.Member{Instance: k, Port: 9090})
		}
	}
	l, err := lab.Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.Close)
	if err := l.WaitAllHealthy(context.Background(), 300*time.Second); err != nil {
		tb.Fatal(err)
	}
	if _, err := l.SFN.CreateStateMachine(statemachine.Name(statemachine.MaintainInstance), []byte(standIn)); err != nil {
		tb.Fatal(err)
	}
	return l
}

// scaleRun runs the fleet state machine over every instance of the lab, rebooting each
// (or with the maintenance given).
func scaleRun(tb testing.TB, l *lab.Lab, name string, maxConcurrency int, maintenance ...map[string]any) scaleResult {
	tb.Helper()
	var arns []string
	for _, g := range l.Groups {
		arns = append(arns, g.ARN)
	}
	input := map[string]any{"targetGroupArns": arns, "maintenance": map[string]any{"action": "reboot"},
		"maxConcurrency": maxConcurrency, "minHealthyPercent": 50, "pollSeconds": 5}
	if len(maintenance) > 0 {
		input["maintenance"] = maintenance[0]
	}
	start := time.Now()
	res, err := l.MaintainFleet(context.Background(), name, input, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := scaleResult{elapsed: time.Since(start)}
	if !res.Succeeded {
		tb.Fatalf("the rollout %s: %s: %s", res.Status, res.Error, res.Cause)
	}
	if err := json.Unmarshal(res.Output, &r.summary); err != nil {
		tb.Fatal(err)
	}
	prefix := strings.Replace(lab.FleetStateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	for _, d := range l.SFN.List(lab.FleetStateMachineARN, "") {
		if d.ARN == prefix || strings.HasPrefix(d.ARN, prefix+"-part-") {
			p, err := l.SFN.Wait(context.Background(), d.ARN)
			if err != nil {
				tb.Fatal(err)
			}
			r.parts = append(r.parts, p)
		}
	}
	slices.SortFunc(r.parts, func(a, b sfn.Result) int { return len(a.ARN) - len(b.ARN) })
	return r
}

// TestRolloutOfTenThousand: the fleet state machine over 10,000 instances in 20 groups,
// with the lab enforcing Step Functions' quotas: no state over 256 KiB, no history near
// 25,000 events (the rollout continues as new executions, each within the budget its
// estimate promises), no inline Map over 40. The instance executions are a stand-in
// that succeeds at once (see standIn).
func TestRolloutOfTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := scaleLab(t, 10000, 20)
	r := scaleRun(t, l, "ten-thousand", fleet.MaxWaveSize)
	s := r.summary
	if s.Outcome != "completed" || s.Counts.Succeeded != 10000 || s.Counts.Failed != 0 || s.Counts.Planned != 10000 {
		t.Errorf("summary: %s, %+v", s.Outcome, s.Counts)
	}
	if len(r.parts) < 2 || s.Parts != len(r.parts) {
		t.Errorf("%d parts (the summary says %d): a rollout this long must continue as new executions", len(r.parts), s.Parts)
	}
	for i, p := range r.parts {
		if !p.Succeeded {
			t.Errorf("part %d %s: %s: %s", i+1, p.Status, p.Error, p.Cause)
		}
		if p.Events > fleet.PartEventBudget {
			t.Errorf("part %d recorded %d events, more than the %d its estimate allows", i+1, p.Events, fleet.PartEventBudget)
		}
		if p.MaxPayloadBytes > sfn.PayloadLimit/4 {
			t.Errorf("part %d's largest state is %d bytes; want well under 256 KiB", i+1, p.MaxPayloadBytes)
		}
	}
	if len(s.Instances) > report.ListLimit || !s.Truncated {
		t.Errorf("the summary lists %d instances (truncated %v)", len(s.Instances), s.Truncated)
	}
	t.Logf("10,000 instances, 20 groups, maxConcurrency %d: %d waves, %d parts, largest state %d bytes, most events in a part %d, %v",
		fleet.MaxWaveSize, s.Waves, len(r.parts), r.maxPayload(), r.maxEvents(), r.elapsed.Round(time.Second))
}

// TestWideWaveOfLongCommands: forty instances in a wave, each running a hundred commands
// (6 KB of them): the commands are in the wave's state once, not once per instance, so it
// stays far below 256 KiB.
func TestWideWaveOfLongCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := scaleLab(t, 80, 1)
	var commands []string
	for i := range 100 {
		commands = append(commands, fmt.Sprintf("echo 'step %03d of the maintenance, long enough to count' >/dev/null", i))
	}
	r := scaleRun(t, l, "long-commands", fleet.MaxWaveSize, map[string]any{"action": "commands", "commands": commands})
	if r.summary.Counts.Succeeded != 80 || r.summary.Waves != 2 {
		t.Errorf("summary %+v, %d waves", r.summary.Counts, r.summary.Waves)
	}
	if r.maxPayload() > sfn.PayloadLimit/8 {
		t.Errorf("the largest state is %d bytes", r.maxPayload())
	}
	t.Logf("40 instances a wave with 6 KB of commands each: largest state %d bytes", r.maxPayload())
}
