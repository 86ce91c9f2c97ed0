package elb

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func code(err error) string {
	var api *APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return ""
}

// TestStoppedInstanceIsUnusedAndGetsNoTraffic: a registered instance that stops is
// unused/Target.InvalidState and gets no requests; it cannot be registered while stopped,
// can be deregistered, and when it runs again it is checked from initial to healthy.
func TestStoppedInstanceIsUnusedAndGetsNoTraffic(t *testing.T) {
	e := newEnv(t, 3)
	r := e.ref(0)
	inst := e.fleet[r.ID]
	inst.PowerOff()
	e.lb.SetInstanceState(r.ID, InstanceStopped)
	if th := e.state(r); th.State != StateUnused || th.Reason != ReasonInvalidState {
		t.Fatalf("stopped: %+v, want unused/%s", th, ReasonInvalidState)
	}
	for range 30 {
		if code, body := e.get("/"); code != http.StatusOK || strings.Contains(body, r.ID) {
			t.Fatalf("a request got %d %q", code, body)
		}
	}
	err := e.lb.RegisterTargets(e.group.ARN, []TargetRef{r})
	if code(err) != "InvalidTarget" || !strings.Contains(err.Error(), "not in a running state") {
		t.Errorf("registering a stopped instance: %v", err)
	}
	// A health check cycle later it is still unused: no check runs.
	_ = e.clock.Sleep(t.Context(), 3*time.Second)
	if th := e.state(r); th.State != StateUnused {
		t.Errorf("later: %+v", th)
	}
	if err := inst.PowerOn(); err != nil {
		t.Fatal(err)
	}
	e.lb.SetInstanceState(r.ID, InstanceRunning)
	if th := e.state(r); th.State != StateInitial || th.Reason != ReasonInitialHealthChecking {
		t.Errorf("running again: %+v, want initial/%s", th, ReasonInitialHealthChecking)
	}
	e.waitState(r, StateHealthy, 10)

	inst.PowerOff()
	e.lb.SetInstanceState(r.ID, InstanceTerminated)
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
		t.Fatalf("deregistering a terminated instance: %v", err)
	}
	e.waitState(r, StateDraining, 1)
	e.waitState(r, StateUnused, 10)
	if th := e.state(r); th.Reason != ReasonNotRegistered {
		t.Errorf("after the delay: %+v", th)
	}
}

// TestDeregisterUnknownTargetSucceeds: "If the specified target does not exist, the action
// returns successfully." DescribeTargetHealth of an unknown instance is InvalidTarget.
func TestDeregisterUnknownTargetSucceeds(t *testing.T) {
	e := newEnv(t, 1)
	unknown := TargetRef{ID: "i-0000000000000dead", Port: 8080}
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{unknown, e.ref(0)}); err != nil {
		t.Fatalf("DeregisterTargets with an unknown id: %v", err)
	}
	e.waitState(e.ref(0), StateDraining, 1) // the known one is deregistered all the same
	if _, err := e.lb.DescribeTargetHealth(e.group.ARN, []TargetRef{unknown}); code(err) != "InvalidTarget" {
		t.Errorf("DescribeTargetHealth of an unknown id: %v", err)
	}
}

// TestDeletedGroup: every call naming a deleted group is TargetGroupNotFound, the group is
// no longer listed, its listener answers 503, and a new group does not take its ARN.
func TestDeletedGroup(t *testing.T) {
	e := newEnv(t, 2)
	arn := e.group.ARN
	if err := e.lb.DeleteTargetGroup(arn); err != nil {
		t.Fatal(err)
	}
	_, err1 := e.lb.DescribeTargetHealth(arn, nil)
	err2 := e.lb.RegisterTargets(arn, []TargetRef{e.ref(0)})
	err3 := e.lb.DeregisterTargets(arn, []TargetRef{e.ref(0)})
	_, err4 := e.lb.Attributes(arn)
	_, _, err5 := e.lb.DescribeTargetGroups([]string{arn}, "", 0)
	err6 := e.lb.DeleteTargetGroup(arn)
	for i, err := range []error{err1, err2, err3, err4, err5, err6} {
		if code(err) != "TargetGroupNotFound" {
			t.Errorf("call %d: %v, want TargetGroupNotFound", i+1, err)
		}
	}
	if all, _, _ := e.lb.DescribeTargetGroups(nil, "", 0); len(all) != 0 {
		t.Errorf("listed: %+v", all)
	}
	if status, _ := e.get("/"); status != http.StatusServiceUnavailable {
		t.Errorf("the listener answered %d, want 503", status)
	}
	if h := e.group.History(); h[len(h)-1].Registered != 0 {
		t.Errorf("history ends %+v", h[len(h)-1])
	}
	if g := e.lb.CreateTargetGroup(GroupConfig{Name: "web", Port: 8080}); g.ARN == arn {
		t.Errorf("a new group took the deleted one's ARN %s", arn)
	}
}
