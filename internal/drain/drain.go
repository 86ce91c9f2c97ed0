// Package drain owns the wait for the instance to drain after its deregistration: whether
// every registration has drained, and, with an idle drain (workflow.Drain), whether the
// instance is idle before the deregistration delay ends. It judges one check per call.
package drain

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Drainer checks the drain.
type Drainer struct {
	Targets  targets.Checker
	Commands command.Runner
	// Now is the clock; nil means time.Now.
	Now clock.Clock
}

// New makes a Drainer whose clients are made from an AWS config.
func New(cfg aws.Config) Drainer {
	return Drainer{Targets: targets.NewChecker(cfg), Commands: command.NewRunner(cfg)}
}

// Check checks the drain once. The drain is done when the load balancer reports every
// registration drained (the deregistration delay has ended), or, with an idle drain, as
// soon as the idle check on the instance has passed the checks in a row it needs. The
// idle check is sent once the propagation wait has passed; if it fails or runs out of
// time, the drain goes on to the end of the delay, as without it. Never later: the
// delay ends the drain whatever the idle check says.
func (d Drainer) Check(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	report, err := d.Targets.CheckDrain(ctx, s)
	if err != nil || report.Done || s.IdleDrain == nil {
		return report, err
	}
	var prev *workflow.IdleReport
	if s.Drain != nil {
		prev = s.Drain.Idle
	}
	idle, poll, err := d.idle(ctx, s, prev)
	if err != nil {
		return workflow.TargetsReport{}, err
	}
	report.Idle = idle
	switch idle.Status {
	case workflow.IdleReached:
		report.Done, report.PollSeconds = true, 0
	case workflow.IdleGaveUp, workflow.IdleNotUsed:
		// Only the delay's end can end the drain now: check then, not every pollSeconds.
		report.PollSeconds = max(report.PollSeconds, d.untilDelayEnds(s))
	default:
		report.PollSeconds = min(report.PollSeconds, poll)
	}
	return report, nil
}

// untilDelayEnds is the whole seconds until the deregistration delay ends (at least one).
func (d Drainer) untilDelayEnds(s workflow.State) int {
	end, err := s.Deregistration.After(s.Waits.DeregistrationDelaySeconds)
	if err != nil {
		return workflow.MinPollSeconds
	}
	return workflow.SecondsUntil(end, d.Now.Now())
}

// gaveUp is the idle drain given up on an error that retrying will not fix (the command
// could not be sent or read: access denied, an instance SSM does not manage); a transient
// one (throttling, a 5xx) is returned, for the state machine to retry.
func gaveUp(err error, sent *workflow.CommandSent) (*workflow.IdleReport, int, error) {
	if faults.NameOf(err) == faults.TransientAPIError {
		return nil, 0, err
	}
	return &workflow.IdleReport{Status: workflow.IdleGaveUp, Command: sent, Detail: err.Error()}, 0, nil
}

// idle moves the idle drain on by one step and says when to check again (for gave-up and
// not-used, the state says: when the deregistration delay ends).
func (d Drainer) idle(ctx context.Context, s workflow.State, prev *workflow.IdleReport) (*workflow.IdleReport, int, error) {
	switch {
	case s.Standby != nil && s.Standby.Group != "":
		return &workflow.IdleReport{Status: workflow.IdleNotUsed, Detail: "the instance is entering Standby in " + s.Standby.Group + " until its target groups have drained"}, 0, nil
	case prev != nil && (prev.Status == workflow.IdleGaveUp || prev.Status == workflow.IdleNotUsed):
		return prev, 0, nil
	}
	propagated, err := s.Deregistration.After(s.IdleDrain.PropagationSeconds)
	if err != nil {
		return nil, 0, faults.New(faults.InvalidInput, "%v", err)
	}
	if now := d.Now.Now(); now.Before(propagated) {
		return &workflow.IdleReport{Status: workflow.IdlePropagating}, workflow.SecondsUntil(propagated, now), nil
	}
	if prev == nil || prev.Command == nil {
		sent, err := d.Commands.Send(ctx, command.SendRequest{InstanceID: s.InstanceID, Command: s.IdleDrain.Command, Execution: s.AuditExecution()})
		if err != nil {
			return gaveUp(err, nil)
		}
		return &workflow.IdleReport{Status: workflow.IdleChecking, Command: &sent}, sent.PollSeconds, nil
	}
	checked, err := d.Commands.Check(ctx, command.CheckRequest{InstanceID: s.InstanceID, CommandID: prev.Command.CommandID, Deadline: prev.Command.Deadline,
		SentAt: prev.Command.SentAt, FirstPollSeconds: prev.Command.PollSeconds, MaxPollSeconds: s.Waits.PollSeconds, FailureName: faults.IdleCheckFailed, Execution: s.AuditExecution()})
	switch {
	case err != nil:
		// IdleCheckFailed: busy to the end, or the check is broken. Either way, as for an
		// error reading the command, the delay decides.
		return gaveUp(err, prev.Command)
	case checked.Done:
		return &workflow.IdleReport{Status: workflow.IdleReached, Command: prev.Command, Detail: checked.OutputTail}, 0, nil
	}
	return &workflow.IdleReport{Status: workflow.IdleChecking, Command: prev.Command}, checked.PollSeconds, nil
}
