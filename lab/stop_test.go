package lab_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
	"github.com/drainpipe/drainpipe/lab/traffic"
)

// twoGroups: web (8080) holds instances 0-2; api (9090) holds 0 on port 9091, and 1, 2.
func twoGroups() lab.Config {
	cfg := lab.Demo()
	cfg.Groups = append(cfg.Groups, lab.GroupSpec{Name: "api", Port: 9090, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 20,
		Members: []lab.Member{{Instance: 0, Port: 9091}, {Instance: 1}, {Instance: 2}}})
	return cfg
}

// withTraffic runs requests through every group until the returned stop is called, which
// returns the totals per group.
func withTraffic(l *lab.Lab) (stop func() []traffic.Totals) {
	var gens []*traffic.Generator
	for _, url := range l.URLs {
		g := &traffic.Generator{URL: url, Rate: 100, Clients: 16}
		g.Start(context.Background())
		gens = append(gens, g)
	}
	return func() []traffic.Totals {
		var out []traffic.Totals
		for _, g := range gens {
			g.Stop()
			_, phases := g.Phases()
			out = append(out, phases[""])
		}
		return out
	}
}

// assertNoneLost fails the test for every request a traffic generator saw fail.
func assertNoneLost(t *testing.T, totals []traffic.Totals) {
	t.Helper()
	for _, tot := range totals {
		if tot.Failed() != 0 {
			t.Errorf("%d of %d requests lost: %v", tot.Failed(), tot.Requests, tot.Codes)
		}
	}
}

// restoresOf waits for the restore executions that the end of the execution started and
// returns them: two (the lab delivers every event twice, as EventBridge may), each
// succeeded, at most one of which did something.
func restoresOf(t *testing.T, l *lab.Lab, arn string) []sfn.Result {
	t.Helper()
	var results []sfn.Result
	err := l.WaitUntil(context.Background(), 300*time.Second, func() bool {
		results = nil
		for _, d := range l.SFN.List(lab.RestoreStateMachineARN, "") {
			var ev struct {
				Detail struct {
					ExecutionARN string `json:"executionArn"`
				} `json:"detail"`
			}
			if json.Unmarshal(d.Input, &ev) != nil || ev.Detail.ExecutionARN != arn {
				continue
			}
			if d.Status == sfn.StatusRunning {
				return false
			}
			res, _ := l.SFN.Wait(context.Background(), d.ARN)
			results = append(results, res)
		}
		return len(results) == 2
	})
	if err != nil {
		t.Fatalf("the two restores of %s did not end: %v", arn, err)
	}
	acted := 0
	for _, r := range results {
		if !r.Succeeded {
			t.Errorf("a restore of %s: %s: %s", arn, r.Error, r.Cause)
		}
		if gjsonText(r.Output, "text") != "" {
			acted++
		}
	}
	if acted > 1 {
		t.Errorf("both restores of %s acted", arn)
	}
	return results
}

// acting is the restore that did something, if one did.
func acting(results []sfn.Result) (sfn.Result, bool) {
	for _, r := range results {
		if gjsonText(r.Output, "text") != "" {
			return r, true
		}
	}
	return sfn.Result{}, false
}

// assertBack: every registration of the configuration is there again, on its exact port,
// and healthy; no reservation is left.
func assertBack(t *testing.T, l *lab.Lab, cfg lab.Config) {
	t.Helper()
	if err := l.WaitAllHealthy(context.Background(), 120*time.Second); err != nil {
		t.Error(err)
	}
	for gi, g := range cfg.Groups {
		got := l.Registrations()[g.Name]
		for _, m := range g.Members {
			port := m.Port
			if port == 0 {
				port = g.Port
			}
			id := l.Instances[m.Instance].ID
			if !slices.ContainsFunc(got, func(th elb.TargetHealth) bool {
				return th.ID == id && int(th.Port) == port && th.State == elb.StateHealthy
			}) {
				t.Errorf("%s is not back, healthy, in %s on port %d: %+v", id, cfg.Groups[gi].Name, port, got)
			}
		}
		if len(got) != len(g.Members) {
			t.Errorf("%s has %d registrations, want %d: %+v", g.Name, len(got), len(g.Members), got)
		}
	}
	if held := capacityItems(l, "instance#"); len(held) != 0 {
		t.Errorf("reservations left: %v", held)
	}
	for _, g := range capacityItems(l, "group#") {
		if out, _ := g["out"].(*ddbtypes.AttributeValueMemberM); out != nil && len(out.Value) != 0 {
			t.Errorf("a group ledger still holds %d instance(s): %v", len(out.Value), out.Value)
		}
	}
}

// TestStoppedExecutionIsRestored: an instance execution stopped in each phase after its
// deregistration (no Catch runs) has its instance registered again on its exact ports by
// the restore state machine, its reservation released and a notification saying so; the
// clients lose no request. Stopped as DeregisterTarget starts, its call runs on after the
// stop: the restore waits it out.
func TestStoppedExecutionIsRestored(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for _, phase := range []struct {
		name, state string
		extra       map[string]any
	}{
		{"deregistering", "DeregisterTarget", nil}, {"draining", "CheckDrain", nil}, {"maintenance", "WaitForMaintenance", nil},
		{"health check", "WaitForHealthCheck", nil}, {"returning", "WaitForFirstHealthCheck", nil},
		// The idle drain's command runs on the instance, and never finds it idle.
		{"idle drain", "WaitForDrain", map[string]any{"drain": map[string]any{"idleCheck": []string{"false"}, "propagationSeconds": 1}}},
	} {
		t.Run(phase.name, func(t *testing.T) {
			t.Parallel()
			cfg := twoGroups()
			l := startLab(t, cfg)
			stop := withTraffic(l)
			input := map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2,
				"healthCheck": map[string]any{"commands": []string{"curl -fsS http://${INSTANCE_IP:-localhost}:8080/"}}}
			maps.Copy(input, phase.extra)
			name := "stop-" + strings.ReplaceAll(phase.name, " ", "-")
			arn := strings.Replace(lab.InstanceStateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
			stopped := make(chan struct{})
			cancel := l.SFN.Subscribe(func(e sfn.Event) {
				if e.ExecutionARN == arn && e.Type == "StateEntered" && e.Name == phase.state {
					select {
					case <-stopped:
					default:
						close(stopped)
						_ = l.SFN.StopExecution(arn, "Operator", "stopped by the test in "+phase.name)
					}
				}
			})
			defer cancel()
			payload, _ := json.Marshal(input)
			if _, err := l.SFN.StartExecution(lab.InstanceStateMachineARN, name, payload, ""); err != nil {
				t.Fatal(err)
			}
			res, err := l.SFN.Wait(context.Background(), arn)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != sfn.StatusAborted || slices.Contains(res.States, "RestoreTarget") {
				t.Fatalf("%s, states %v: want ABORTED in %s with no rollback of its own", res.Status, res.States, phase.state)
			}
			restore, ok := acting(restoresOf(t, l, arn))
			if !ok {
				t.Fatalf("no restore put %s back", l.Instances[0].ID)
			}
			var rep struct {
				Registrations []struct {
					TargetGroupArn string `json:"targetGroupArn"`
					Port           int    `json:"port"`
				} `json:"registrations"`
				Released struct{ Instance bool } `json:"released"`
			}
			_ = json.Unmarshal(restore.Output, &rep)
			if len(rep.Registrations) != 2 || !rep.Released.Instance {
				t.Errorf("restore output %s", restore.Output)
			}
			assertBack(t, l, cfg)
			if phase.extra != nil {
				// Nothing of the idle check runs on once the instance is back: the restore
				// cancels it, or its own timeout (the delay left after the propagation wait,
				// here 29 lab s) has ended it already.
				for _, inv := range l.SSM.Commands(l.Instances[0].ID) {
					if inv.Status == ssm.StatusInProgress || inv.Status == ssm.StatusPending {
						t.Errorf("%s (%s) still %s after the restore", inv.CommandID, inv.Comment, inv.Status)
					}
				}
			}
			_ = l.Clock.Sleep(context.Background(), 5*time.Second)
			for i, tot := range stop() {
				if tot.Failed() != 0 {
					t.Errorf("group %d: %d of %d requests lost: %v", i, tot.Failed(), tot.Requests, tot.Codes)
				}
			}
			msgs := l.API.SNS.Messages()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "Registered it again on hello-world:8080, api:9091") {
				t.Errorf("notifications %+v", msgs)
			}
		})
	}
}

// TestStoppedFleetIsRestored: a fleet stopped mid-wave stops its child executions; each
// child's instance is registered again, the rollout's leases and the children's
// reservations are released, and the notifications say so.
func TestStoppedFleetIsRestored(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := groupsOf(6)
	l := startLab(t, cfg)
	stop := withTraffic(l)
	arn := strings.Replace(lab.FleetStateMachineARN, ":stateMachine:", ":execution:", 1) + ":stopped-fleet"
	inMaintenance := map[string]bool{}
	stopped := make(chan struct{})
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.Root != arn || e.Type != "StateEntered" || e.Name != "WaitForMaintenance" {
			return
		}
		inMaintenance[e.InstanceID] = true
		if len(inMaintenance) == 2 {
			select {
			case <-stopped:
			default:
				close(stopped)
				_ = l.SFN.StopExecution(arn, "Operator", "stopped mid-wave by the test")
			}
		}
	})
	defer cancel()
	payload, _ := json.Marshal(fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50}))
	if _, err := l.SFN.StartExecution(lab.FleetStateMachineARN, "stopped-fleet", payload, ""); err != nil {
		t.Fatal(err)
	}
	res, err := l.SFN.Wait(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sfn.StatusAborted {
		t.Fatalf("the fleet ended %s (%s: %s), want ABORTED", res.Status, res.Error, res.Cause)
	}
	fleetRestores := restoresOf(t, l, arn)
	if r, ok := acting(fleetRestores); !ok || !strings.Contains(string(r.Output), "leasesReleased") {
		t.Errorf("the fleet's restores: %+v", fleetRestores)
	}
	var children []string
	for _, d := range l.SFN.List(lab.InstanceStateMachineARN, "") {
		if desc, _ := l.SFN.Describe(d.ARN); desc.Parent == arn {
			children = append(children, d.ARN)
			if d.Status != sfn.StatusAborted {
				t.Errorf("child %s ended %s, want ABORTED with its parent", d.ARN, d.Status)
			}
		}
	}
	if len(children) != 2 {
		t.Fatalf("%d children, want the wave's 2", len(children))
	}
	// Each child's instance is put back once: by the fleet's restore or by the child's
	// own, whichever comes first (the other finds the reservation released).
	restored := map[string]int{}
	for _, r := range fleetRestores {
		for id := range inMaintenance {
			if strings.Contains(string(r.Output), `"registrations"`) && strings.Contains(gjsonText(r.Output, "text"), id) {
				restored[id]++
			}
		}
	}
	for _, c := range children {
		for _, r := range restoresOf(t, l, c) {
			var rep struct {
				InstanceID    string `json:"instanceId"`
				Registrations []any  `json:"registrations"`
			}
			_ = json.Unmarshal(r.Output, &rep)
			if len(rep.Registrations) > 0 {
				restored[rep.InstanceID]++
			}
		}
	}
	for id := range inMaintenance {
		if restored[id] != 1 {
			t.Errorf("%s restored %d times, want once: %v", id, restored[id], restored)
		}
	}
	assertBack(t, l, cfg)
	if held := leaseItems(l); len(held) != 0 {
		t.Errorf("leases left: %v", held)
	}
	_ = l.Clock.Sleep(context.Background(), 5*time.Second)
	if tot := stop()[0]; tot.Failed() != 0 {
		t.Errorf("%d of %d requests lost: %v", tot.Failed(), tot.Requests, tot.Codes)
	}
	// The notifications say so: the rollout's, listing what it restored, and each child's
	// own for an instance its restore put back.
	var rollout int
	said := map[string]bool{}
	for _, m := range l.API.SNS.Messages() {
		if strings.Contains(m.Body, "Released its lease(s) on "+cfg.Groups[0].Name) {
			rollout++
		}
		for id := range inMaintenance {
			if strings.Contains(m.Body, id) && (strings.Contains(m.Body, "registered again") || strings.Contains(m.Body, "Registered it again")) {
				said[id] = true
			}
		}
	}
	if rollout != 1 || len(said) != 2 {
		t.Errorf("notifications: %d for the rollout, instances named %v; want 1 and both: %+v", rollout, said, l.API.SNS.Messages())
	}
}

// gjsonText is a string field of a JSON object.
func gjsonText(raw []byte, field string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	s, _ := m[field].(string)
	return s
}

// TestRestoreByHand is the README's way to put back what an execution no longer running
// holds when its event was lost: start the restore state machine with the execution's ARN
// and input, as EventBridge would have.
func TestRestoreByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := twoGroups()
	l := startLab(t, cfg)
	ctx := context.Background()
	awsCfg, err := l.API.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ghost := strings.Replace(lab.InstanceStateMachineARN, ":stateMachine:", ":execution:", 1) + ":lost-event"
	inst := l.Instances[0].ID
	regs := []workflow.Registration{{TargetGroupARN: l.Groups[0].ARN, Port: 8080}, {TargetGroupARN: l.Groups[1].ARN, Port: 9091}}
	var s workflow.State
	s.InstanceID, s.Registrations = inst, regs
	res, err := capacity.Reserver{DB: awsdynamodb.NewFromConfig(awsCfg), Health: targets.NewChecker(awsCfg)}.Reserve(ctx,
		capacity.Request{State: s, Execution: ghost, Table: lab.CapacityTable})
	if err != nil || !res.Reserved {
		t.Fatalf("reserving: %+v, %v", res, err)
	}
	if err := l.LB.DeregisterTargets(l.Groups[0].ARN, []elb.TargetRef{{ID: inst}}); err != nil {
		t.Fatal(err)
	}
	if err := l.LB.DeregisterTargets(l.Groups[1].ARN, []elb.TargetRef{{ID: inst, Port: 9091}}); err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{"instanceId": inst})
	event, _ := json.Marshal(map[string]any{"detail": map[string]any{"executionArn": ghost, "status": "ABORTED", "input": string(input)}})
	restore, err := l.SFN.StartExecution(lab.RestoreStateMachineARN, "by-hand", event, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.SFN.Wait(ctx, restore.ARN)
	if err != nil || !out.Succeeded {
		t.Fatalf("the restore: %+v, %v", out, err)
	}
	assertBack(t, l, cfg)
}
