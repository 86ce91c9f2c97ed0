package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
	labdynamodb "github.com/drainpipe/drainpipe/lab/dynamodb"
)

func TestDecodeInput(t *testing.T) {
	ok := `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxConcurrency":2,"minHealthyPercent":75,"maxErrors":1,"notAfter":"2026-11-22T06:00:00Z","skipIfMaintainedWithin":"7d"}`
	tests := []struct {
		name, input, wantErr string
	}{
		{"valid", ok, ""},
		{"no groups", `{"maintenance":{"action":"patch"}}`, `"targetGroupArns" is required`},
		{"unknown field", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceId":"i-1"}`, `unknown field "instanceId"`},
		{"percent", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"minHealthyPercent":120}`, `"minHealthyPercent" must be between 0 and 100`},
		{"negative errors", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxErrors":-1}`, `"maxErrors" must be 0 or more`},
		{"window", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"notAfter":"tomorrow"}`, `"notAfter" "tomorrow" is not an RFC 3339 time`},
		{"resume", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"skipIfMaintainedWithin":"a week"}`, `is not a duration`},
		{"maintenance checked as the instance machine does", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"restart"}}`, `"maintenance.action" "restart" is unknown`},
		{"bad instance", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceIds":["x"]}`, `is not an EC2 instance id`},
		{"wider than an inline Map", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxConcurrency":41}`, `"maxConcurrency" must be between 1 and 40`},
		{"capacity wait", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"capacityWaitSeconds":-1}`, `"capacityWaitSeconds" must be between 0 and`},
		{"children's history", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"pollSeconds":1}`, `raise "pollSeconds" to at least`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeInput([]byte(tt.input))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := in.Budget(); b.MaxConcurrency != 2 || b.MinHealthyPercent != 75 || in.MaintainedWithin() != 7*24*time.Hour {
					t.Errorf("budget %+v, within %v", b, in.MaintainedWithin())
				}
				return
			}
			if faults.NameOf(err) != faults.InvalidInput || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want InvalidInput with %q", err, tt.wantErr)
			}
		})
	}
	in, _ := DecodeInput([]byte(`{"targetGroupArns":["` + web + `"],"maintenance":{"action":"reboot"}}`))
	if b := in.Budget(); b.MaxConcurrency != 1 || b.MinHealthyPercent != DefaultMinHealthyPercent {
		t.Errorf("defaults %+v", b)
	}
	child := in.ChildInput(id(1), []string{web}, map[string]int{web: 3})
	if err := child.Validate(); err != nil || child.MinHealthyTargets[web] != 3 || child.TargetGroupARNs[0] != web || child.CapacityWaitSeconds != DefaultCapacityWaitSeconds {
		t.Errorf("child input %+v: %v", child, err)
	}
}

// validName is Step Functions' rule for execution names.
var validName = regexp.MustCompile("^[^\\s<>{}\\[\\]?*\"#%\\\\^|~`$&,;:/]{1,80}$")

func TestNames(t *testing.T) {
	long := strings.Repeat("weekly-patch-", 6) // 78 characters
	for _, rollout := range []string{"weekly", long, long + "x", "1b4c1c9e-7c07-4a6e-8a4c-2f2f2f2f2f2f"} {
		child := ChildName(rollout, "i-0123456789abcdef0")
		if !validName.MatchString(child) || !strings.HasSuffix(child, "-i-0123456789abcdef0") || ChildName(rollout, "i-0123456789abcdef0") != child {
			t.Errorf("ChildName(%q) = %q (%d characters)", rollout, child, len(child))
		}
		if part := ContinuationName(rollout, 12); !validName.MatchString(part) || !strings.HasSuffix(part, "-part-12") {
			t.Errorf("ContinuationName(%q) = %q", rollout, part)
		}
	}
	if ChildName(long, "i-1") == ChildName(long+"x", "i-1") {
		t.Error("two long rollout names that differ at the end give the same child name")
	}
	if got, want := EstimateEvents(2, 1), partEvents+2*waveEvents+3*childEvents; got != want {
		t.Errorf("EstimateEvents = %d, want %d", got, want)
	}
	if ExecutionARN("arn:aws:states:eu-west-1:1:stateMachine:m", "n") != "arn:aws:states:eu-west-1:1:execution:m:n" {
		t.Error("ExecutionARN")
	}
}

// tables starts a DynamoDB (dynalite) with the capacity table and the rollouts table.
func tables(t *testing.T) *dynamodb.Client {
	t.Helper()
	return labdynamodb.ForTest(t, labdynamodb.Table{Name: "capacity", PartitionKey: capacity.PartitionKey},
		labdynamodb.Table{Name: "rollouts", PartitionKey: PartitionKey, SortKey: SortKey})
}

func TestLeases(t *testing.T) {
	t.Parallel()
	db := tables(t)
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := Locker{API: db, Now: func() time.Time { return now }}
	a, err := l.Acquire(ctx, "capacity", "a", []string{web, api}, 100)
	if err != nil || len(a.Held) != 2 || a.ExpiresAt != 1100 {
		t.Fatalf("a: %+v %v", a, err)
	}
	// b overlaps on api: refused, naming a, and its lease on the other group given back.
	other := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/other/0000000000000001"
	_, err = l.Acquire(ctx, "capacity", "b", []string{other, api}, 100)
	if faults.NameOf(err) != faults.RolloutInProgress || !strings.Contains(err.Error(), "locked by rollout a") {
		t.Errorf("b: %v", err)
	}
	if holder, _ := heldByOther(ctx, db, "capacity", other, "x", now); holder != "" {
		t.Errorf("b kept its lease on the group it did get (held by %q)", holder)
	}
	// After a's expiry, c takes over; a then releases only what is still its own.
	now = time.Unix(2000, 0)
	if _, err := l.Acquire(ctx, "capacity", "c", []string{api}, 100); err != nil {
		t.Errorf("taking over an expired lease: %v", err)
	}
	released, err := l.Release(ctx, "capacity", "a", []string{web, api})
	if err != nil || len(released) != 1 || released[0] != web {
		t.Errorf("a releases %v (%v); the lease c took over must stay", released, err)
	}
	if holder, _ := heldByOther(ctx, db, "capacity", api, "a", now); holder != "c" {
		t.Errorf("api is held by %q, want c", holder)
	}
	// Acquiring again renews: the same holder, a later expiry.
	now = time.Unix(3000, 0)
	first, _ := l.Acquire(ctx, "capacity", "e", []string{web}, 100)
	now = time.Unix(3050, 0)
	again, err := l.Acquire(ctx, "capacity", "e", []string{web}, 100)
	if err != nil || again.ExpiresAt != first.ExpiresAt+50 {
		t.Errorf("renewal: %+v then %+v, %v", first, again, err)
	}
}

type fakeTagger struct {
	mu     sync.Mutex
	tagged []string
}

func (f *fakeTagger) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tagged = append(f.tagged, in.Resources...)
	return &ec2.CreateTagsOutput{}, nil
}

// fakeSFN answers DescribeExecution from a map of execution ARN to status (absent: the
// execution does not exist).
type fakeSFN map[string]sfntypes.ExecutionStatus

func (f fakeSFN) DescribeExecution(_ context.Context, in *awssfn.DescribeExecutionInput, _ ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error) {
	status, ok := f[*in.ExecutionArn]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: ptr("Execution Does Not Exist")}
	}
	out := &awssfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: status}
	switch status {
	case sfntypes.ExecutionStatusSucceeded:
		out.Output = ptr(`{"phaseSeconds":{"drain":31}}`)
	case sfntypes.ExecutionStatusFailed:
		out.Error, out.Cause = ptr("MaintenanceFailed"), ptr("exit 1: "+strings.Repeat("x", 2000))
	}
	return out, nil
}

type fakeSNS struct{ messages []string }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.messages = append(f.messages, *in.Message)
	return &sns.PublishOutput{}, nil
}

const instanceMachine = "arn:aws:states:eu-west-1:123456789012:stateMachine:drainpipe-maintain-instance"

// newRollout writes a rollout of the given waves (instances numbered from 1, all in web)
// and one skip, and returns its state as plan-rollout would.
func newRollout(t *testing.T, db *dynamodb.Client, name string, in Input, sizes ...int) State {
	t.Helper()
	return newRolloutWithSkips(t, db, name, in, []Skip{{InstanceID: id(99), Reason: "not running"}}, sizes...)
}

func newRolloutWithSkips(t *testing.T, db *dynamodb.Client, name string, in Input, skips []Skip, sizes ...int) State {
	t.Helper()
	rollout := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:" + name
	in.TargetGroupARNs = []string{web}
	meta := Meta{ID: rollout, Name: name, Input: in, StartedAt: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC),
		Groups: []Group{{ARN: web, Healthy: 20, MinHealthy: 15, MaxOut: 5}}, Waves: len(sizes), Status: StatusRunning, Driver: rollout, Part: 1}
	var waves []WaveRecord
	n := 0
	for _, size := range sizes {
		var w WaveRecord
		for range size {
			n++
			w.Instances = append(w.Instances, WaveItem{InstanceID: id(n), Groups: []int{0}})
		}
		waves = append(waves, w)
		meta.Planned += size
	}
	meta.Skipped = len(skips)
	if _, err := (Store{DB: db, Table: "rollouts"}).Create(context.Background(), meta, waves, skips); err != nil {
		t.Fatal(err)
	}
	return State{Rollout: Ref{ID: rollout, Name: name, Execution: rollout, Part: 1, Table: "rollouts", CapacityTable: "capacity",
		TopicARN: "arn:aws:sns:eu-west-1:123456789012:drainpipe", InstanceStateMachineARN: instanceMachine},
		Cursor: Cursor{Waves: len(sizes), Events: EstimateEvents()}}
}

func childARN(s State, n int) string {
	return ExecutionARN(instanceMachine, ChildName(s.Rollout.Name, id(n)))
}

// TestWaves walks a rollout through the fleet's steps: leases, each wave's children with
// their names, inputs and floors, the results read from the children's executions, the
// error budget, the summary and the release.
func TestWaves(t *testing.T) {
	t.Parallel()
	db := tables(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	children := fakeSFN{}
	tagger, notes := &fakeTagger{}, &fakeSNS{}
	f := Fleet{DB: db, EC2: tagger, SFN: children, SNS: notes, Now: func() time.Time { return now }}
	s := newRollout(t, db, "nightly", Input{MaxErrors: 1, Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, 2, 2, 1)

	s, err := f.AcquireLeases(ctx, AcquireRequest{State: s, Execution: s.Rollout.ID})
	if err != nil || s.Leases == nil || len(s.Leases.Held) != 1 {
		t.Fatalf("leases: %+v, %v", s.Leases, err)
	}
	s, err = f.NextWave(ctx, s)
	if err != nil || len(s.Wave.Items) != 2 || s.Wave.Done || s.Wave.Continue {
		t.Fatalf("first wave: %+v, %v", s.Wave, err)
	}
	c := s.Wave.Items[0]
	raw, err := s.Wave.ChildInput(c)
	if err != nil {
		t.Fatal(err)
	}
	child, err := workflow.DecodeInput(raw) // as the instance state machine reads it
	if c.Name != "nightly-"+id(1) || err != nil || child.InstanceID != id(1) || child.MinHealthyTargets[web] != 15 ||
		child.Maintenance.Action != workflow.ActionReboot || child.CapacityWaitSeconds != DefaultCapacityWaitSeconds {
		t.Errorf("child %s: %+v, %v", raw, child, err)
	}
	if s.Cursor.Events != EstimateEvents(2) {
		t.Errorf("events %d, want %d", s.Cursor.Events, EstimateEvents(2))
	}
	// A child still running: record-wave waits (the state machine retries).
	children[childARN(s, 1)] = sfntypes.ExecutionStatusSucceeded
	children[childARN(s, 2)] = sfntypes.ExecutionStatusRunning
	if _, err := f.RecordWave(ctx, s); faults.NameOf(err) != faults.ChildRunning {
		t.Fatalf("a running child: %v", err)
	}
	children[childARN(s, 2)] = sfntypes.ExecutionStatusFailed
	after, err := f.RecordWave(ctx, s)
	if err != nil || after.Cursor.Wave != 1 || after.Cursor.Done || after.Wave != nil {
		t.Fatalf("after wave 1: %+v, %v", after.Cursor, err)
	}
	// Recording the same wave again (a retried call) counts it once.
	if again, err := f.RecordWave(ctx, s); err != nil || again.Cursor.Wave != 1 {
		t.Fatalf("recorded twice: %+v, %v", again.Cursor, err)
	}
	if meta, _ := (Store{DB: db, Table: "rollouts"}).Meta(ctx, s.Rollout.ID); meta.Failed != 1 || meta.Succeeded != 1 {
		t.Errorf("counts after a repeated record: %d succeeded, %d failed", meta.Succeeded, meta.Failed)
	}
	if len(tagger.tagged) < 1 || tagger.tagged[0] != id(1) {
		t.Errorf("tagged %v", tagger.tagged)
	}
	// Wave 2: one more failure (id(4) never started) spends the error budget of 1.
	s, _ = f.NextWave(ctx, after)
	children[childARN(s, 3)] = sfntypes.ExecutionStatusSucceeded
	s, err = f.RecordWave(ctx, s)
	if err != nil || !s.Cursor.Done || !s.Cursor.Aborted || !strings.Contains(s.Cursor.StopReason, "more than maxErrors 1") {
		t.Fatalf("after wave 2: %+v, %v", s.Cursor, err)
	}
	if next, _ := f.NextWave(ctx, s); !next.Wave.Done {
		t.Errorf("a wave after the abort: %+v", next.Wave)
	}
	released, err := f.ReleaseLeases(ctx, s)
	if err != nil || len(released) != 1 {
		t.Errorf("released %v, %v", released, err)
	}
	sum, err := f.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcome != OutcomeAborted || sum.Counts != (Counts{Planned: 5, Succeeded: 2, Failed: 2, Skipped: 1, NotStarted: 1}) || sum.Waves != 3 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Instances[0].Succeeded || len(sum.Instances[0].Cause) > 1003 || sum.Instances[1].Error != "NotStarted" {
		t.Errorf("failures first, causes bounded: %+v", sum.Instances[:2])
	}
	if len(notes.messages) != 1 || !strings.Contains(notes.messages[0], "FAILED "+id(2)) || !strings.Contains(notes.messages[0], "not started: "+id(5)) {
		t.Errorf("notification %v", notes.messages)
	}
}

// TestContinueAsNew: when a wave would take the execution's history past the budget, the
// rollout is handed over; the continuation takes it over and the first execution can no
// longer release its leases.
func TestContinueAsNew(t *testing.T) {
	t.Parallel()
	db := tables(t)
	ctx := context.Background()
	f := Fleet{DB: db, EC2: &fakeTagger{}, SFN: fakeSFN{}, SNS: &fakeSNS{}}
	s := newRollout(t, db, "big", Input{}, 40, 40)
	s, err := f.AcquireLeases(ctx, AcquireRequest{State: s, Execution: s.Rollout.ID})
	if err != nil {
		t.Fatal(err)
	}
	s.Cursor.Events = PartEventBudget - WaveEvents(40) + 1
	s, err = f.NextWave(ctx, s)
	if err != nil || !s.Wave.Continue || len(s.Wave.Items) != 0 || s.Wave.ContinuationName != "big-part-2" {
		t.Fatalf("next wave at the budget: %+v, %v", s.Wave, err)
	}
	part2 := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:big-part-2"
	handed := s.Wave.ContinuationInput.State
	taken, err := f.AcquireLeases(ctx, AcquireRequest{State: handed, Execution: part2})
	if err != nil || taken.Rollout.Part != 2 || taken.Rollout.Execution != part2 || taken.Cursor.Events != EstimateEvents() {
		t.Fatalf("the continuation: %+v, %v", taken.Rollout, err)
	}
	if released, err := f.ReleaseLeases(ctx, s); err != nil || len(released) != 0 {
		t.Errorf("the first part released %v (%v) after handing over", released, err)
	}
	// A second execution cannot take over from the first any more.
	if _, err := f.AcquireLeases(ctx, AcquireRequest{State: handed, Execution: part2 + "-again"}); faults.NameOf(err) != faults.RolloutInProgress {
		t.Errorf("a second continuation: %v", err)
	}
	next, err := f.NextWave(ctx, taken)
	if err != nil || len(next.Wave.Items) != 40 {
		t.Errorf("the continuation's wave: %+v, %v", next.Wave, err)
	}
}

// TestSummaryIsBounded: a rollout of thousands of instances summarizes in a bounded
// output; the table keeps the rest.
func TestSummaryIsBounded(t *testing.T) {
	t.Parallel()
	db := tables(t)
	ctx := context.Background()
	sizes := make([]int, 300)
	for i := range sizes {
		sizes[i] = 10
	}
	f := Fleet{DB: db, EC2: &fakeTagger{}, SFN: fakeSFN{}, SNS: &fakeSNS{}}
	s := newRollout(t, db, "wide", Input{DryRun: true}, sizes...)
	s.Rollout.DryRun = true
	sum, err := f.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Planned != 3000 || len(sum.Plan.Waves) != PlanListLimit/10 || !sum.Truncated || sum.Outcome != OutcomeDryRun {
		t.Errorf("counts %+v, %d waves listed, truncated %v", sum.Counts, len(sum.Plan.Waves), sum.Truncated)
	}
	if n := len(fmt.Sprint(sum)); n > 64*1024 {
		t.Errorf("summary of %d bytes", n)
	}
}

// TestSummaryOfManyFailures: the largest summary the bounds allow (a hundred failures
// with long causes, a hundred skips with long reasons, a thousand instances in the plan)
// stays far below Step Functions' 256 KiB, as JSON.
func TestSummaryOfManyFailures(t *testing.T) {
	t.Parallel()
	db := tables(t)
	ctx := context.Background()
	sizes := make([]int, 150)
	for i := range sizes {
		sizes[i] = 10
	}
	failing := fakeSFN{}
	f := Fleet{DB: db, EC2: &fakeTagger{}, SFN: failing, SNS: &fakeSNS{}}
	var skips []Skip
	for i := range 150 {
		skips = append(skips, Skip{InstanceID: id(5000 + i), Reason: strings.Repeat("not healthy: port 8080 in web is unhealthy; ", 10)})
	}
	s := newRolloutWithSkips(t, db, "failing", Input{MaxErrors: 2000, Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, skips, sizes...)
	for w := range 12 {
		var err error
		if s, err = f.NextWave(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Wave.Items {
			failing[ExecutionARN(instanceMachine, c.Name)] = sfntypes.ExecutionStatusFailed
		}
		if s, err = f.RecordWave(ctx, s); err != nil || s.Cursor.Wave != w+1 {
			t.Fatal(s.Cursor, err)
		}
	}
	sum, err := f.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sum)
	if sum.Counts.Failed != 120 || sum.Counts.Skipped != 150 || len(sum.Instances) != ListLimit || len(sum.Skipped) != ListLimit || len(raw) > 128*1024 {
		t.Errorf("%d failed, %d listed, %d bytes of JSON", sum.Counts.Failed, len(sum.Instances), len(raw))
	}
	t.Logf("summary of 120 failures: %d bytes of JSON", len(raw))
}
