// Package command owns the maintenance that runs on the instance: sending an SSM Run
// Command and checking, once per call, how its invocation is doing. A failed, cancelled
// or timed-out command becomes a named error carrying its status and the tail of its
// standard error.
package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// API is the part of the SSM client Runner uses.
type API interface {
	SendCommand(ctx context.Context, in *ssm.SendCommandInput, opts ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, opts ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
	CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, opts ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error)
	ListCommands(ctx context.Context, in *ssm.ListCommandsInput, opts ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error)
	DescribeInstancePatchStates(ctx context.Context, in *ssm.DescribeInstancePatchStatesInput, opts ...func(*ssm.Options)) (*ssm.DescribeInstancePatchStatesOutput, error)
}

// Runner sends commands and checks them.
type Runner struct {
	API API
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now clock.Clock
}

// NewRunner makes a Runner whose client is made from an AWS config.
func NewRunner(cfg aws.Config) Runner { return Runner{API: ssm.NewFromConfig(cfg)} }

// DeliverySeconds is SendCommand's TimeoutSeconds (see workflow.DeliverySeconds).
const DeliverySeconds = workflow.DeliverySeconds

// tailBytes bound the output carried in errors and reports: enough to see why, small
// enough for Step Functions' 256 KiB payload limit.
const tailBytes = 1024

// SendRequest is the input of send-command.
type SendRequest struct {
	InstanceID string           `json:"instanceId"`
	Command    workflow.Command `json:"command"`
	// Execution is the execution sending it, for the audit trail.
	Execution string `json:"execution,omitempty"`
}

// AuditExecution is the execution the command is sent for.
func (r SendRequest) AuditExecution() string { return r.Execution }

// CheckRequest is the input of check-command.
type CheckRequest struct {
	InstanceID string `json:"instanceId"`
	CommandID  string `json:"commandId"`
	Deadline   string `json:"deadline"`
	// FailureName is the error a failure is reported as: MaintenanceFailed,
	// HealthCheckFailed, HookFailed or RequiredCheckFailed.
	FailureName string `json:"failureName"`
	// Verdict, for a required check, is how its verdict is read once it succeeds
	// (workflow.VerdictOutput or workflow.VerdictPatchState).
	Verdict string `json:"verdict,omitempty"`
	// Execution is the execution checking it, for the audit trail.
	Execution string `json:"execution,omitempty"`
	// Hook names the hook the command runs ("preDrain", ...), for the error's message.
	Hook string `json:"hook,omitempty"`
	// SentAt is when the command was sent and FirstPollSeconds when it was expected to
	// end (the send's pollSeconds); MaxPollSeconds is the plan's pollSeconds. The wait
	// before the next check backs off from the expected end, bounded by the plan's
	// (workflow.NextPoll).
	SentAt           string `json:"sentAt"`
	FirstPollSeconds int    `json:"firstPollSeconds"`
	MaxPollSeconds   int    `json:"maxPollSeconds"`
}

// AuditExecution is the execution the command was sent for.
func (r CheckRequest) AuditExecution() string { return r.Execution }

// label starts a failure's message with the hook's name, when the command is a hook's.
func (r CheckRequest) label() string {
	if r.Hook == "" {
		return ""
	}
	return "the " + r.Hook + " hook: "
}

// Send sends the command to the instance and returns its id and deadline.
func (r Runner) Send(ctx context.Context, req SendRequest) (workflow.CommandSent, error) {
	if req.InstanceID == "" || req.Command.DocumentName == "" || req.Command.TimeoutSeconds <= 0 {
		return workflow.CommandSent{}, faults.New(faults.InvalidInput, "send-command needs instanceId, command.documentName and a positive command.timeoutSeconds")
	}
	delivery := int32(DeliverySeconds)
	comment := "drainpipe " + req.Command.Action
	if req.Execution != "" {
		// SendCommand has no idempotency token: the comment names this execution's send, so
		// that a retried send-command (its first answer lost to a timeout, say) finds the
		// command it sent and does not run the maintenance twice.
		sum := sha256.Sum256([]byte(req.Execution + "\n" + req.Command.Action))
		comment += " " + hex.EncodeToString(sum[:8])
		sent, err := r.sent(ctx, req.InstanceID, comment)
		if err != nil {
			return workflow.CommandSent{}, err
		}
		if sent != nil {
			t := aws.ToTime(sent.RequestedDateTime)
			return workflow.CommandSent{CommandID: aws.ToString(sent.CommandId), SentAt: t.Format(time.RFC3339Nano),
				Deadline: workflow.Deadline(t, DeliverySeconds+req.Command.TimeoutSeconds), PollSeconds: workflow.FirstPoll(req.Command)}, nil
		}
	}
	in := &ssm.SendCommandInput{
		DocumentName:   &req.Command.DocumentName,
		InstanceIds:    []string{req.InstanceID},
		Parameters:     req.Command.Parameters,
		TimeoutSeconds: &delivery,
		Comment:        &comment,
	}
	if req.Command.Alarm != "" {
		// SSM watches the alarm while the command runs and stops it in ALARM; an alarm
		// whose state it cannot read stops it too (IgnorePollAlarmFailure false).
		in.AlarmConfiguration = &types.AlarmConfiguration{Alarms: []types.Alarm{{Name: aws.String(req.Command.Alarm)}}}
	}
	out, err := r.API.SendCommand(ctx, in)
	var commandID string
	if err == nil && out.Command != nil {
		commandID = aws.ToString(out.Command.CommandId)
	}
	audit.Record(ctx, audit.SendCommand, err, nil, audit.Instance(req.InstanceID), audit.Document(req.Command.DocumentName), audit.CommandID(commandID))
	if err != nil {
		return workflow.CommandSent{}, fmt.Errorf("sending %s to %s: %w", req.Command.Describe(), req.InstanceID, err)
	}
	if out.Command == nil || out.Command.CommandId == nil {
		return workflow.CommandSent{}, fmt.Errorf("sending %s to %s: SendCommand returned no command id", req.Command.Describe(), req.InstanceID)
	}
	t := r.Now.Now()
	return workflow.CommandSent{
		CommandID:   *out.Command.CommandId,
		SentAt:      t.Format(time.RFC3339Nano),
		Deadline:    workflow.Deadline(t, DeliverySeconds+req.Command.TimeoutSeconds),
		PollSeconds: workflow.FirstPoll(req.Command),
	}, nil
}

// sent finds the command with this comment sent to the instance in the last day, if any.
func (r Runner) sent(ctx context.Context, instanceID, comment string) (*types.Command, error) {
	since := r.Now.Now().Add(-24 * time.Hour)
	pages := ssm.NewListCommandsPaginator(r.API, &ssm.ListCommandsInput{InstanceId: &instanceID,
		Filters: []types.CommandFilter{{Key: types.CommandFilterKeyInvokedAfter, Value: aws.String(since.UTC().Format(time.RFC3339))}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the commands on %s: %w", instanceID, err)
		}
		for i, c := range page.Commands {
			if aws.ToString(c.Comment) == comment {
				return &page.Commands[i], nil
			}
		}
	}
	return nil, nil
}

// nextPoll is the wait before the next check of a command expected to end at expected
// (workflow.NextPoll); the plan's pollSeconds, or the default, when it is not known.
func nextPoll(now, expected time.Time, most int) int {
	if expected.IsZero() {
		return max(most, workflow.DefaultPollSeconds)
	}
	return workflow.NextPoll(now.Sub(expected), most)
}

// failureNames are the errors a command's failure can be reported as.
var failureNames = []string{faults.MaintenanceFailed, faults.HealthCheckFailed, faults.HookFailed, faults.RequiredCheckFailed, faults.IdleCheckFailed}

// pending are the invocation statuses that may still end in Success.
var pending = map[types.CommandInvocationStatus]bool{
	types.CommandInvocationStatusPending:    true,
	types.CommandInvocationStatusInProgress: true,
	types.CommandInvocationStatusDelayed:    true,
	types.CommandInvocationStatusCancelling: true,
}

// Check looks at the invocation once. A pending command past its deadline is cancelled
// and reported as failed; so is every final status but Success. InvocationDoesNotExist,
// which GetCommandInvocation answers for a few seconds after SendCommand, counts as
// pending until the deadline.
func (r Runner) Check(ctx context.Context, req CheckRequest) (workflow.CommandReport, error) {
	if !slices.Contains(failureNames, req.FailureName) {
		return workflow.CommandReport{}, faults.New(faults.InvalidInput, "check-command: failureName must be one of %s, got %q", strings.Join(failureNames, ", "), req.FailureName)
	}
	if req.Verdict != "" && !slices.Contains(workflow.Verdicts, req.Verdict) {
		return workflow.CommandReport{}, faults.New(faults.InvalidInput, "check-command: verdict must be one of %s, got %q", strings.Join(workflow.Verdicts, ", "), req.Verdict)
	}
	if req.InstanceID == "" || req.CommandID == "" {
		return workflow.CommandReport{}, faults.New(faults.InvalidInput, "check-command needs instanceId and commandId")
	}
	deadline, err := workflow.ParseTime("deadline", req.Deadline)
	if err != nil {
		return workflow.CommandReport{}, faults.New(faults.InvalidInput, "%v", err)
	}
	// An execution started by an earlier definition passes no sentAt, and waits
	// pollSeconds between checks whatever this answers: its check must not fail on that.
	expected := time.Time{}
	if req.SentAt != "" {
		sentAt, err := workflow.ParseTime("sentAt", req.SentAt)
		if err != nil {
			return workflow.CommandReport{}, faults.New(faults.InvalidInput, "%v", err)
		}
		expected = sentAt.Add(time.Duration(req.FirstPollSeconds) * time.Second)
	}
	out, err := r.API.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: &req.CommandID, InstanceId: &req.InstanceID})
	t := r.Now.Now()
	at := t.Format(time.RFC3339Nano)
	var notYet *types.InvocationDoesNotExist
	switch {
	case errors.As(err, &notYet):
		if t.After(deadline) {
			return workflow.CommandReport{}, faults.New(req.FailureName, req.label()+"command %s on %s: no invocation appeared before the deadline %s", req.CommandID, req.InstanceID, req.Deadline)
		}
		// Not visible yet: SSM shows it within seconds.
		return workflow.CommandReport{Status: "InvocationDoesNotExist", CheckedAt: at, PollSeconds: nextPoll(t, expected, req.MaxPollSeconds)}, nil
	case err != nil:
		return workflow.CommandReport{}, fmt.Errorf("checking command %s on %s: %w", req.CommandID, req.InstanceID, err)
	}
	report := workflow.CommandReport{Status: string(out.Status), StatusDetails: aws.ToString(out.StatusDetails), CheckedAt: at}
	switch {
	case out.Status == types.CommandInvocationStatusSuccess:
		report.Done = true
		report.OutputTail = tail(aws.ToString(out.StandardOutputContent), tailBytes)
		if req.Verdict != "" {
			return r.verdict(ctx, req, report, expected, t, deadline)
		}
		return report, nil
	case pending[out.Status] && !t.After(deadline):
		report.PollSeconds = nextPoll(t, expected, req.MaxPollSeconds)
		return report, nil
	case pending[out.Status]:
		// Past the deadline: stop the command so it does not go on running while the
		// instance is put back into service.
		_, cancelErr := r.API.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: &req.CommandID, InstanceIds: []string{req.InstanceID}})
		audit.Record(ctx, audit.CancelCommand, cancelErr, nil, audit.Instance(req.InstanceID), audit.CommandID(req.CommandID))
		note := "cancelled"
		if cancelErr != nil {
			note = "cancelling it failed: " + cancelErr.Error()
		}
		return workflow.CommandReport{}, faults.New(req.FailureName, req.label()+"command %s on %s still %s at the deadline %s (%s)%s",
			req.CommandID, req.InstanceID, out.Status, req.Deadline, note, stderrTail(out))
	default:
		return workflow.CommandReport{}, faults.New(req.FailureName, req.label()+"command %s on %s ended %s (%s), exit code %d%s%s",
			req.CommandID, req.InstanceID, out.Status, aws.ToString(out.StatusDetails), out.ResponseCode, r.triggered(ctx, req), stderrTail(out))
	}
}

// triggered says which of the command's alarms stopped it, by ListCommands'
// TriggeredAlarms; "" when none did, or when the command cannot be listed (the error
// says how it ended either way).
func (r Runner) triggered(ctx context.Context, req CheckRequest) string {
	out, err := r.API.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: &req.CommandID, InstanceId: &req.InstanceID})
	if err != nil || len(out.Commands) == 0 {
		return ""
	}
	var names []string
	for _, a := range out.Commands[0].TriggeredAlarms {
		names = append(names, fmt.Sprintf("%s (%s)", aws.ToString(a.Name), a.State))
	}
	if len(names) == 0 {
		return ""
	}
	return "; SSM stopped it on its alarm " + strings.Join(names, ", ")
}

func stderrTail(out *ssm.GetCommandInvocationOutput) string {
	s := strings.TrimSpace(tail(aws.ToString(out.StandardErrorContent), tailBytes))
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}

// tail returns at most n bytes from the end of s, cut at a rune boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return "..." + s
}
