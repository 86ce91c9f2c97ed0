package lab

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// NaiveReboot does what the post's RebootWithHealthcheck document does, with the
// instance left in rotation: the reboot script (exit 194), then the health check
// ("sleep 60", then curl the service). It returns when both commands have finished.
func (l *Lab) NaiveReboot(ctx context.Context, inst *instance.Instance) error {
	reboot := workflow.RebootScript(fmt.Sprintf("naive%d", time.Now().UnixNano()))
	if err := l.runCommand(ctx, inst, reboot); err != nil {
		return fmt.Errorf("naive reboot of %s: %w", inst.ID, err)
	}
	check := []string{
		"sleep 60 # the lab instance's sleep runs at the lab's time scale",
		fmt.Sprintf("curl -fsS http://${INSTANCE_IP:-localhost}:%d/", l.Config.ServicePort),
	}
	if err := l.runCommand(ctx, inst, check); err != nil {
		return fmt.Errorf("naive health check of %s: %w", inst.ID, err)
	}
	return nil
}

// runCommand sends an AWS-RunShellScript to the instance and waits for it to succeed.
func (l *Lab) runCommand(ctx context.Context, inst *instance.Instance, commands []string) error {
	id, err := l.SSM.SendCommand("AWS-RunShellScript", []string{inst.ID}, map[string][]string{"commands": commands, "executionTimeout": {"3600"}}, 600, "lab")
	if err != nil {
		return err
	}
	for {
		inv, err := l.SSM.GetCommandInvocation(id, inst.ID)
		var apiErr *ssm.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Code == "InvocationDoesNotExist":
		case err != nil:
			return err
		case inv.Status == ssm.StatusSuccess:
			return nil
		case inv.Status != ssm.StatusPending && inv.Status != ssm.StatusInProgress:
			return fmt.Errorf("command %s ended %s: %s", id, inv.Status, inv.Stderr)
		}
		if err := l.Clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// WaitAllHealthy waits until every registered target of every group is healthy. A group
// no load balancer uses is left out: as on AWS, its targets are never healthy.
func (l *Lab) WaitAllHealthy(ctx context.Context, labTimeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, l.Clock.Real(labTimeout))
	defer cancel()
	for {
		bad := l.notHealthy()
		if len(bad) == 0 {
			return nil
		}
		if err := l.Clock.Sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("targets not healthy after %v: %v", labTimeout, bad)
		}
	}
}

func (l *Lab) notHealthy() []string {
	var bad []string
	for _, g := range l.Groups {
		if g.Config().Unattached {
			continue
		}
		th, _ := l.LB.DescribeTargetHealth(g.ARN, nil)
		for _, t := range th {
			if t.State != elb.StateHealthy {
				bad = append(bad, fmt.Sprintf("%s:%d in %s is %s", t.ID, t.Port, g.Config().Name, t.State))
			}
		}
	}
	return bad
}

// Registrations reports, per group, every registered target and its state.
func (l *Lab) Registrations() map[string][]elb.TargetHealth {
	out := map[string][]elb.TargetHealth{}
	for _, g := range l.Groups {
		th, _ := l.LB.DescribeTargetHealth(g.ARN, nil)
		out[g.Config().Name] = th
	}
	return out
}

// WaitUntil polls cond every lab second until it holds or the lab timeout passes.
func (l *Lab) WaitUntil(ctx context.Context, labTimeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, l.Clock.Real(labTimeout))
	defer cancel()
	for !cond() {
		if err := l.Clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	return nil
}
