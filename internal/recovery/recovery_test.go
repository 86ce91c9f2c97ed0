package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
	labdynamodb "github.com/drainpipe/drainpipe/lab/dynamodb"
)

const (
	web      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	api      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
	instance = "i-0123456789abcdef0"
	other    = "i-0aaaaaaaaaaaaaaa1"
	console  = "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-instance:console-1"
)

func tables(t *testing.T) *dynamodb.Client {
	t.Helper()
	return labdynamodb.ForTest(t, labdynamodb.Table{Name: "capacity", PartitionKey: ddbitem.CapacityKey},
		labdynamodb.Table{Name: "rollouts", PartitionKey: rollout.PartitionKey, SortKey: rollout.SortKey})
}

// fakes records what recovery does to ELB, SSM, SNS and Step Functions; running are the
// executions still running.
type fakes struct {
	mu         sync.Mutex
	registered []string
	cancelled  []string
	messages   []string
	running    map[string]bool
	stopped    []string
	// inStandby are the instances in Standby in Auto Scaling group web-asg; exited those
	// taken out of it.
	inStandby map[string]bool
	exited    []string
}

func (f *fakes) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	for _, id := range in.InstanceIds {
		state := "InService"
		if f.inStandby[id] {
			state = "Standby"
		}
		out.AutoScalingInstances = append(out.AutoScalingInstances, astypes.AutoScalingInstanceDetails{InstanceId: new(id), AutoScalingGroupName: new("web-asg"), LifecycleState: new(state)})
	}
	return out, nil
}

func (f *fakes) EnterStandby(context.Context, *autoscaling.EnterStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return nil, fmt.Errorf("recovery never enters Standby")
}

func (f *fakes) ExitStandby(_ context.Context, in *autoscaling.ExitStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range in.InstanceIds {
		delete(f.inStandby, id)
		f.exited = append(f.exited, id)
	}
	return &autoscaling.ExitStandbyOutput{}, nil
}

func (f *fakes) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[*in.ExecutionArn] {
		return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning}, nil
	}
	return nil, &sfntypes.ExecutionDoesNotExist{Message: new("Execution Does Not Exist")}
}

func (f *fakes) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, *in.ExecutionArn)
	delete(f.running, *in.ExecutionArn)
	return &sfn.StopExecutionOutput{}, nil
}

func (f *fakes) RegisterTargets(_ context.Context, in *elbv2.RegisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range in.Targets {
		f.registered = append(f.registered, fmt.Sprintf("%s %s:%d", workflow.GroupName(*in.TargetGroupArn), *t.Id, *t.Port))
	}
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (f *fakes) DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	panic("recovery never deregisters")
}

func (f *fakes) ListCommands(_ context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	return &ssm.ListCommandsOutput{Commands: []ssmtypes.Command{
		{CommandId: new("c-running"), Comment: new("drainpipe reboot"), Status: ssmtypes.CommandStatusInProgress},
		{CommandId: new("c-done"), Comment: new("drainpipe reboot"), Status: ssmtypes.CommandStatusSuccess},
		{CommandId: new("c-theirs"), Comment: new("someone else's"), Status: ssmtypes.CommandStatusInProgress},
	}}, nil
}

func (f *fakes) CancelCommand(_ context.Context, in *ssm.CancelCommandInput, _ ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, *in.CommandId)
	return &ssm.CancelCommandOutput{}, nil
}

func (f *fakes) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = append(f.messages, *in.Message)
	return &sns.PublishOutput{}, nil
}

// reserve takes the instance out under a reservation held by holder, as reserve-capacity
// does.
func reserve(t *testing.T, db *dynamodb.Client, id, holder string, regs ...workflow.Registration) {
	t.Helper()
	ids := []string{id, other}
	var state workflow.State
	state.InstanceID, state.Registrations = id, regs
	r := capacity.Reserver{DB: db, Health: targets.Checker{API: healthy(ids)}}
	if res, err := r.Reserve(context.Background(), capacity.Request{State: state, Execution: holder, Table: "capacity"}); err != nil || !res.Reserved {
		t.Fatalf("reserving %s: %+v, %v", id, res, err)
	}
}

func event(execution, status string, input any) Event {
	var e Event
	raw, _ := json.Marshal(input)
	e.Detail.ExecutionARN, e.Detail.Status, e.Detail.Input = execution, status, string(raw)
	return e
}

func TestRestoreInstance(t *testing.T) {
	t.Parallel()
	db := tables(t)
	f := &fakes{inStandby: map[string]bool{instance: true}}
	rec := Recoverer{ELB: f, SSM: f, SFN: f, DB: db, SNS: f, Standby: standby.Mover{API: f}}
	ctx := context.Background()
	reserve(t, db, instance, console, workflow.Registration{TargetGroupARN: web, Port: 8080}, workflow.Registration{TargetGroupARN: api, Port: 9091})
	req := Request{Event: event(console, "ABORTED", map[string]any{"instanceId": instance}), Restorer: "restore-1",
		Table: "capacity", RolloutTable: "rollouts", TopicARN: "topic"}

	// Another execution's end touches nothing of this one's.
	otherReq := req
	otherReq.Event = event(console+"-other", "FAILED", map[string]any{"instanceId": instance})
	if rep, err := rec.Restore(ctx, otherReq); err != nil || rep.Text != "" || len(f.registered) != 0 {
		t.Fatalf("another execution's end: %+v, %v, registered %v", rep, err, f.registered)
	}
	// A second restore of the same end, while the first has claimed it, does nothing.
	if _, claimed, err := (capacity.Reserver{DB: db}).Claim(ctx, "capacity", instance, console, "restore-2"); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if rep, err := rec.Restore(ctx, req); err != nil || rep.Text != "" || len(f.registered) != 0 {
		t.Fatalf("a restore of an end another restore has claimed: %+v, %v", rep, err)
	}
	req.Restorer = "restore-2"
	rep, err := rec.Restore(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"web " + instance + ":8080", "api " + instance + ":9091"}; strings.Join(f.registered, ",") != strings.Join(want, ",") {
		t.Errorf("registered %v, want %v", f.registered, want)
	}
	if strings.Join(f.cancelled, ",") != "c-running" {
		t.Errorf("cancelled %v, want only drainpipe's running command", f.cancelled)
	}
	if rep.Released == nil || !rep.Released.Instance || len(rep.Released.Groups) != 2 {
		t.Errorf("released %+v", rep.Released)
	}
	if len(f.messages) != 1 || !strings.Contains(f.messages[0], "Registered it again on web:8080, api:9091") ||
		!strings.Contains(f.messages[0], "Took it out of Standby in Auto Scaling group web-asg") {
		t.Errorf("notification %v", f.messages)
	}
	if strings.Join(f.exited, ",") != instance || rep.ExitedStandby != "web-asg" {
		t.Errorf("taken out of Standby: %v (%q), want %s", f.exited, rep.ExitedStandby, instance)
	}
	// The restore is done: a repeated event changes nothing.
	if rep, err := rec.Restore(ctx, req); err != nil || rep.Text != "" || len(f.registered) != 2 {
		t.Errorf("a repeated event: %+v, %v, registered %v", rep, err, f.registered)
	}
}

func TestRestoreRollout(t *testing.T) {
	t.Parallel()
	db := tables(t)
	f := &fakes{}
	rec := Recoverer{ELB: f, SSM: f, SFN: f, DB: db, SNS: f, Standby: standby.Mover{API: f}}
	ctx := context.Background()
	id := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:nightly"
	store := rollout.Store{DB: db, Table: "rollouts"}
	in := rollout.Input{TargetGroupARNs: []string{web}}
	meta := rollout.Meta{ID: id, Name: "nightly", Input: in, StartedAt: time.Now(), Groups: []waveplan.Group{{ARN: web}}, Waves: 1,
		Status: rollout.StatusRunning, Driver: id, Part: 1}
	if _, err := store.Create(ctx, meta, []rollout.WaveRecord{{Instances: []rollout.WaveItem{{InstanceID: instance, Groups: []int{0}}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := (leases.Locker{API: db}).Acquire(ctx, "capacity", id, []string{web}, 3600); err != nil {
		t.Fatal(err)
	}
	child := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-instance:" + rollout.ChildName("nightly", instance)
	reserve(t, db, instance, child, workflow.Registration{TargetGroupARN: web, Port: 8080})
	req := Request{Restorer: "restore-1", Table: "capacity", RolloutTable: "rollouts", TopicARN: "topic"}

	// A part that handed the rollout to a continuation leaves it to that one.
	part1 := id
	if err := store.Claim(ctx, id, id, id+"-part-2", 2); err != nil {
		t.Fatal(err)
	}
	req.Event = event(part1, "ABORTED", in)
	if rep, err := rec.Restore(ctx, req); err != nil || rep.Text != "" || len(rep.LeasesReleased) != 0 {
		t.Fatalf("the end of a part that no longer drives the rollout: %+v, %v", rep, err)
	}
	// The driver's end while its child still runs (it failed, its wave's Map gave up): the
	// child is stopped, not pulled out from under; its own end restores its instance.
	f.running = map[string]bool{child: true}
	req.Event = event(id+"-part-2", "FAILED", map[string]any{"continuation": rollout.State{Rollout: rollout.Ref{ID: id}}})
	rep, err := rec.Restore(ctx, req)
	if err != nil || len(rep.Stopped) != 1 || len(f.registered) != 0 || len(rep.LeasesReleased) != 1 {
		t.Fatalf("a running child: %+v, %v, registered %v", rep, err, f.registered)
	}
	if m, _ := store.Meta(ctx, id); m.Status != "failed" {
		t.Errorf("the rollout's status is %q, want failed", m.Status)
	}
	// Its end (the child's own event) puts the instance back.
	req.Event = event(child, "ABORTED", map[string]any{"instanceId": instance})
	rep, err = rec.Restore(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.registered) != 1 || !strings.Contains(rep.Text, "Registered it again on web:8080") {
		t.Errorf("report %+v, registered %v", rep, f.registered)
	}
}

// healthy is a fake ELB whose groups hold the instances, all healthy.
type healthy []string

func (h healthy) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	var out elbv2.DescribeTargetHealthOutput
	for _, id := range h {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, targetHealth(id))
	}
	return &out, nil
}

func targetHealth(id string) elbtypes.TargetHealthDescription {
	return elbtypes.TargetHealthDescription{Target: &elbtypes.TargetDescription{Id: new(id), Port: new(int32(8080))},
		TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}}
}
