package lab_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// raceConfig: four groups of 2 to 4 instances (a, b: 2; c: 3; d: 4).
func raceConfig() (lab.Config, []int) {
	sizes := []int{2, 2, 3, 4}
	return groupsOf(sizes...), sizes
}

// groupsOf is the demo's lab with one target group per size (g0, g1, ..., port 8080, the
// demo's health check and a 30 s delay), each of that many instances of its own, numbered
// in order.
func groupsOf(sizes ...int) lab.Config {
	cfg := lab.Demo()
	cfg.Instances = 0
	cfg.Groups = nil
	for i, n := range sizes {
		g := lab.GroupSpec{Name: fmt.Sprintf("g%d", i), Port: 8080, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 30}
		for range n {
			g.Members = append(g.Members, lab.Member{Instance: cfg.Instances})
			cfg.Instances++
		}
		cfg.Groups = append(cfg.Groups, g)
	}
	return cfg
}

// TestConcurrentExecutionsKeepTheFloor is the race that took groups to zero healthy
// targets: every instance's execution started at the same moment, with DeregisterTargets
// and DynamoDB throttled. Groups a and b (two instances each) keep the default floor of a
// lone execution, one healthy target; c and d set floors of 2 and 3 in the input. In each
// round each group maintains an instance and every execution that does not is refused
// with CapacityUnavailable, naming the holder, before any change (an execution slowed by
// throttling may find the capacity free again and maintain its instance after the first:
// what may never happen is two out at once); the load balancer's own record never shows
// a group below its floor, and no client request is lost.
func TestConcurrentExecutionsKeepTheFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	const rounds = 10
	cfg, sizes := raceConfig()
	floors := []int{1, 1, 2, 3}
	l := startLab(t, cfg)
	l.API.Throttle("DeregisterTargets", 0.3)
	for _, op := range []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem"} {
		l.API.Throttle(op, 0.2)
	}
	stop := withTraffic(l)
	groupOf := map[string]int{}
	for gi, g := range cfg.Groups {
		for _, m := range g.Members {
			groupOf[l.Instances[m.Instance].ID] = gi
		}
	}
	start := l.Clock.Since()
	refused := 0
	for round := range rounds {
		if err := l.WaitAllHealthy(context.Background(), 120*time.Second); err != nil {
			t.Fatal(err)
		}
		boots := map[string]int{}
		for _, inst := range l.Instances {
			boots[inst.ID] = inst.Boots()
		}
		results := make([]sfn.Result, len(l.Instances))
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i, inst := range l.Instances {
			in := map[string]any{"instanceId": inst.ID, "targetGroupArns": []string{l.Groups[groupOf[inst.ID]].ARN},
				"maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2}
			if g := groupOf[inst.ID]; floors[g] > 1 {
				in["minHealthyTargets"] = map[string]int{l.Groups[g].ARN: floors[g]}
			}
			wg.Go(func() {
				<-gate // all at the same moment
				res, err := l.MaintainInstance(context.Background(), fmt.Sprintf("race-%d-%d", round, i), in, nil)
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			})
		}
		close(gate)
		wg.Wait()
		won, lost := make([]int, len(sizes)), make([]int, len(sizes))
		for i, res := range results {
			inst := l.Instances[i]
			switch {
			case res.Succeeded:
				won[groupOf[inst.ID]]++
				if inst.Boots() != boots[inst.ID]+1 {
					t.Errorf("round %d: %s maintained but booted %d times", round, inst.ID, inst.Boots()-boots[inst.ID])
				}
			case res.Error == "CapacityUnavailable":
				lost[groupOf[inst.ID]]++
				if slices.Contains(res.States, "DeregisterTarget") || inst.Boots() != boots[inst.ID] {
					t.Errorf("round %d: %s was refused after a change: %v", round, inst.ID, res.States)
				}
				if !strings.Contains(res.Cause, ":execution:drainpipe-maintain-instance:race-") {
					t.Errorf("round %d: the refusal does not name the holder: %s", round, res.Cause)
				}
			default:
				t.Errorf("round %d: %s ended %s %s: %s", round, inst.ID, res.Status, res.Error, res.Cause)
			}
		}
		for g, n := range won {
			if n == 0 || n+lost[g] != sizes[g] {
				t.Errorf("round %d: group %s maintained %d and refused %d of %d", round, cfg.Groups[g].Name, n, lost[g], sizes[g])
			}
			refused += lost[g]
		}
	}
	if refused < rounds*(len(l.Instances)-len(sizes))/2 {
		t.Errorf("only %d executions refused over %d rounds: the executions hardly raced", refused, rounds)
	}
	t.Logf("%d rounds: %d executions refused with CapacityUnavailable", rounds, refused)
	if err := l.WaitAllHealthy(context.Background(), 120*time.Second); err != nil {
		t.Error(err)
	}
	for gi, g := range l.Groups {
		low := sizes[gi]
		for _, s := range g.History() {
			if s.At >= start {
				low = min(low, s.Healthy)
			}
		}
		if low < floors[gi] {
			t.Errorf("group %s fell to %d healthy targets; its floor is %d", g.Config().Name, low, floors[gi])
		}
		if low == sizes[gi] {
			t.Errorf("group %s never had a target out: the rounds tested nothing", g.Config().Name)
		}
	}
	_ = l.Clock.Sleep(context.Background(), 5*time.Second)
	for i, tot := range stop() {
		if tot.Failed() != 0 || tot.Requests < 1000 {
			t.Errorf("group %s: %d of %d requests lost: %v", cfg.Groups[i].Name, tot.Failed(), tot.Requests, tot.Codes)
		}
	}
	if calls := l.API.Calls(); calls["DeregisterTargets"] < rounds*len(sizes) || calls["UpdateItem"] < rounds*len(l.Instances) {
		t.Errorf("calls %v: the throttled operations were hardly used", calls)
	}
	assertBack(t, l, cfg)
}

// TestConsoleExecutionDuringARollout: while a fleet rollout has instances out, an
// instance execution started from the console on the same group is held to the fleet's
// floor, not only to its own: it is refused at once, or, allowed to wait, runs when the
// capacity is there. The load balancer never shows the group below the fleet's floor.
func TestConsoleExecutionDuringARollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := groupsOf(8)
	l := startLab(t, cfg)
	stop := withTraffic(l)
	start := l.Clock.Since()
	// The fleet: 75% of 8 healthy stay in, so 6; two out at a time. Instances 6 and 7 are
	// left to the console.
	var fleetIDs []string
	for _, inst := range l.Instances[:6] {
		fleetIDs = append(fleetIDs, inst.ID)
	}
	fleetARN := strings.Replace(lab.FleetStateMachineARN, ":stateMachine:", ":execution:", 1) + ":with-console"
	waveOut := make(chan struct{})
	var once sync.Once
	cancel := l.SFN.Subscribe(func(e sfn.Event) {
		if e.Root == fleetARN && e.Type == "StateEntered" && e.Name == "WaitForMaintenance" {
			once.Do(func() { close(waveOut) })
		}
	})
	defer cancel()
	fleetDone := make(chan sfn.Result, 1)
	go func() {
		res, err := l.MaintainFleet(context.Background(), "with-console", fleetInput(l, map[string]any{"instanceIds": fleetIDs,
			"maxConcurrency": 2, "minHealthyPercent": 75}), nil)
		if err != nil {
			t.Error(err)
		}
		fleetDone <- res
	}()
	select {
	case <-waveOut:
	case <-time.After(120 * time.Second):
		t.Fatal("the fleet never took a wave out")
	}
	console := func(name string, inst int, extra map[string]any) sfn.Result {
		in := map[string]any{"instanceId": l.Instances[inst].ID, "maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2}
		for k, v := range extra {
			in[k] = v
		}
		res, err := l.MaintainInstance(context.Background(), name, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// At once: refused, naming the fleet's floor.
	refused := console("console-now", 6, nil)
	if refused.Error != "CapacityUnavailable" || !strings.Contains(refused.Cause, "below the floor of 6") || slices.Contains(refused.States, "DeregisterTarget") {
		t.Errorf("console execution during the wave: %s %s: %s", refused.Status, refused.Error, refused.Cause)
	}
	// Allowed to wait: it runs, within the fleet's floor.
	waited := console("console-waits", 7, map[string]any{"capacityWaitSeconds": 1800})
	if !waited.Succeeded || !slices.Contains(waited.States, "WaitForCapacity") {
		t.Errorf("the waiting console execution: %s %s: %s (waited: %v)", waited.Status, waited.Error, waited.Cause, slices.Contains(waited.States, "WaitForCapacity"))
	}
	fleet := <-fleetDone
	if !fleet.Succeeded {
		t.Errorf("the fleet: %s: %s", fleet.Error, fleet.Cause)
	}
	for _, s := range l.Groups[0].History() {
		if s.At >= start && s.Healthy < 6 {
			t.Errorf("the group had %d healthy targets at %.1f lab s, below the fleet's floor of 6", s.Healthy, s.At)
		}
	}
	_ = l.Clock.Sleep(context.Background(), 5*time.Second)
	if tot := stop()[0]; tot.Failed() != 0 {
		t.Errorf("%d of %d requests lost: %v", tot.Failed(), tot.Requests, tot.Codes)
	}
	assertBack(t, l, cfg)
}

// TestWaitersAfterFailures: executions that wait for capacity while the holder fails
// after its deregistration. The holder registers its instance again and releases its
// reservation before the instance is healthy; the next one must not count it as capacity
// yet. Every execution runs in turn and fails with its maintenance's error, none is
// refused, and the load balancer's record never shows a group below its floor.
func TestWaitersAfterFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Instances = 5
	hc := lab.PostHealthCheck
	cfg.Groups = []lab.GroupSpec{
		{Name: "pair", Port: 8080, HealthCheck: hc, DeregistrationDelaySeconds: 10, Members: []lab.Member{{Instance: 0}, {Instance: 1}}},
		{Name: "trio", Port: 8080, HealthCheck: hc, DeregistrationDelaySeconds: 10, Members: []lab.Member{{Instance: 2}, {Instance: 3}, {Instance: 4}}},
	}
	floors := []int{1, 2}
	l := startLab(t, cfg)
	stop := withTraffic(l)
	start := l.Clock.Since()
	results := make([]sfn.Result, len(l.Instances))
	var wg sync.WaitGroup
	for i, inst := range l.Instances {
		l.SSM.SetFaults(inst.ID, ssm.Faults{FailWith: 1, Stderr: "the maintenance failed"})
		g := 0
		if i >= 2 {
			g = 1
		}
		in := map[string]any{"instanceId": inst.ID, "targetGroupArns": []string{l.Groups[g].ARN}, "maintenance": map[string]any{"action": "reboot"},
			"pollSeconds": 2, "capacityWaitSeconds": 900}
		if floors[g] > 1 {
			in["minHealthyTargets"] = map[string]int{l.Groups[g].ARN: floors[g]}
		}
		wg.Go(func() {
			res, err := l.MaintainInstance(context.Background(), fmt.Sprintf("waiter-%d", i), in, nil)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	waited := 0
	for i, res := range results {
		if res.Error != "MaintenanceFailed" || !slices.Contains(res.States, "RestoreTarget") {
			t.Errorf("instance %d: %s %s: %s", i, res.Status, res.Error, res.Cause)
		}
		if slices.Contains(res.States, "WaitForCapacity") {
			waited++
		}
	}
	if waited < 3 {
		t.Errorf("only %d executions waited for capacity: they did not overlap", waited)
	}
	for gi, g := range l.Groups {
		for _, s := range g.History() {
			if s.At >= start && s.Healthy < floors[gi] {
				t.Errorf("group %s had %d healthy targets at %.1f lab s, below its floor %d", g.Config().Name, s.Healthy, s.At, floors[gi])
			}
		}
	}
	_ = l.Clock.Sleep(context.Background(), 5*time.Second)
	for i, tot := range stop() {
		if tot.Failed() != 0 {
			t.Errorf("group %s: %d of %d requests lost: %v", cfg.Groups[i].Name, tot.Failed(), tot.Requests, tot.Codes)
		}
	}
	assertBack(t, l, cfg)
}
