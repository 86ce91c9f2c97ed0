package command

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// fakeSSM answers GetCommandInvocation with a set invocation (or error) and records sends
// and cancels.
type fakeSSM struct {
	sent       []*ssm.SendCommandInput
	cancelled  []string
	invocation *ssm.GetCommandInvocationOutput
	getErr     error
	sendErr    error
	patch      []types.InstancePatchState
}

func (f *fakeSSM) DescribeInstancePatchStates(_ context.Context, in *ssm.DescribeInstancePatchStatesInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstancePatchStatesOutput, error) {
	return &ssm.DescribeInstancePatchStatesOutput{InstancePatchStates: f.patch}, nil
}

func (f *fakeSSM) SendCommand(_ context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	id := fmt.Sprintf("0b5c3f7e-1a2b-4c3d-8e9f-%012d", len(f.sent))
	return &ssm.SendCommandOutput{Command: &types.Command{CommandId: &id}}, nil
}

// ListCommands lists the commands sent, as SSM does for one instance.
func (f *fakeSSM) ListCommands(_ context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	var out ssm.ListCommandsOutput
	for i, c := range f.sent {
		if slices.Contains(c.InstanceIds, aws.ToString(in.InstanceId)) {
			out.Commands = append(out.Commands, types.Command{CommandId: aws.String(fmt.Sprintf("0b5c3f7e-1a2b-4c3d-8e9f-%012d", i+1)),
				Comment: c.Comment, RequestedDateTime: aws.Time(start)})
		}
	}
	return &out, nil
}

func (f *fakeSSM) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return f.invocation, f.getErr
}

func (f *fakeSSM) CancelCommand(_ context.Context, in *ssm.CancelCommandInput, _ ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error) {
	f.cancelled = append(f.cancelled, *in.CommandId)
	return &ssm.CancelCommandOutput{}, nil
}

var start = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func TestSend(t *testing.T) {
	f := &fakeSSM{}
	cmd := workflow.MaintenanceCommand(workflow.Maintenance{Action: workflow.ActionPatch, TimeoutSeconds: 600}, "tok")
	sent, err := Runner{API: f, Now: func() time.Time { return start }}.Send(context.Background(), SendRequest{InstanceID: "i-0123456789abcdef0", Command: cmd})
	if err != nil {
		t.Fatal(err)
	}
	if sent.CommandID == "" || sent.SentAt != "2026-11-22T03:00:00Z" || sent.Deadline != workflow.Deadline(start, DeliverySeconds+600) {
		t.Errorf("sent = %+v", sent)
	}
	in := f.sent[0]
	if *in.DocumentName != "AWS-RunPatchBaseline" || !reflect.DeepEqual(in.InstanceIds, []string{"i-0123456789abcdef0"}) ||
		!reflect.DeepEqual(in.Parameters, map[string][]string{"Operation": {"Install"}, "RebootOption": {"RebootIfNeeded"}}) || *in.TimeoutSeconds != DeliverySeconds {
		t.Errorf("SendCommand input = %+v", in)
	}
	if _, err := (Runner{API: f}).Send(context.Background(), SendRequest{InstanceID: "i-0123456789abcdef0"}); faults.NameOf(err) != faults.InvalidInput {
		t.Errorf("send without a command: %v", err)
	}
}

// TestSendIsIdempotent: a retried send of the same execution finds the command it sent
// (its answer lost to a timeout, say) instead of sending a second one; another
// execution's, or another step's, is sent.
func TestSendIsIdempotent(t *testing.T) {
	f := &fakeSSM{}
	r := Runner{API: f, Now: func() time.Time { return start }}
	cmd := workflow.MaintenanceCommand(workflow.Maintenance{Action: workflow.ActionReboot}, "tok")
	req := SendRequest{InstanceID: "i-0123456789abcdef0", Command: cmd, Execution: "arn:aws:states:eu-west-1:123456789012:execution:m:one"}
	first, err := r.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Send(context.Background(), req)
	if err != nil || again.CommandID != first.CommandID || again.Deadline != first.Deadline || len(f.sent) != 1 {
		t.Errorf("a retried send: %+v (first %+v), %d sent, %v", again, first, len(f.sent), err)
	}
	if !strings.HasPrefix(aws.ToString(f.sent[0].Comment), "drainpipe reboot ") {
		t.Errorf("comment %q", aws.ToString(f.sent[0].Comment))
	}
	other := req
	other.Execution = "arn:aws:states:eu-west-1:123456789012:execution:m:two"
	health := req
	health.Command = workflow.HealthCheckCommand(workflow.HealthCheck{Commands: []string{"true"}})
	for _, q := range []SendRequest{other, health} {
		if s, err := r.Send(context.Background(), q); err != nil || s.CommandID == first.CommandID {
			t.Errorf("another send found the first command: %+v %v", s, err)
		}
	}
	if len(f.sent) != 3 {
		t.Errorf("%d commands sent, want 3", len(f.sent))
	}
}

func invocation(status types.CommandInvocationStatus, details, stderr string, code int32) *ssm.GetCommandInvocationOutput {
	return &ssm.GetCommandInvocationOutput{Status: status, StatusDetails: &details, StandardErrorContent: &stderr, StandardOutputContent: new("done\n"), ResponseCode: code}
}

func TestCheck(t *testing.T) {
	long := strings.Repeat("x", 5000) + "the real reason"
	tests := []struct {
		name       string
		inv        *ssm.GetCommandInvocationOutput
		getErr     error
		at         time.Duration
		failure    string
		wantDone   bool
		wantErr    string
		wantMsg    string
		wantCancel bool
		wantPoll   int
		noSentAt   bool
	}{
		// A pending command expected to take 30 s is checked again after half the time it
		// has run over, at least 1 s and at most pollSeconds (10 here).
		{name: "pending", inv: invocation(types.CommandInvocationStatusPending, "Pending", "", -1), at: 3 * time.Second, wantPoll: 1},
		{name: "in progress", inv: invocation(types.CommandInvocationStatusInProgress, "InProgress", "", -1), at: 40 * time.Second, wantPoll: 5},
		{name: "delayed (rebooting)", inv: invocation(types.CommandInvocationStatusDelayed, "Delayed", "", -1), at: 36 * time.Second, wantPoll: 3},
		// An execution of an earlier definition passes no sentAt: its Wait reads the plan.
		{name: "no sentAt", inv: invocation(types.CommandInvocationStatusInProgress, "InProgress", "", -1), at: 40 * time.Second, noSentAt: true, wantPoll: 10},
		{name: "long under way", inv: invocation(types.CommandInvocationStatusInProgress, "InProgress", "", -1), at: 10 * time.Minute, wantPoll: 10},
		{name: "success", inv: invocation(types.CommandInvocationStatusSuccess, "Success", "", 0), at: time.Minute, wantDone: true},
		{name: "not visible yet", getErr: &types.InvocationDoesNotExist{Message: new("")}, at: 5 * time.Second, wantPoll: 1},
		{name: "never visible", getErr: &types.InvocationDoesNotExist{}, at: time.Hour, wantErr: faults.MaintenanceFailed, wantMsg: "no invocation appeared"},
		{name: "failed", inv: invocation(types.CommandInvocationStatusFailed, "Failed", "yum: lock held\n", 1), at: time.Minute,
			wantErr: faults.MaintenanceFailed, wantMsg: "ended Failed (Failed), exit code 1; stderr: yum: lock held"},
		{name: "failed health check", inv: invocation(types.CommandInvocationStatusFailed, "Failed", "curl: (7) Failed to connect", 7), at: time.Minute, failure: faults.HealthCheckFailed,
			wantErr: faults.HealthCheckFailed, wantMsg: "curl: (7) Failed to connect"},
		{name: "long stderr keeps its tail", inv: invocation(types.CommandInvocationStatusFailed, "Failed", long, 2), at: time.Minute,
			wantErr: faults.MaintenanceFailed, wantMsg: "the real reason"},
		{name: "timed out", inv: invocation(types.CommandInvocationStatusTimedOut, "Execution Timed Out", "", 124), at: time.Minute,
			wantErr: faults.MaintenanceFailed, wantMsg: "ended TimedOut (Execution Timed Out)"},
		{name: "cancelled", inv: invocation(types.CommandInvocationStatusCancelled, "Cancelled", "", -1), at: time.Minute, wantErr: faults.MaintenanceFailed},
		{name: "hung past the deadline is cancelled", inv: invocation(types.CommandInvocationStatusInProgress, "InProgress", "", -1), at: time.Hour,
			wantErr: faults.MaintenanceFailed, wantMsg: "still InProgress at the deadline", wantCancel: true},
		{name: "bad failure name", failure: "Oops", wantErr: faults.InvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSSM{invocation: tt.inv, getErr: tt.getErr}
			failure := tt.failure
			if failure == "" {
				failure = faults.MaintenanceFailed
			}
			req := CheckRequest{InstanceID: "i-0123456789abcdef0", CommandID: "c-1", Deadline: workflow.Deadline(start, 900), FailureName: failure,
				SentAt: workflow.Deadline(start, 0), FirstPollSeconds: 30, MaxPollSeconds: 10}
			if tt.noSentAt {
				req.SentAt, req.FirstPollSeconds, req.MaxPollSeconds = "", 0, 0
			}
			report, err := Runner{API: f, Now: func() time.Time { return start.Add(tt.at) }}.Check(context.Background(), req)
			if tt.wantErr != "" {
				var named *faults.Error
				if !errors.As(err, &named) || named.Name != tt.wantErr || !strings.Contains(named.Message, tt.wantMsg) {
					t.Fatalf("error = %v, want %s containing %q", err, tt.wantErr, tt.wantMsg)
				}
				if len(named.Message) > 2*tailBytes+300 {
					t.Errorf("message is %d bytes; the stderr tail must be bounded", len(named.Message))
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if report.Done != tt.wantDone {
				t.Errorf("done = %v, want %v", report.Done, tt.wantDone)
			}
			if report.PollSeconds != tt.wantPoll {
				t.Errorf("pollSeconds = %d, want %d", report.PollSeconds, tt.wantPoll)
			}
			if got := len(f.cancelled) > 0; got != tt.wantCancel {
				t.Errorf("cancelled = %v, want %v", f.cancelled, tt.wantCancel)
			}
		})
	}
}

func TestTail(t *testing.T) {
	if got := tail("héllo", 10); got != "héllo" {
		t.Errorf("short string changed: %q", got)
	}
	if got := tail("aé", 1); got != "..." {
		t.Errorf("cut inside a rune: %q", got)
	}
	if got := tail("abcdef", 3); got != "...def" {
		t.Errorf("tail = %q", got)
	}
}

// TestVerdict: a required check that succeeded says required or not from the last line of
// its output, or from a patch state newer than its Scan; anything else is no verdict.
func TestVerdict(t *testing.T) {
	id := "i-0123456789abcdef0"
	scan := func(end time.Duration, missing, failed int32, pending int32) types.InstancePatchState {
		at := start.Add(end)
		return types.InstancePatchState{InstanceId: &id, Operation: types.PatchOperationTypeScan, OperationEndTime: &at,
			MissingCount: missing, FailedCount: failed, InstalledPendingRebootCount: &pending}
	}
	install := scan(30*time.Second, 0, 0, 0)
	install.Operation = types.PatchOperationTypeInstall
	tests := []struct {
		name     string
		verdict  string
		stdout   string
		patch    []types.InstancePatchState
		at       time.Duration
		want     string // "required", "not-required", "pending" or an error name
		wantText string
	}{
		{name: "output required", verdict: workflow.VerdictOutput, stdout: "Reboot is required\nrequired\n", want: "required"},
		{name: "output not required", verdict: workflow.VerdictOutput, stdout: "not-required\n", want: "not-required"},
		{name: "output with no verdict", verdict: workflow.VerdictOutput, stdout: "maybe\n", want: faults.RequiredCheckFailed, wantText: `ends with "maybe"`},
		{name: "empty output", verdict: workflow.VerdictOutput, stdout: "", want: faults.RequiredCheckFailed},
		{name: "scan found missing patches", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{scan(30*time.Second, 3, 0, 0)}, want: "required", wantText: "3 patches missing"},
		{name: "scan found a pending reboot", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{scan(30*time.Second, 0, 0, 2)}, want: "required"},
		{name: "scan found failed patches", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{scan(30*time.Second, 0, 1, 0)}, want: "required"},
		{name: "a pending reboot, for an installation that reboots nothing", verdict: workflow.VerdictPatchStateNoReboot, patch: []types.InstancePatchState{scan(30*time.Second, 0, 0, 2)}, want: "not-required"},
		{name: "missing patches, for an installation that reboots nothing", verdict: workflow.VerdictPatchStateNoReboot, patch: []types.InstancePatchState{scan(30*time.Second, 1, 0, 2)}, want: "required"},
		{name: "scan found nothing", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{scan(30*time.Second, 0, 0, 0)}, want: "not-required"},
		{name: "a state older than the scan is not its verdict", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{scan(-time.Hour, 0, 0, 0)}, want: "pending"},
		{name: "an install's state is not a scan's", verdict: workflow.VerdictPatchState, patch: []types.InstancePatchState{install}, want: "pending"},
		{name: "no state yet", verdict: workflow.VerdictPatchState, want: "pending"},
		{name: "no state by the deadline", verdict: workflow.VerdictPatchState, at: time.Hour, want: faults.RequiredCheckFailed, wantText: "no patch state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := invocation(types.CommandInvocationStatusSuccess, "Success", "", 0)
			inv.StandardOutputContent = &tt.stdout
			f := &fakeSSM{invocation: inv, patch: tt.patch}
			req := CheckRequest{InstanceID: id, CommandID: "c-1", Deadline: workflow.Deadline(start, 900), FailureName: faults.RequiredCheckFailed,
				Verdict: tt.verdict, SentAt: workflow.Deadline(start, 0), MaxPollSeconds: 10}
			at := cmp.Or(tt.at, time.Minute)
			report, err := Runner{API: f, Now: func() time.Time { return start.Add(at) }}.Check(context.Background(), req)
			var got string
			switch {
			case err != nil:
				got = faults.NameOf(err)
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %v lacks %q", err, tt.wantText)
				}
			case !report.Done:
				got = "pending"
				if report.PollSeconds < 1 {
					t.Errorf("pending with pollSeconds %d", report.PollSeconds)
				}
			case report.Required == nil:
				t.Fatalf("done without a verdict: %+v", report)
			case *report.Required:
				got = "required"
			default:
				got = "not-required"
			}
			if got != tt.want {
				t.Errorf("got %s (%+v, %v), want %s", got, report, err, tt.want)
			}
			if err == nil && report.Done && !strings.Contains(report.Reason, tt.wantText) {
				t.Errorf("reason %q lacks %q", report.Reason, tt.wantText)
			}
		})
	}
}
