package lab

import (
	"fmt"
	"time"

	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// Faults of the world around drainpipe, for chaos tests. The API's own faults (an
// operation answering an error, a function crashing or timing out) are the endpoint's:
// l.API.Inject(awsapi.Rule{...}), seeded with l.Seed. Every fault, of either kind, is in
// l.Injected().
//
// An instance stopped or terminated here changes what every service says of it, as on
// AWS:
//   - EC2: DescribeInstances shows it stopped (code 80, its address kept) or terminated
//     (code 48, no address) and still shows a terminated one for an hour (EC2 keeps it
//     visible for about that long; SetTerminatedVisibleSeconds changes it), then answers
//     InvalidInstanceID.NotFound;
//   - the instance shuts down at once: its service stops listening and requests in flight
//     to it fail;
//   - SSM: its agent is gone (DescribeInstanceInformation: ConnectionLost, or no entry once
//     terminated); a command running there is killed and its invocation stays InProgress
//     until the command expires, then TimedOut, "Delivery Timed Out"; a command sent to a
//     stopped instance waits Delayed; SendCommand and CancelCommand naming a terminated
//     instance answer InvalidInstanceId (see package ssm);
//   - ELB: its registrations stay but are unused, Target.InvalidState ("The target is in
//     the stopped or terminated state"), without traffic or health checks;
//     RegisterTargets of it answers InvalidTarget, DeregisterTargets succeeds (see package
//     elb).

// lifecycle is an instance's EC2 state when it is not running.
type lifecycle struct {
	state string
	since time.Time // lab time
}

// gone reports whether EC2 no longer shows the instance. Callers hold l.mu.
func (l *Lab) gone(id string) bool {
	lc := l.states[id]
	return lc.state == elb.InstanceTerminated &&
		l.Clock.Now().Sub(lc.since) >= time.Duration(l.terminatedVisible*float64(time.Second))
}

// SetTerminatedVisibleSeconds sets how long (lab seconds) EC2 still shows a terminated
// instance: 3600 by default, as on AWS.
func (l *Lab) SetTerminatedVisibleSeconds(seconds float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.terminatedVisible = seconds
}

// Seed seeds every probability draw of the injected faults (l.API.Seed), so a run replays
// its faults given the same seed and the same calls.
func (l *Lab) Seed(seed uint64) { l.API.Seed(seed) }

// Injected lists every fault injected so far, in order: the API's answers, the functions'
// crashes and timeouts, and the instances and groups changed here.
func (l *Lab) Injected() []awsapi.Injection { return l.API.Injected() }

// InstanceState is EC2's state of the instance: running, stopped or terminated ("" for an
// unknown id).
func (l *Lab) InstanceState(id string) string {
	if _, ok := l.byID[id]; !ok {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.states[id].state; s != "" {
		return s
	}
	return elb.InstanceRunning
}

// StopInstance stops a running instance, as StopInstances does.
func (l *Lab) StopInstance(id string) error {
	return l.powerOff(id, elb.InstanceStopped, "StopInstance")
}

// TerminateInstance terminates a running or stopped instance, as TerminateInstances does.
// It never runs again.
func (l *Lab) TerminateInstance(id string) error {
	return l.powerOff(id, elb.InstanceTerminated, "TerminateInstance")
}

func (l *Lab) powerOff(id, state, fault string) error {
	inst, ok := l.byID[id]
	if !ok {
		return fmt.Errorf("lab: no instance %s", id)
	}
	l.mu.Lock()
	was := l.states[id].state
	if was == elb.InstanceTerminated || was == state {
		l.mu.Unlock()
		return fmt.Errorf("lab: instance %s is already %s", id, was)
	}
	l.states[id] = lifecycle{state: state, since: l.Clock.Now()}
	l.mu.Unlock()
	// The agent first, so that what it runs is killed with the instance rather than
	// failing on its own as the service goes away.
	l.SSM.SetInstanceState(id, state)
	inst.PowerOff()
	l.LB.SetInstanceState(id, state)
	l.API.RecordFault(awsapi.Injection{Service: awsapi.ServiceEC2, Fault: awsapi.Fault(fault), Target: id,
		Detail: fmt.Sprintf("%s -> %s", orRunning(was), state)})
	return nil
}

// StartInstance starts a stopped instance again, as StartInstances does: it boots, its
// agent delivers the commands still waiting, and its targets are checked again from
// initial.
func (l *Lab) StartInstance(id string) error {
	inst, ok := l.byID[id]
	if !ok {
		return fmt.Errorf("lab: no instance %s", id)
	}
	l.mu.Lock()
	if l.states[id].state != elb.InstanceStopped {
		l.mu.Unlock()
		return fmt.Errorf("lab: instance %s is %s, not stopped", id, orRunning(l.states[id].state))
	}
	delete(l.states, id)
	l.mu.Unlock()
	l.SSM.SetInstanceState(id, ssm.InstanceRunning)
	if err := inst.PowerOn(); err != nil {
		return err
	}
	l.LB.SetInstanceState(id, elb.InstanceRunning)
	l.API.RecordFault(awsapi.Injection{Service: awsapi.ServiceEC2, Fault: "StartInstance", Target: id, Detail: "stopped -> running"})
	return nil
}

// DeleteTargetGroup deletes a target group mid-run: afterwards every ELB call naming it
// answers TargetGroupNotFound, and its listener, with no target left, answers 503.
func (l *Lab) DeleteTargetGroup(arn string) error {
	if err := l.LB.DeleteTargetGroup(arn); err != nil {
		return err
	}
	l.API.RecordFault(awsapi.Injection{Service: awsapi.ServiceELB, Fault: "DeleteTargetGroup", Target: arn})
	return nil
}

func orRunning(state string) string {
	if state == "" {
		return elb.InstanceRunning
	}
	return state
}
