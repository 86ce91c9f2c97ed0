package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// verdict reads what a required check that succeeded found: the last line of its output,
// or the patch state its Scan reported. Patch Manager records the state after the command
// ends; until a state newer than the command shows, the check counts as pending (until
// the deadline, when it fails: nothing has been changed, and no verdict means no guess).
// expected is when the check was expected to end (zero when not known).
func (r Runner) verdict(ctx context.Context, req CheckRequest, report workflow.CommandReport, expected, now, deadline time.Time) (workflow.CommandReport, error) {
	fail := func(format string, args ...any) (workflow.CommandReport, error) {
		return workflow.CommandReport{}, faults.New(req.FailureName, "the check of whether %s needs its maintenance: "+format, append([]any{req.InstanceID}, args...)...)
	}
	required := func(b bool, reason string) (workflow.CommandReport, error) {
		report.Required, report.Reason = &b, reason
		return report, nil
	}
	if req.Verdict == workflow.VerdictOutput {
		// GetCommandInvocation returns the first 24,000 characters of the output: a check
		// that prints more loses its verdict line, and fails (RequiredCheckFailed).
		lines := strings.Split(strings.TrimSpace(report.OutputTail), "\n")
		switch last := strings.TrimSpace(lines[len(lines)-1]); last {
		case workflow.Required:
			return required(true, "the required check said "+last)
		case workflow.NotRequired:
			return required(false, "the required check said "+last)
		default:
			return fail("its output ends with %q, not %q or %q", last, workflow.Required, workflow.NotRequired)
		}
	}
	out, err := r.API.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: []string{req.InstanceID}})
	if err != nil {
		return workflow.CommandReport{}, fmt.Errorf("reading the patch state of %s: %w", req.InstanceID, err)
	}
	sentAt, err := workflow.ParseTime("sentAt", req.SentAt)
	if err != nil {
		return workflow.CommandReport{}, faults.New(faults.InvalidInput, "a patch state verdict needs the check's sentAt: %v", err)
	}
	for _, st := range out.InstancePatchStates {
		if aws.ToString(st.InstanceId) != req.InstanceID || st.Operation != "Scan" || aws.ToTime(st.OperationEndTime).Before(sentAt.Add(-time.Second)) {
			continue
		}
		// Missing and failed patches are what an Install installs; installed ones pending a
		// reboot are what its RebootIfNeeded reboots for (with NoReboot, nothing would).
		missing, failed, pending := st.MissingCount, st.FailedCount, aws.ToInt32(st.InstalledPendingRebootCount)
		reason := fmt.Sprintf("the Scan found %d patches missing, %d failed and %d installed pending a reboot", missing, failed, pending)
		if req.Verdict == workflow.VerdictPatchStateNoReboot {
			return required(missing+failed > 0, reason+" (the installation reboots nothing)")
		}
		return required(missing+failed+pending > 0, reason)
	}
	if now.After(deadline) {
		return fail("the Scan succeeded, but no patch state newer than it was reported by the deadline %s", req.Deadline)
	}
	report.Done, report.Status, report.PollSeconds = false, "PatchStatePending", nextPoll(now, expected, req.MaxPollSeconds)
	return report, nil
}
