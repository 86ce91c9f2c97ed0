package lab_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/autoscaling"
	"github.com/drainpipe/drainpipe/lab/sfn"
)

// asgConfig: the demo's three instances in Auto Scaling group web-asg (min 1, max 4),
// attached to the demo's target group, whose health checks replace an instance that stays
// down longer than 10 lab seconds: well inside the demo's 30 s reboot.
func asgConfig(minSize int) lab.Config {
	cfg := lab.Demo()
	cfg.AutoScaling = []lab.ASGSpec{{Name: "web-asg", MinSize: minSize, MaxSize: 4, HealthCheckType: autoscaling.HealthCheckELB,
		HealthCheckGracePeriodSeconds: 10, Instances: []int{0, 1, 2}, TargetGroups: []int{0}}}
	return cfg
}

// asgState is the group's desired capacity and each member's lifecycle state.
func asgState(t *testing.T, l *lab.Lab) (int, map[string]string) {
	t.Helper()
	groups := l.ASG.DescribeAutoScalingGroups([]string{"web-asg"})
	if len(groups) != 1 {
		t.Fatalf("groups %+v", groups)
	}
	states := map[string]string{}
	for _, m := range groups[0].Instances {
		states[m.ID] = m.LifecycleState
	}
	return groups[0].DesiredCapacity, states
}

// TestAutoScalingStandbyKeepsTheInstance: a reboot that lasts three times the group's
// health-check grace period. Rebooted naively, the group replaces the instance; maintained
// by drainpipe, the instance is in Standby while it is out (with the desired capacity one
// lower, so no spare is launched), nothing is replaced, no request is lost, and afterwards
// the instance is InService, the desired capacity is back, and every registration is
// there, once.
func TestAutoScalingStandbyKeepsTheInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := asgConfig(1)
	l := startLab(t, cfg)
	ctx := context.Background()

	// The lab is strict enough to show the danger: rebooted in place, the instance is
	// replaced (terminated) by its group before it is back.
	l.Instances[2].Reboot()
	if err := l.WaitUntil(ctx, 120*time.Second, func() bool { return len(l.ASG.Replaced()) == 1 }); err != nil {
		t.Fatalf("a naive reboot longer than the grace period was not replaced; the test shows nothing: %v", l.ASG.Replaced())
	}
	// The group deregistered it, draining: wait until it is gone from the target group.
	if err := l.WaitUntil(ctx, 120*time.Second, func() bool { return len(l.Registrations()["hello-world"]) == 2 }); err != nil {
		t.Fatalf("the replaced instance is still registered: %v", l.Registrations())
	}

	stop := withTraffic(l)
	var mu sync.Mutex
	inStandby, desiredWhileOut := false, 0
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.Type == "StateEntered" && e.Name == "WaitForMaintenance" {
			for _, g := range l.ASG.DescribeAutoScalingGroups([]string{"web-asg"}) {
				for _, m := range g.Instances {
					if m.ID == l.Instances[0].ID {
						mu.Lock()
						inStandby, desiredWhileOut = m.LifecycleState == autoscaling.Standby, g.DesiredCapacity
						mu.Unlock()
					}
				}
			}
		}
	})
	defer cancel()
	res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "reboot"}}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	// The group's desired capacity stayed 3 through the replacement (AWS would have
	// launched an instance; the lab records it): one lower while the instance is out.
	mu.Lock()
	defer mu.Unlock()
	if !inStandby || desiredWhileOut != 2 {
		t.Errorf("during the maintenance: in Standby %v, desired capacity %d; want Standby and 2", inStandby, desiredWhileOut)
	}
	if got := l.ASG.Replaced(); len(got) != 1 {
		t.Errorf("the group replaced %v: only the naively rebooted instance may be", got)
	}
	desired, states := asgState(t, l)
	if desired != 3 || states[l.Instances[0].ID] != autoscaling.InService {
		t.Errorf("afterwards: desired %d, states %v; want 3 and %s InService", desired, states, l.Instances[0].ID)
	}
	for _, th := range l.Registrations()["hello-world"] {
		if th.ID == l.Instances[0].ID && th.State != "healthy" {
			t.Errorf("registration %+v", th)
		}
	}
	n := 0
	for _, th := range l.Registrations()["hello-world"] {
		if th.ID == l.Instances[0].ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s is registered %d times in hello-world, want once", l.Instances[0].ID, n)
	}
	_ = l.Clock.Sleep(ctx, 5*time.Second)
	assertNoneLost(t, stop())
	assertNothingHeld(t, l)
}

// TestAutoScalingFailedMaintenanceExitsStandby: the maintenance fails, and a second
// execution is stopped in the middle of its maintenance. Both instances leave Standby (the
// rollback; the recovery after the stop), every registration is restored, the desired
// capacity is back, and nothing is replaced or held.
func TestAutoScalingFailedMaintenanceExitsStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := asgConfig(1)
	l := startLab(t, cfg)
	ctx := context.Background()
	res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"echo disk full >&2", "exit 3"}}}, nil)
	if err != nil || res.Error != faults.MaintenanceFailed || !strings.Contains(strings.Join(res.States, " "), "ExitStandbyAfterRestore") {
		t.Fatalf("the failed execution: %v %s %s: %s (states %v)", err, res.Status, res.Error, res.Cause, res.States)
	}

	name := "stopped-in-standby"
	arn := strings.Replace(lab.InstanceStateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	stopped := make(chan struct{})
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.ExecutionARN == arn && e.Type == "StateEntered" && e.Name == "WaitForMaintenance" {
			select {
			case <-stopped:
			default:
				close(stopped)
				_ = l.SFN.StopExecution(arn, "Operator", "stopped by the test")
			}
		}
	})
	defer cancel()
	payload, _ := json.Marshal(map[string]any{"instanceId": l.Instances[1].ID, "pollSeconds": 2, "maintenance": map[string]any{"action": "reboot"}})
	if _, err := l.SFN.StartExecution(lab.InstanceStateMachineARN, name, payload, ""); err != nil {
		t.Fatal(err)
	}
	if res, err := l.SFN.Wait(ctx, arn); err != nil || res.Status != sfn.StatusAborted {
		t.Fatalf("the stopped execution: %v %+v", err, res)
	}
	restore, ok := acting(restoresOf(t, l, arn))
	if !ok || gjsonText(restore.Output, "exitedStandby") != "web-asg" {
		t.Errorf("the restore after the stop: %s", restore.Output)
	}
	assertBack(t, l, cfg)
	desired, states := asgState(t, l)
	for _, inst := range l.Instances {
		if states[inst.ID] != autoscaling.InService {
			t.Errorf("%s is %s", inst.ID, states[inst.ID])
		}
	}
	if desired != 3 || len(l.ASG.Replaced()) != 0 {
		t.Errorf("desired %d (want 3), replaced %v", desired, l.ASG.Replaced())
	}
	assertNothingHeld(t, l)
}

// TestAutoScalingAtMinimumRefuses: a group at its minimum size cannot lose an instance to
// Standby: the execution fails with StandbyRefused before anything is taken out.
func TestAutoScalingAtMinimumRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := asgConfig(3)
	l := startLab(t, cfg)
	res, err := l.MaintainInstance(context.Background(), "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "reboot"}}, nil)
	if err != nil || res.Error != faults.StandbyRefused || !strings.Contains(res.Cause, "minimum size") {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	if calls := l.API.Calls(); calls["DeregisterTargets"] > 0 || calls["SendCommand"] > 0 {
		t.Errorf("something was taken out: %v", calls)
	}
	assertBack(t, l, cfg)
	assertNothingHeld(t, l)
}
