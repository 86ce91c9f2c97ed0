package awsapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/labtest"
	labssm "github.com/drainpipe/drainpipe/lab/ssm"
)

type fleet map[string]*instance.Instance

func (f fleet) Instance(id string) (*instance.Instance, bool) { i, ok := f[id]; return i, ok }

// noEC2 is an account's EC2 with no instance: DescribeInstancePatchStates does not ask it.
type noEC2 struct{}

func (noEC2) Describe([]string) []awsapi.Instance          { return nil }
func (noEC2) CreateTags([]string, map[string]string) error { return nil }

// patchLab: an endpoint serving an SSM executor of n simulated instances, and a client of
// it that does not retry.
func patchLab(t *testing.T, n int) (*labssm.Executor, []string, *ssm.Client) {
	t.Helper()
	c := clock.New(0.01)
	f := fleet{}
	var ids []string
	for k := range n {
		id := fmt.Sprintf("i-%017x", k+1)
		inst := instance.New(id, "127.0.0.1", []int{0}, 1, c)
		inst.Simulated = true
		if err := inst.Start(); err != nil {
			t.Fatal(err)
		}
		f[id] = inst
		ids = append(ids, id)
	}
	e := labssm.New(c, f, t.TempDir())
	e.PatchSeconds, e.ScanSeconds, e.VisibleAfterSeconds = 2, 1, 0
	t.Cleanup(e.Close)
	s, err := awsapi.Start(awsapi.Backends{SSM: e, EC2: noEC2{}}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	return e, ids, ssm.NewFromConfig(cfg)
}

// patch runs AWS-RunPatchBaseline on the instances and waits for it to succeed.
func patch(t *testing.T, e *labssm.Executor, ids []string, op, option string) {
	t.Helper()
	cmd, err := e.SendCommand("AWS-RunPatchBaseline", ids, map[string][]string{"Operation": {op}, "RebootOption": {option}}, 60, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		labtest.WaitFor(t, 10*time.Second, 2*time.Millisecond, op+" on "+id, func() (bool, any) {
			inv, err := e.GetCommandInvocation(cmd, id)
			if err != nil {
				return false, err
			}
			if inv.Status != labssm.StatusPending && inv.Status != labssm.StatusInProgress && inv.Status != labssm.StatusSuccess {
				t.Fatalf("%s on %s: %+v", op, id, inv)
			}
			return inv.Status == labssm.StatusSuccess, inv.Status
		})
	}
}

// near: the wire's epoch seconds keep milliseconds.
func near(got *time.Time, want time.Time) bool {
	return got != nil && got.Sub(want).Abs() <= time.Millisecond
}

// TestDescribeInstancePatchStatesWire: the SDK decodes the lab's patch states, one per
// instance a Scan or an Install ran on (none for the others), in pages of MaxResults, and
// the API's errors.
func TestDescribeInstancePatchStatesWire(t *testing.T) {
	e, ids, c := patchLab(t, 12)
	ctx := context.Background()
	patch(t, e, ids[:1], "Install", "NoReboot")
	patch(t, e, ids[1:2], "Scan", "RebootIfNeeded")

	out, err := c.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids[:3]})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.InstancePatchStates) != 2 || out.NextToken != nil {
		t.Fatalf("states %+v, next %v; want the two patched instances' on one page", out.InstancePatchStates, out.NextToken)
	}
	for k, tt := range []struct {
		op                       ssmtypes.PatchOperationType
		reboot                   ssmtypes.RebootOption
		missing, installed, pend int32
	}{
		{ssmtypes.PatchOperationTypeInstall, ssmtypes.RebootOptionNoReboot, 0, 0, 3},
		{ssmtypes.PatchOperationTypeScan, ssmtypes.RebootOptionRebootIfNeeded, 3, 0, 0},
	} {
		got := out.InstancePatchStates[k]
		want, _ := e.PatchState(ids[k])
		if aws.ToString(got.InstanceId) != ids[k] || aws.ToString(got.BaselineId) != awsapi.BaselineID || got.PatchGroup == nil || *got.PatchGroup != "" ||
			got.Operation != tt.op || got.RebootOption != tt.reboot {
			t.Errorf("state %d: %s %s group %v %s %s", k, aws.ToString(got.InstanceId), aws.ToString(got.BaselineId), got.PatchGroup, got.Operation, got.RebootOption)
		}
		if !near(got.OperationStartTime, want.OperationStartTime) || !near(got.OperationEndTime, want.OperationEndTime) || !got.OperationEndTime.After(*got.OperationStartTime) {
			t.Errorf("state %d: operation %v to %v, want %v to %v", k, got.OperationStartTime, got.OperationEndTime, want.OperationStartTime, want.OperationEndTime)
		}
		if (tt.op == ssmtypes.PatchOperationTypeInstall) != (got.LastNoRebootInstallOperationTime != nil) {
			t.Errorf("state %d: LastNoRebootInstallOperationTime %v", k, got.LastNoRebootInstallOperationTime)
		}
		if got.MissingCount != tt.missing || got.InstalledCount != tt.installed || aws.ToInt32(got.InstalledPendingRebootCount) != tt.pend ||
			got.InstalledOtherCount != 0 || got.InstalledRejectedCount == nil || *got.InstalledRejectedCount != 0 || got.FailedCount != 0 || got.NotApplicableCount != 0 {
			t.Errorf("state %d: missing %d installed %d pending %v other %d rejected %v failed %d n/a %d", k, got.MissingCount, got.InstalledCount,
				got.InstalledPendingRebootCount, got.InstalledOtherCount, got.InstalledRejectedCount, got.FailedCount, got.NotApplicableCount)
		}
	}

	// Pages of 10.
	patch(t, e, ids, "Scan", "")
	var pages, states int
	for p := ssm.NewDescribeInstancePatchStatesPaginator(c, &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids, MaxResults: aws.Int32(10)}); p.HasMorePages(); pages++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		states += len(page.InstancePatchStates)
	}
	if pages != 2 || states != 12 {
		t.Errorf("%d states in %d pages, want 12 in 2", states, pages)
	}

	many := make([]string, 51)
	for k := range many {
		many[k] = ids[0]
	}
	for _, tt := range []struct {
		name string
		in   *ssm.DescribeInstancePatchStatesInput
		code string
	}{
		{"MaxResults under 10", &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids, MaxResults: aws.Int32(5)}, "ValidationException"},
		{"MaxResults over 100", &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids, MaxResults: aws.Int32(101)}, "ValidationException"},
		{"51 instances", &ssm.DescribeInstancePatchStatesInput{InstanceIds: many}, "ValidationException"},
		{"not an instance id", &ssm.DescribeInstancePatchStatesInput{InstanceIds: []string{"web-1"}}, "ValidationException"},
		{"bad token", &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids, NextToken: aws.String("nope")}, "InvalidNextToken"},
	} {
		if _, err := c.DescribeInstancePatchStates(ctx, tt.in); code(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if out, err := c.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: []string{}}); err != nil || len(out.InstancePatchStates) != 0 {
		t.Errorf("no instance: %+v, %v", out, err)
	}
}
