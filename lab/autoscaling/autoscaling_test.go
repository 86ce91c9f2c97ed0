package autoscaling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// world is a fake of the lab around the service: instances up or down, target health
// (healthy or unhealthy, or a state a test sets: draining, unused), target groups that
// are gone, and a log of the load balancer and EC2 calls.
type world struct {
	mu         sync.Mutex
	down       map[string]bool
	unhealthy  map[string]map[string]bool   // target group -> instance
	states     map[string]map[string]string // target group -> instance -> state, over unhealthy's
	gone       map[string]bool              // target groups DescribeTargetHealth does not know
	calls      []string
	terminated []string
}

func newWorld() *world {
	return &world{down: map[string]bool{}, unhealthy: map[string]map[string]bool{}, states: map[string]map[string]string{}, gone: map[string]bool{}}
}

// setState sets the state DescribeTargetHealth reports for the instance's target; ""
// reports no target (deregistered and gone).
func (w *world) setState(arn, id, state string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.states[arn] == nil {
		w.states[arn] = map[string]string{}
	}
	w.states[arn][id] = state
}

func (w *world) Up(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.down[id]
}

func (w *world) Zone(id string) string { return "us-east-1" + string(rune('a'+len(id)%3)) }

func (w *world) Terminate(id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.terminated = append(w.terminated, id)
	w.down[id] = true
	return nil
}

func (w *world) setDown(id string, down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down[id] = down
}

func (w *world) setUnhealthy(arn, id string, bad bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unhealthy[arn] == nil {
		w.unhealthy[arn] = map[string]bool{}
	}
	w.unhealthy[arn][id] = bad
}

func (w *world) log(op, arn string, refs []elb.TargetRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range refs {
		w.calls = append(w.calls, fmt.Sprintf("%s %s %s:%d", op, arn, r.ID, r.Port))
	}
}

func (w *world) RegisterTargets(arn string, refs []elb.TargetRef) error {
	w.log("register", arn, refs)
	return nil
}

func (w *world) DeregisterTargets(arn string, refs []elb.TargetRef) error {
	w.log("deregister", arn, refs)
	return nil
}

func (w *world) DescribeTargetHealth(arn string, refs []elb.TargetRef) ([]elb.TargetHealth, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone[arn] {
		return nil, &elb.APIError{Code: "TargetGroupNotFound", Message: "One or more target groups not found"}
	}
	var out []elb.TargetHealth
	for id, bad := range w.unhealthy[arn] {
		if _, ok := w.states[arn][id]; ok {
			continue
		}
		state := elb.StateHealthy
		if bad {
			state = elb.StateUnhealthy
		}
		out = append(out, elb.TargetHealth{ID: id, State: state})
	}
	for id, state := range w.states[arn] {
		if state != "" {
			out = append(out, elb.TargetHealth{ID: id, State: state})
		}
	}
	return out, nil
}

func (w *world) takeCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.calls
	w.calls = nil
	return c
}

func (w *world) terminatedIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.terminated)
}

const (
	tgA = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/1"
	tgB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/b/2"
)

// fixture: group web (min 1, max 4: i-1, i-2, i-3, attached to two target groups) and
// group other (min 0, max 2: i-8).
func fixture(t *testing.T) (*Service, *world) {
	t.Helper()
	w := newWorld()
	s := New(clock.New(1), w, w, "us-east-1", "123456789012")
	for _, spec := range []GroupSpec{
		{Name: "web", MinSize: 1, MaxSize: 4, Instances: []string{"i-1", "i-2", "i-3"}, TargetGroupARNs: []string{tgA, tgB}, HealthCheckGracePeriod: 300},
		{Name: "other", MinSize: 0, MaxSize: 2, Instances: []string{"i-8"}},
	} {
		if err := s.CreateGroup(spec); err != nil {
			t.Fatal(err)
		}
	}
	return s, w
}

// snapshot is what a failed call must leave unchanged.
func snapshot(s *Service) string {
	return fmt.Sprintf("%+v %+v", s.DescribeAutoScalingGroups(nil), s.Launches())
}

func validationMessage(t *testing.T, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != ValidationError {
		t.Fatalf("%v, want a ValidationError", err)
	}
	return e.Message
}

func describeGroup(t *testing.T, s *Service, name string) Group {
	t.Helper()
	gs := s.DescribeAutoScalingGroups([]string{name})
	if len(gs) != 1 {
		t.Fatalf("group %s: %+v", name, gs)
	}
	return gs[0]
}

func states(g Group) string {
	var b []string
	for _, in := range g.Instances {
		b = append(b, in.ID+"="+in.LifecycleState+"/"+in.HealthStatus)
	}
	return strings.Join(b, " ")
}

func TestStandbyErrors(t *testing.T) {
	ids21 := make([]string, 21)
	for i := range ids21 {
		ids21[i] = fmt.Sprintf("i-%d", i+1)
	}
	cases := []struct {
		name  string
		setup func(*Service)
		call  func(*Service) error
		want  string
	}{
		{"enter: unknown group", nil, func(s *Service) error {
			_, err := s.EnterStandby("nope", []string{"i-1"}, true)
			return err
		}, "AutoScalingGroup name not found - AutoScalingGroup nope not found"},
		{"enter: instance in no group", nil, func(s *Service) error {
			_, err := s.EnterStandby("web", []string{"i-1", "i-9"}, true)
			return err
		}, "The instance i-9 is not part of Auto Scaling group web."},
		{"enter: instance of another group", nil, func(s *Service) error {
			_, err := s.EnterStandby("web", []string{"i-8"}, false)
			return err
		}, "The instance i-8 is not part of Auto Scaling group web."},
		{"enter: instance already in Standby", func(s *Service) {
			if _, err := s.EnterStandby("web", []string{"i-2"}, true); err != nil {
				panic(err)
			}
		}, func(s *Service) error {
			_, err := s.EnterStandby("web", []string{"i-1", "i-2"}, false)
			return err
		}, "The instance i-2 is not in InService."},
		{"enter: desired below min", nil, func(s *Service) error {
			_, err := s.EnterStandby("web", []string{"i-1", "i-2", "i-3"}, true)
			return err
		}, "AutoScalingGroup web has min-size=1, max-size=4, and desired-size=3. To place into standby 3 instances, please update the AutoScalingGroup sizes appropriately."},
		{"enter: desired below min, one instance", func(s *Service) {
			if _, err := s.EnterStandby("web", []string{"i-1", "i-2"}, true); err != nil {
				panic(err)
			}
		}, func(s *Service) error {
			_, err := s.EnterStandby("web", []string{"i-3"}, true)
			return err
		}, "AutoScalingGroup web has min-size=1, max-size=4, and desired-size=1. To place into standby 1 instance, please update the AutoScalingGroup sizes appropriately."},
		{"enter: more than 20 ids", nil, func(s *Service) error {
			_, err := s.EnterStandby("web", ids21, false)
			return err
		}, "Member must have length less than or equal to 20"},
		{"exit: unknown group", nil, func(s *Service) error {
			_, err := s.ExitStandby("nope", []string{"i-1"})
			return err
		}, "AutoScalingGroup name not found - AutoScalingGroup nope not found"},
		{"exit: instance in no group", nil, func(s *Service) error {
			_, err := s.ExitStandby("web", []string{"i-9"})
			return err
		}, "The instance i-9 is not part of Auto Scaling group web."},
		{"exit: instance InService", nil, func(s *Service) error {
			_, err := s.ExitStandby("web", []string{"i-1"})
			return err
		}, "The instance i-1 is not in Standby."},
		{"exit: more than 20 ids", nil, func(s *Service) error {
			_, err := s.ExitStandby("web", ids21)
			return err
		}, "Member must have length less than or equal to 20"},
		{"exit: desired above max", func(s *Service) {
			// Standby without decrementing (desired stays 3), twice: exiting both would make 5.
			if _, err := s.EnterStandby("web", []string{"i-1", "i-2"}, false); err != nil {
				panic(err)
			}
		}, func(s *Service) error {
			_, err := s.ExitStandby("web", []string{"i-1", "i-2"})
			return err
		}, "AutoScalingGroup web has min-size=1, max-size=4, and desired-size=3. To move out of standby 2 instances, please update the AutoScalingGroup sizes appropriately."},
		{"describe: more than 50 ids", nil, func(s *Service) error {
			_, err := s.DescribeAutoScalingInstances(make([]string, 51))
			return err
		}, "Member must have length less than or equal to 50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, w := fixture(t)
			if c.setup != nil {
				c.setup(s)
			}
			before := snapshot(s)
			w.takeCalls()
			msg := validationMessage(t, c.call(s))
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q, want %q", msg, c.want)
			}
			if after := snapshot(s); after != before {
				t.Errorf("a refused call changed the groups:\n%s\n%s", before, after)
			}
			if calls := w.takeCalls(); len(calls) > 0 {
				t.Errorf("a refused call reached the load balancer: %v", calls)
			}
		})
	}
}

func TestEnterStandby(t *testing.T) {
	t.Run("decrementing", func(t *testing.T) {
		s, w := fixture(t)
		acts, err := s.EnterStandby("web", []string{"i-1", "i-2", "i-1"}, true) // a repeated id counts once
		if err != nil {
			t.Fatal(err)
		}
		g := describeGroup(t, s, "web")
		if g.DesiredCapacity != 1 || states(g) != "i-1=Standby/Healthy i-2=Standby/Healthy i-3=InService/Healthy" {
			t.Errorf("desired %d, %s", g.DesiredCapacity, states(g))
		}
		want := []string{"deregister " + tgA + " i-1:0", "deregister " + tgB + " i-1:0", "deregister " + tgA + " i-2:0", "deregister " + tgB + " i-2:0"}
		if calls := w.takeCalls(); !slices.Equal(calls, want) {
			t.Errorf("load balancer calls %v, want %v", calls, want)
		}
		if len(acts) != 2 {
			t.Fatalf("activities %+v", acts)
		}
		a := acts[0]
		if a.Group != "web" || a.Description != "Moving EC2 instance to Standby: i-1" || a.StatusCode != "InProgress" || a.Progress != 50 ||
			!strings.HasSuffix(a.Cause, "instance i-1 was moved to standby in response to a user request, shrinking the capacity from 3 to 2.") ||
			!strings.HasPrefix(a.Cause, "At "+stamp(a.Start)+" ") || a.Details != `{"Availability Zone":"us-east-1a"}` || len(a.ID) != 36 || a.ID == acts[1].ID {
			t.Errorf("activity %+v", a)
		}
		if !strings.HasSuffix(acts[1].Cause, "shrinking the capacity from 2 to 1.") {
			t.Errorf("second activity %+v", acts[1])
		}
		if l := s.Launches(); len(l) != 0 {
			t.Errorf("decrementing launched %+v", l)
		}
	})
	t.Run("not decrementing", func(t *testing.T) {
		s, w := fixture(t)
		acts, err := s.EnterStandby("web", []string{"i-3"}, false)
		if err != nil {
			t.Fatal(err)
		}
		g := describeGroup(t, s, "web")
		if g.DesiredCapacity != 3 || states(g) != "i-1=InService/Healthy i-2=InService/Healthy i-3=Standby/Healthy" {
			t.Errorf("desired %d, %s", g.DesiredCapacity, states(g))
		}
		if !strings.HasSuffix(acts[0].Cause, "instance i-3 was moved to standby in response to a user request.") {
			t.Errorf("activity %+v", acts[0])
		}
		if l := s.Launches(); len(l) != 1 || l[0].Group != "web" || l[0].For != "i-3" || l[0].Reason != LaunchForStandby || l[0].At.IsZero() {
			t.Errorf("launches %+v, want the replacement AWS launches", l)
		}
		if calls := w.takeCalls(); len(calls) != 2 {
			t.Errorf("load balancer calls %v", calls)
		}
	})
	t.Run("down to the minimum, in a group with no target group", func(t *testing.T) {
		s, w := fixture(t)
		if err := s.CreateGroup(GroupSpec{Name: "one", MinSize: 0, MaxSize: 1, Instances: []string{"i-5"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EnterStandby("one", []string{"i-5"}, true); err != nil {
			t.Fatal(err)
		}
		if g := describeGroup(t, s, "one"); g.DesiredCapacity != 0 || states(g) != "i-5=Standby/Healthy" {
			t.Errorf("desired %d, %s: want Standby at once", g.DesiredCapacity, states(g))
		}
		if calls := w.takeCalls(); len(calls) != 0 {
			t.Errorf("load balancer calls %v", calls)
		}
	})
}

func TestExitStandby(t *testing.T) {
	s, w := fixture(t)
	if _, err := s.EnterStandby("web", []string{"i-1", "i-2"}, true); err != nil {
		t.Fatal(err)
	}
	w.takeCalls()
	acts, err := s.ExitStandby("web", []string{"i-2"})
	if err != nil {
		t.Fatal(err)
	}
	g := describeGroup(t, s, "web")
	if g.DesiredCapacity != 2 || states(g) != "i-1=Standby/Healthy i-2=InService/Healthy i-3=InService/Healthy" {
		t.Errorf("desired %d, %s", g.DesiredCapacity, states(g))
	}
	if calls, want := w.takeCalls(), []string{"register " + tgA + " i-2:0", "register " + tgB + " i-2:0"}; !slices.Equal(calls, want) {
		t.Errorf("load balancer calls %v, want %v", calls, want)
	}
	a := acts[0]
	if len(acts) != 1 || a.Description != "Moving EC2 instance out of Standby: i-2" || a.StatusCode != "PreInService" || a.Progress != 30 ||
		!strings.HasSuffix(a.Cause, "instance i-2 was moved out of standby in response to a user request, increasing the capacity from 1 to 2.") {
		t.Errorf("activities %+v", acts)
	}
	// Standby without decrementing, then back: desired goes above the members the lab
	// has, since it launched no replacement.
	if _, err := s.EnterStandby("web", []string{"i-3"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExitStandby("web", []string{"i-3", "i-1"}); err != nil {
		t.Fatal(err)
	}
	if g := describeGroup(t, s, "web"); g.DesiredCapacity != 4 || states(g) != "i-1=InService/Healthy i-2=InService/Healthy i-3=InService/Healthy" {
		t.Errorf("desired %d, %s", g.DesiredCapacity, states(g))
	}
}

// lifecycle is the member's state as the service holds it, read without a Describe call
// (which would look at the drain itself).
func lifecycle(s *Service, group, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.groups[group].find(id); m != nil {
		return m.state
	}
	return ""
}

// instanceState is the instance's LifecycleState as DescribeAutoScalingInstances answers.
func instanceState(t *testing.T, s *Service, id string) string {
	t.Helper()
	d, err := s.DescribeAutoScalingInstances([]string{id})
	if err != nil || len(d) != 1 {
		t.Fatalf("describing %s: %+v, %v", id, d, err)
	}
	return d[0].LifecycleState
}

// TestEnteringStandby: an instance put in Standby is EnteringStandby while one of its
// targets in the group's attached target groups is draining (the desired capacity already
// decremented), cannot exit Standby meanwhile, and is Standby once none is: a target unused
// or gone counts as drained. Describe calls look at the drain themselves; the health
// check's round moves it too.
func TestEnteringStandby(t *testing.T) {
	s, w := fixture(t)
	w.setState(tgA, "i-1", elb.StateDraining)
	w.setState(tgB, "i-1", elb.StateDraining)
	w.setState(tgA, "i-2", elb.StateHealthy) // another instance's target: no matter
	acts, err := s.EnterStandby("web", []string{"i-1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if a := acts[0]; a.StatusCode != "InProgress" || a.Progress != 50 || !strings.HasSuffix(a.Cause, "shrinking the capacity from 3 to 2.") {
		t.Errorf("activity %+v", a)
	}
	if calls, want := w.takeCalls(), []string{"deregister " + tgA + " i-1:0", "deregister " + tgB + " i-1:0"}; !slices.Equal(calls, want) {
		t.Errorf("load balancer calls %v, want %v", calls, want)
	}
	g := describeGroup(t, s, "web")
	if g.DesiredCapacity != 2 || states(g) != "i-1=EnteringStandby/Healthy i-2=InService/Healthy i-3=InService/Healthy" {
		t.Errorf("while draining: desired %d, %s", g.DesiredCapacity, states(g))
	}
	if st := instanceState(t, s, "i-1"); st != EnteringStandby {
		t.Errorf("DescribeAutoScalingInstances: %s, want EnteringStandby", st)
	}

	// Neither exit nor enter again while it is entering; a refused exit changes nothing.
	before := snapshot(s)
	_, err = s.ExitStandby("web", []string{"i-1"})
	if msg := validationMessage(t, err); msg != "The instance i-1 is not in Standby." {
		t.Errorf("exit while EnteringStandby: %q", msg)
	}
	_, err = s.EnterStandby("web", []string{"i-1"}, true)
	if msg := validationMessage(t, err); msg != "The instance i-1 is not in InService." {
		t.Errorf("enter while EnteringStandby: %q", msg)
	}
	if after := snapshot(s); after != before {
		t.Errorf("refused calls changed the group:\n%s\n%s", before, after)
	}
	if calls := w.takeCalls(); len(calls) != 0 {
		t.Errorf("refused calls reached the load balancer: %v", calls)
	}

	// Drained in one group, still draining in the other: still entering, at a round too.
	w.setState(tgA, "i-1", elb.StateUnused)
	s.check(time.Now())
	if st := lifecycle(s, "web", "i-1"); st != EnteringStandby {
		t.Errorf("draining in %s: %s, want EnteringStandby", tgB, st)
	}
	if st := instanceState(t, s, "i-1"); st != EnteringStandby {
		t.Errorf("draining in %s, described: %s", tgB, st)
	}
	// Gone from the other: the next round makes it Standby, before anyone describes it.
	w.setState(tgB, "i-1", "")
	s.check(time.Now())
	if st := lifecycle(s, "web", "i-1"); st != Standby {
		t.Errorf("drained, after a round: %s, want Standby", st)
	}
	if g := describeGroup(t, s, "web"); g.DesiredCapacity != 2 || states(g) != "i-1=Standby/Healthy i-2=InService/Healthy i-3=InService/Healthy" {
		t.Errorf("drained: desired %d, %s", g.DesiredCapacity, states(g))
	}
	if _, err := s.ExitStandby("web", []string{"i-1"}); err != nil {
		t.Fatalf("exit once Standby: %v", err)
	}

	// Without a round, each Describe call and ExitStandby look at the drain themselves.
	for _, c := range []struct {
		name string
		look func() string
	}{
		{"DescribeAutoScalingInstances", func() string { return instanceState(t, s, "i-3") }},
		{"DescribeAutoScalingGroups", func() string {
			for _, in := range describeGroup(t, s, "web").Instances {
				if in.ID == "i-3" {
					return in.LifecycleState
				}
			}
			return ""
		}},
		{"ExitStandby", func() string {
			if _, err := s.ExitStandby("web", []string{"i-3"}); err != nil {
				return err.Error()
			}
			return Standby // it was Standby: it has left it
		}},
	} {
		w.setState(tgA, "i-3", elb.StateDraining)
		if _, err := s.EnterStandby("web", []string{"i-3"}, true); err != nil {
			t.Fatal(err)
		}
		if st := c.look(); st != EnteringStandby && c.name != "ExitStandby" {
			t.Errorf("%s while draining: %s", c.name, st)
		}
		w.setState(tgA, "i-3", elb.StateUnused)
		if st := c.look(); st != Standby {
			t.Errorf("%s once drained: %s, want Standby", c.name, st)
		}
		if c.name != "ExitStandby" {
			if _, err := s.ExitStandby("web", []string{"i-3"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A target group that is gone has nothing draining.
	w.mu.Lock()
	w.gone[tgA] = true
	w.mu.Unlock()
	w.setState(tgB, "i-2", elb.StateDraining)
	if _, err := s.EnterStandby("web", []string{"i-2"}, true); err != nil {
		t.Fatal(err)
	}
	if st := instanceState(t, s, "i-2"); st != EnteringStandby {
		t.Errorf("draining in %s, %s gone: %s", tgB, tgA, st)
	}
	w.setState(tgB, "i-2", elb.StateHealthy) // registered again by someone: not draining
	if st := instanceState(t, s, "i-2"); st != Standby {
		t.Errorf("%s gone, registered again in %s: %s, want Standby", tgA, tgB, st)
	}
}

func TestDescribe(t *testing.T) {
	s, _ := fixture(t)
	if _, err := s.EnterStandby("web", []string{"i-2"}, true); err != nil {
		t.Fatal(err)
	}
	all, err := s.DescribeAutoScalingInstances(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range all {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %v", d.ID, d.Group, d.LifecycleState, d.HealthStatus, d.Zone, d.ProtectedFromScaleIn))
	}
	want := []string{"i-1 web InService Healthy us-east-1a false", "i-2 web Standby Healthy us-east-1a false",
		"i-3 web InService Healthy us-east-1a false", "i-8 other InService Healthy us-east-1a false"}
	if !slices.Equal(got, want) {
		t.Errorf("every instance:\n%v\nwant\n%v", got, want)
	}
	some, err := s.DescribeAutoScalingInstances([]string{"i-8", "i-nope", "i-2"})
	if err != nil || len(some) != 2 || some[0].ID != "i-2" || some[1].ID != "i-8" {
		t.Errorf("named, one in no group: %+v, %v", some, err)
	}
	none, err := s.DescribeAutoScalingInstances([]string{"i-nope"})
	if err != nil || len(none) != 0 {
		t.Errorf("an instance in no group: %+v, %v", none, err)
	}

	groups := s.DescribeAutoScalingGroups(nil)
	if len(groups) != 2 || groups[0].Name != "other" || groups[1].Name != "web" {
		t.Fatalf("groups %+v", groups)
	}
	g := groups[1]
	if g.MinSize != 1 || g.MaxSize != 4 || g.DesiredCapacity != 2 || g.HealthCheckType != HealthCheckEC2 || g.HealthCheckGracePeriod != 300 ||
		!slices.Equal(g.TargetGroupARNs, []string{tgA, tgB}) || !slices.Equal(g.Zones, []string{"us-east-1a"}) || g.Created.IsZero() ||
		!strings.HasPrefix(g.ARN, "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:") || !strings.HasSuffix(g.ARN, ":autoScalingGroupName/web") ||
		states(g) != "i-1=InService/Healthy i-2=Standby/Healthy i-3=InService/Healthy" || g.Instances[0].Zone != "us-east-1a" {
		t.Errorf("web %+v", g)
	}
	if named := s.DescribeAutoScalingGroups([]string{"web", "nope"}); len(named) != 1 || named[0].Name != "web" {
		t.Errorf("named, one unknown: %+v", named)
	}
}

func TestCreateGroupErrors(t *testing.T) {
	s, _ := fixture(t)
	for _, spec := range []GroupSpec{
		{Name: "web", MinSize: 0, MaxSize: 1, Instances: []string{"i-20"}},               // exists
		{Name: "x", MinSize: 0, MaxSize: 2, Instances: []string{"i-1"}},                  // i-1 is web's
		{Name: "x", MinSize: 0, MaxSize: 2, Instances: []string{"i-20", "i-20"}},         // twice
		{Name: "x", MinSize: 2, MaxSize: 3, Instances: []string{"i-20"}},                 // below min
		{Name: "x", MinSize: 0, MaxSize: 1, Instances: []string{"i-20", "i-21"}},         // above max
		{Name: "x", MinSize: 0, MaxSize: 1, HealthCheckType: "HTTP"},                     // type
		{Name: "x", MinSize: 0, MaxSize: 1, HealthCheckGracePeriod: -1},                  // grace
		{Name: "", MinSize: 0, MaxSize: 1},                                               // name
		{Name: "x", MinSize: 3, MaxSize: 2, Instances: []string{"i-20", "i-21", "i-22"}}, // min > max
	} {
		if err := s.CreateGroup(spec); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
	if len(s.DescribeAutoScalingGroups(nil)) != 2 {
		t.Errorf("a refused group was created")
	}
}

// TestHealthCheckReplacement drives the health checks at chosen lab times: an InService
// instance down longer than the grace period is replaced; one down no longer than it, one
// that recovers, and one in Standby are not.
func TestHealthCheckReplacement(t *testing.T) {
	w := newWorld()
	s := New(clock.New(1), w, w, "us-east-1", "123456789012")
	if err := s.CreateGroup(GroupSpec{Name: "web", MinSize: 0, MaxSize: 6, Instances: []string{"i-1", "i-2", "i-3", "i-4", "i-5"},
		TargetGroupARNs: []string{tgA}, HealthCheckGracePeriod: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnterStandby("web", []string{"i-2"}, true); err != nil {
		t.Fatal(err)
	}
	w.takeCalls()
	// An EC2 group ignores the load balancer's view.
	w.setUnhealthy(tgA, "i-5", true)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, id := range []string{"i-1", "i-2", "i-3", "i-4"} {
		w.setDown(id, true) // i-1 stays down, i-2 is in Standby, i-3 comes back, i-4 goes down later
	}
	w.setDown("i-4", false)
	s.check(at(0))
	s.check(at(5))
	w.setDown("i-3", false) // up after 5 s
	s.check(at(6))
	w.setDown("i-4", true)
	s.check(at(7)) // i-4 down from 7
	w.setDown("i-3", true)
	s.check(at(8)) // i-3 down again: its clock restarts at 8
	s.check(at(10))
	if r := s.Replaced(); len(r) != 0 {
		t.Fatalf("replaced at the grace period, not after it: %+v", r)
	}
	s.check(at(10.5))
	r := s.Replaced()
	if len(r) != 1 || r[0].InstanceID != "i-1" || r[0].Group != "web" || !r[0].UnhealthySince.Equal(t0) || r[0].At.IsZero() ||
		r[0].Cause != "At 2030-01-01T00:00:10Z an instance was taken out of service in response to an EC2 instance status checks failure." {
		t.Fatalf("replaced %+v, want i-1", r)
	}
	if got := w.terminatedIDs(); !slices.Equal(got, []string{"i-1"}) {
		t.Errorf("terminated %v", got)
	}
	if calls := w.takeCalls(); !slices.Equal(calls, []string{"deregister " + tgA + " i-1:0"}) {
		t.Errorf("load balancer calls %v: want i-1 deregistered before termination", calls)
	}
	g := describeGroup(t, s, "web")
	if g.DesiredCapacity != 4 || states(g) != "i-2=Standby/Healthy i-3=InService/Healthy i-4=InService/Healthy i-5=InService/Healthy" {
		t.Errorf("after the replacement: desired %d, %s", g.DesiredCapacity, states(g))
	}
	if d, _ := s.DescribeAutoScalingInstances([]string{"i-1"}); len(d) != 0 {
		t.Errorf("the replaced instance is still described: %+v", d)
	}
	if l := s.Launches(); len(l) != 1 || l[0].For != "i-1" || l[0].Reason != LaunchForUnhealthy {
		t.Errorf("launches %+v", l)
	}
	s.check(at(18.5))
	if r := s.Replaced(); len(r) != 3 || r[1].InstanceID != "i-3" || r[2].InstanceID != "i-4" {
		t.Errorf("at 18.5: %+v, want i-3 (down since 8) and i-4 (since 7) replaced", r)
	}
	// Standby, down all along, is never replaced; it comes back InService with a fresh
	// grace period.
	s.check(at(1000))
	if g := describeGroup(t, s, "web"); states(g) != "i-2=Standby/Healthy i-5=InService/Healthy" {
		t.Errorf("at 1000: %s", states(g))
	}
	if _, err := s.ExitStandby("web", []string{"i-2"}); err != nil {
		t.Fatal(err)
	}
	s.check(at(1001))
	s.check(at(1011))
	if len(s.Replaced()) != 3 {
		t.Errorf("i-2 replaced 10 s after leaving Standby")
	}
	s.check(at(1011.5))
	if r := s.Replaced(); len(r) != 4 || r[3].InstanceID != "i-2" {
		t.Errorf("i-2, down and InService for 10.5 s: %+v", r)
	}
}

// TestNoReplacementWhileEnteringStandby: an instance entering Standby is not health-checked
// however long it is down and drains, and once Standby it still is not.
func TestNoReplacementWhileEnteringStandby(t *testing.T) {
	for _, check := range []string{HealthCheckEC2, HealthCheckELB} {
		t.Run(check, func(t *testing.T) {
			w := newWorld()
			s := New(clock.New(1), w, w, "us-east-1", "123456789012")
			if err := s.CreateGroup(GroupSpec{Name: "web", MinSize: 0, MaxSize: 3, Instances: []string{"i-1", "i-2"},
				TargetGroupARNs: []string{tgA}, HealthCheckType: check, HealthCheckGracePeriod: 10}); err != nil {
				t.Fatal(err)
			}
			w.setState(tgA, "i-1", elb.StateDraining)
			if _, err := s.EnterStandby("web", []string{"i-1"}, true); err != nil {
				t.Fatal(err)
			}
			w.setDown("i-1", true)
			w.setDown("i-2", true)
			w.setUnhealthy(tgA, "i-2", true)
			t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, sec := range []int{0, 5, 11, 100} {
				s.check(t0.Add(time.Duration(sec) * time.Second))
			}
			if r := s.Replaced(); len(r) != 1 || r[0].InstanceID != "i-2" {
				t.Errorf("replaced %+v, want i-2 only", r)
			}
			if g := describeGroup(t, s, "web"); states(g) != "i-1=EnteringStandby/Healthy" {
				t.Errorf("after 100 s down and draining: %s", states(g))
			}
			w.setState(tgA, "i-1", elb.StateUnused)
			s.check(t0.Add(101 * time.Second))
			s.check(t0.Add(200 * time.Second))
			if g := describeGroup(t, s, "web"); states(g) != "i-1=Standby/Healthy" || len(s.Replaced()) != 1 || !slices.Equal(w.terminatedIDs(), []string{"i-2"}) {
				t.Errorf("drained: %s, replaced %+v", states(g), s.Replaced())
			}
		})
	}
}

func TestELBHealthCheck(t *testing.T) {
	w := newWorld()
	s := New(clock.New(1), w, w, "us-east-1", "123456789012")
	if err := s.CreateGroup(GroupSpec{Name: "web", MinSize: 0, MaxSize: 3, Instances: []string{"i-1", "i-2", "i-3"},
		TargetGroupARNs: []string{tgA, tgB}, HealthCheckType: HealthCheckELB, HealthCheckGracePeriod: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnterStandby("web", []string{"i-3"}, true); err != nil {
		t.Fatal(err)
	}
	w.setUnhealthy(tgA, "i-1", false)
	w.setUnhealthy(tgB, "i-1", true) // unhealthy in one of its target groups
	w.setUnhealthy(tgA, "i-2", false)
	w.setUnhealthy(tgA, "i-3", true)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.check(t0)
	s.check(t0.Add(time.Second))
	r := s.Replaced()
	if len(r) != 1 || r[0].InstanceID != "i-1" || !strings.HasSuffix(r[0].Cause, "in response to an ELB system health check failure.") {
		t.Errorf("replaced %+v, want i-1 for its ELB health", r)
	}
}

// TestHealthCheckLoop: the loop runs on the lab clock (here a lab second is a real
// millisecond), replaces a down InService instance and not one in Standby, and stops with
// Close.
func TestHealthCheckLoop(t *testing.T) {
	w := newWorld()
	s := New(clock.New(0.001), w, w, "us-east-1", "123456789012")
	if err := s.CreateGroup(GroupSpec{Name: "web", MinSize: 0, MaxSize: 4, Instances: []string{"i-1", "i-2", "i-3", "i-4"}, HealthCheckGracePeriod: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnterStandby("web", []string{"i-2"}, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx)
	s.Start(ctx) // a second start does nothing
	w.setDown("i-1", true)
	w.setDown("i-2", true)
	labtest.WaitFor(t, 10*time.Second, time.Millisecond, "i-1 to be replaced", func() (bool, any) {
		r := s.Replaced()
		return len(r) == 1 && r[0].InstanceID == "i-1", r
	})
	time.Sleep(50 * time.Millisecond) // fifty lab seconds more
	if g := describeGroup(t, s, "web"); states(g) != "i-2=Standby/Healthy i-3=InService/Healthy i-4=InService/Healthy" {
		t.Errorf("%s: the Standby instance was replaced", states(g))
	}
	s.Close()
	w.setDown("i-3", true)
	time.Sleep(50 * time.Millisecond)
	if r := s.Replaced(); len(r) != 1 {
		t.Errorf("replaced after Close: %+v", r)
	}
	s.Close() // closing twice is fine

	// The loop also ends with its context.
	s2 := New(clock.New(0.001), w, w, "us-east-1", "123456789012")
	if err := s2.CreateGroup(GroupSpec{Name: "x", MinSize: 0, MaxSize: 1, Instances: []string{"i-9"}}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	s2.Start(ctx2)
	cancel2()
	s2.wg.Wait()
	w.setDown("i-9", true)
	time.Sleep(20 * time.Millisecond)
	if r := s2.Replaced(); len(r) != 0 {
		t.Errorf("replaced after its context ended: %+v", r)
	}
}
