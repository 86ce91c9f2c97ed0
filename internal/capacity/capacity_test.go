package capacity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
	labdynamodb "github.com/drainpipe/drainpipe/lab/dynamodb"
)

const (
	web = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	api = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
)

func id(n int) string { return fmt.Sprintf("i-%017x", n) }

func targetsOf(arn string, states ...workflow.HealthState) []workflow.TargetState {
	var out []workflow.TargetState
	for i, s := range states {
		out = append(out, workflow.TargetState{TargetGroupARN: arn, ID: id(i), Port: 8080, State: s})
	}
	return out
}

// withThreshold gives the plan's group its own target_group_health thresholds.
func withThreshold(p workflow.Plan, count, percent int) workflow.Plan {
	p.TargetGroups = []workflow.TargetGroup{{ARN: web, ThresholdCount: count, ThresholdPercent: percent}}
	return p
}

// notServing marks the i-th target as healthy but not serving, for why.
func notServing(ts []workflow.TargetState, i int, why string) []workflow.TargetState {
	ts[i].NotServing = why
	return ts
}

func plan(instance int, floors map[string]int, allowLast bool) workflow.Plan {
	return workflow.Plan{InstanceID: id(instance), Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}},
		MinHealthyTargets: floors, AllowLastTarget: allowLast}
}

func TestDecide(t *testing.T) {
	hold := func(instance, floor int) Hold {
		return Hold{InstanceID: id(instance), Holder: fmt.Sprintf("exec-%d", instance), Floor: floor, ExpiresAt: time.Now().Add(time.Hour)}
	}
	holds := func(hs ...Hold) map[string]Hold {
		m := map[string]Hold{}
		for _, h := range hs {
			m[h.InstanceID] = h
		}
		return m
	}
	h := workflow.Healthy
	tests := []struct {
		name          string
		plan          workflow.Plan
		targets       []workflow.TargetState
		holds         map[string]Hold
		wantErr       string
		wantMsg       string
		wantRemaining int
		wantFloor     int
	}{
		{name: "lone, two healthy", plan: plan(0, nil, false), targets: targetsOf(web, h, h), wantRemaining: 1, wantFloor: 1},
		{name: "lone, the last healthy target", plan: plan(0, nil, false), targets: targetsOf(web, h),
			wantErr: faults.LastHealthyTarget, wantMsg: `"allowLastTarget": true`},
		{name: "lone, last target allowed", plan: plan(0, nil, true), targets: targetsOf(web, h), wantFloor: 0},
		{name: "lone, another target unhealthy on its own", plan: plan(0, nil, false), targets: targetsOf(web, h, h, "unhealthy"),
			wantErr: faults.TargetGroupUnhealthy, wantMsg: "no drainpipe execution has taken out"},
		{name: "lone, another target out under a reservation", plan: plan(0, nil, false), targets: targetsOf(web, h, h, "draining"),
			holds: holds(hold(2, 1)), wantRemaining: 1, wantFloor: 1},
		{name: "lone, the other healthy target is reserved", plan: plan(0, nil, false), targets: targetsOf(web, h, h),
			holds: holds(hold(1, 1)), wantErr: faults.CapacityUnavailable, wantMsg: "leaves 0 healthy target(s), below its floor of 1 (out now: " + id(1) + " (execution exec-1"},
		{name: "lone within a fleet's floor", plan: plan(0, nil, false), targets: targetsOf(web, h, h, h, h, h),
			holds: holds(hold(4, 3)), wantRemaining: 3, wantFloor: 3},
		{name: "lone below a fleet's floor", plan: plan(0, nil, false), targets: targetsOf(web, h, h, h, h),
			holds: holds(hold(3, 3)), wantErr: faults.CapacityUnavailable, wantMsg: "below the floor of 3 that execution exec-3 holds it to"},
		{name: "rollout child within its floor, siblings out", plan: plan(0, map[string]int{web: 2}, false), targets: targetsOf(web, h, h, h, "draining"),
			holds: holds(hold(3, 2)), wantRemaining: 2, wantFloor: 2},
		{name: "rollout child, a target unhealthy on its own counts for nothing", plan: plan(0, map[string]int{web: 2}, false),
			targets: targetsOf(web, h, h, "unhealthy", h), wantRemaining: 2, wantFloor: 2},
		{name: "rollout child below its floor", plan: plan(0, map[string]int{web: 3}, false), targets: targetsOf(web, h, h, h),
			wantErr: faults.CapacityUnavailable, wantMsg: "below its floor of 3 (nobody else is out)"},
		{name: "floor 0 allows the last target", plan: plan(0, map[string]int{web: 0}, false), targets: targetsOf(web, h), wantFloor: 0},
		{name: "instance not in the group", plan: plan(7, nil, false), targets: targetsOf(web, h, h),
			wantErr: faults.InstanceNotInTargetGroup},
		{name: "rollout child, a zonal shift away from a healthy target: not capacity", plan: plan(0, map[string]int{web: 2}, false),
			targets: notServing(targetsOf(web, h, h, h), 2, "zonal_shift_active"), wantErr: faults.CapacityUnavailable, wantMsg: "leaves 1 healthy target(s), below its floor of 2"},
		{name: "rollout child, an anomalous target: not capacity", plan: plan(0, map[string]int{web: 2}, false),
			targets: notServing(targetsOf(web, h, h, h, h), 1, "anomalous"), wantRemaining: 2, wantFloor: 2},
		{name: "rollout child, the group's own threshold above its floor", plan: withThreshold(plan(0, map[string]int{web: 1}, false), 3, 0),
			targets: targetsOf(web, h, h, h), wantErr: faults.CapacityUnavailable, wantMsg: "below the group's own target_group_health threshold of 3 healthy targets"},
		{name: "lone, the group's own percentage", plan: withThreshold(plan(0, nil, false), 1, 50), targets: targetsOf(web, h, h, h, h, h, h),
			wantRemaining: 5, wantFloor: 3},
		{name: "lone, allowLastTarget accepts an outage over the group's threshold", plan: withThreshold(plan(0, nil, true), 3, 0), targets: targetsOf(web, h, h),
			wantRemaining: 1, wantFloor: 0},
		{name: "lone, a shifted target: the group is not whole", plan: plan(0, nil, false),
			targets: notServing(targetsOf(web, h, h, h), 1, "zonal_shift_active"), wantErr: faults.TargetGroupUnhealthy, wantMsg: "but not serving (zonal_shift_active)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report, err := Decide(tt.plan, web, tt.targets, tt.holds)
			if tt.wantErr != "" {
				var named *faults.Error
				if !errors.As(err, &named) || named.Name != tt.wantErr || !strings.Contains(named.Message, tt.wantMsg) {
					t.Fatalf("error %v, want %s containing %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if report.Remaining != tt.wantRemaining || report.Floor != tt.wantFloor {
				t.Errorf("remaining %d floor %d, want %d and %d (%+v)", report.Remaining, report.Floor, tt.wantRemaining, tt.wantFloor, report)
			}
		})
	}
}

// table starts a DynamoDB (dynalite, a real implementation of the API and its expression
// grammar) with a capacity table.
func table(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	name := "drainpipe-capacity"
	return labdynamodb.ForTest(t, labdynamodb.Table{Name: name, PartitionKey: PartitionKey}), name
}

// groups is a fake ELB: DescribeTargetHealth of groups whose targets are all healthy.
type groups map[string][]string

func (g groups) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	var out elbv2.DescribeTargetHealthOutput
	for _, instance := range g[*in.TargetGroupArn] {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target:       &elbtypes.TargetDescription{Id: aws.String(instance), Port: aws.Int32(8080)},
			TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}})
	}
	return &out, nil
}

func request(tbl string, instance int, p workflow.Plan) Request {
	p.InstanceID = id(instance)
	p.Deadlines = workflow.Deadlines{DrainSeconds: 60, HealthySeconds: 60}
	return Request{State: workflow.State{Plan: p}, Execution: fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:m:e%d", instance), Table: tbl}
}

func TestReserveAndRelease(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	r := Reserver{DB: db, Health: targets.Checker{API: groups{web: {id(0), id(1)}, api: {id(0), id(2)}}}, Now: func() time.Time { return now }}
	ctx := context.Background()
	both := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}, {TargetGroupARN: api, Port: 8080}}}
	one := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}}}

	first := request(tbl, 0, both)
	res, err := r.Reserve(ctx, first)
	if err != nil || !res.Reserved || len(res.Groups) != 2 {
		t.Fatalf("first reservation: %+v, %v", res, err)
	}
	// Retrying the same reservation (a retried Task) renews it.
	if res, err := r.Reserve(ctx, first); err != nil || !res.Reserved {
		t.Fatalf("the same execution again: %+v, %v", res, err)
	}
	// web has two targets: with 0 out, 1 may not go (floor 1, lone).
	_, err = r.Reserve(ctx, request(tbl, 1, one))
	var named *faults.Error
	if !errors.As(err, &named) || named.Name != faults.CapacityUnavailable || !strings.Contains(named.Message, first.Execution) {
		t.Fatalf("second reservation: %v, want CapacityUnavailable naming %s", err, first.Execution)
	}
	// Another execution for the same instance is refused, naming the holder.
	other := first
	other.Execution += "-other"
	if _, err := r.Reserve(ctx, other); faults.NameOf(err) != faults.InstanceReserved || !strings.Contains(err.Error(), first.Execution) {
		t.Fatalf("a second execution for the instance: %v", err)
	}
	// A refused execution's release takes nothing of the holder's.
	if rel, err := r.Release(ctx, request(tbl, 1, one)); err != nil || rel.Instance || len(rel.Groups) != 0 {
		t.Fatalf("release by a refused execution: %+v, %v", rel, err)
	}
	rel, err := r.Release(ctx, first)
	if err != nil || !rel.Instance || len(rel.Groups) != 2 {
		t.Fatalf("release: %+v, %v", rel, err)
	}
	if rel, err := r.Release(ctx, first); err != nil || rel.Instance || len(rel.Groups) != 0 {
		t.Fatalf("a second release: %+v, %v", rel, err)
	}
	if res, err := r.Reserve(ctx, request(tbl, 1, one)); err != nil || !res.Reserved {
		t.Fatalf("after the release: %+v, %v", res, err)
	}
	// The holder's reservation lapses after its deadlines and the margin: then it counts
	// for nothing and is pruned by the next grant.
	now = now.Add(3 * time.Hour)
	if res, err := r.Reserve(ctx, request(tbl, 0, one)); err != nil || !res.Reserved {
		t.Fatalf("over an expired reservation: %+v, %v", res, err)
	}
	item, _ := r.get(ctx, tbl, GroupKey(web))
	if h := Ledger(item); len(h) != 1 || h[id(0)].Holder == "" {
		t.Errorf("ledger after pruning: %+v", h)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	r := Reserver{DB: db, Health: targets.Checker{API: groups{web: {id(0), id(1)}}}}
	req := request(tbl, 0, workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}}, DryRun: true})
	res, err := r.Reserve(context.Background(), req)
	if err != nil || res.Reserved || len(res.Groups) != 1 || res.Groups[0].Remaining != 1 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	out, _ := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &tbl})
	if len(out.Items) != 0 {
		t.Errorf("a dry run wrote %d items", len(out.Items))
	}
}

func TestWaitForCapacity(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	r := Reserver{DB: db, Health: targets.Checker{API: groups{web: {id(0), id(1)}}}, Now: func() time.Time { return now }}
	ctx := context.Background()
	one := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}}}
	if _, err := r.Reserve(ctx, request(tbl, 0, one)); err != nil {
		t.Fatal(err)
	}
	waiting := one
	waiting.CapacityWaitSeconds = 600
	req := request(tbl, 1, waiting)
	res, err := r.Reserve(ctx, req)
	if err != nil || res.Reserved || !strings.Contains(res.Waiting, "CapacityUnavailable") {
		t.Fatalf("waiting: %+v, %v", res, err)
	}
	req.State.Reservation = &res
	now = now.Add(5 * time.Minute)
	if res, err := r.Reserve(ctx, req); err != nil || res.Reserved || res.FirstTriedAt != req.State.Reservation.FirstTriedAt {
		t.Fatalf("still waiting: %+v, %v", res, err)
	}
	now = now.Add(6 * time.Minute)
	if _, err := r.Reserve(ctx, req); faults.NameOf(err) != faults.CapacityUnavailable {
		t.Fatalf("past the wait: %v", err)
	}
}

// TestConcurrentReservations: many executions ask at once for capacity in one group;
// however the writes interleave, no more are granted than the floor allows, and every
// one is granted or refused by name.
func TestConcurrentReservations(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	ctx := context.Background()
	const size, floor, askers, rounds = 8, 5, 8, 10
	var members []string
	for i := range size {
		members = append(members, id(i))
	}
	var conflicts atomic.Int64
	counting := countingDB{DynamoDBAPI: db, conflicts: &conflicts}
	for round := range rounds {
		r := Reserver{DB: counting, Health: targets.Checker{API: groups{web: members}}, Attempts: 64}
		var granted atomic.Int64
		var wg sync.WaitGroup
		var reqs []Request
		for i := range askers {
			req := request(tbl, i, workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}},
				MinHealthyTargets: map[string]int{web: floor}})
			req.Execution += fmt.Sprintf("-round%d", round)
			reqs = append(reqs, req)
			wg.Go(func() {
				res, err := r.Reserve(ctx, req)
				switch {
				case err == nil && res.Reserved:
					granted.Add(1)
				case faults.NameOf(err) == faults.CapacityUnavailable:
				default:
					t.Errorf("round %d, instance %d: %+v, %v", round, i, res, err)
				}
			})
		}
		wg.Wait()
		if n := granted.Load(); n != size-floor {
			t.Errorf("round %d: %d reservations granted, want exactly %d (8 targets, floor 5)", round, n, size-floor)
		}
		for _, req := range reqs {
			if _, err := r.Release(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d conditional writes lost to a concurrent grant over %d rounds", conflicts.Load(), rounds)
}

type countingDB struct {
	DynamoDBAPI
	conflicts *atomic.Int64
}

func (c countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.DynamoDBAPI.UpdateItem(ctx, in, opts...)
	if ddbitem.ConditionFailed(err) && strings.Contains(*in.ConditionExpression, "#version") {
		c.conflicts.Add(1)
	}
	return out, err
}

// liveGroup is a fake ELB of one group whose targets' states change; before answers lets
// a test act between a reader's request and its answer.
type liveGroup struct {
	mu     sync.Mutex
	order  []string
	states map[string]elbtypes.TargetHealthStateEnum
	before func()
}

func (g *liveGroup) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	g.mu.Lock()
	hook := g.before
	g.before = nil
	g.mu.Unlock()
	if hook != nil {
		hook()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out elbv2.DescribeTargetHealthOutput
	for _, instance := range g.order {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target: &elbtypes.TargetDescription{Id: aws.String(instance), Port: aws.Int32(8080)}, TargetHealth: &elbtypes.TargetHealth{State: g.states[instance]}})
	}
	return &out, nil
}

func (g *liveGroup) set(instance string, s elbtypes.TargetHealthStateEnum) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.states[instance] = s
}

// TestAReleasedInstanceThatIsNotBack: another execution reserves the group's other
// target, takes it out, fails, registers it again (not healthy yet) and releases its
// reservation while this execution is deciding. The decision must see it as it is now: the
// group would be left without a healthy target.
func TestAReleasedInstanceThatIsNotBack(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	ctx := context.Background()
	elb := &liveGroup{order: []string{id(0), id(1)}, states: map[string]elbtypes.TargetHealthStateEnum{id(0): "healthy", id(1): "healthy"}}
	r := Reserver{DB: db, Health: targets.Checker{API: elb}}
	one := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}}}
	other := request(tbl, 1, one)
	// It happens between this execution's first reads: after the ledger, before the
	// targets (the order the grant reads them in), and the other way round.
	for _, when := range []string{"before the first read", "between the reads"} {
		elb.set(id(1), "healthy")
		first := true
		db := readHook{DynamoDBAPI: db, before: func() {
			if first && when == "before the first read" {
				first = false
				failedAndBack(t, r, other, elb)
			}
		}}
		if when == "between the reads" {
			elb.before = func() { failedAndBack(t, r, other, elb) }
		}
		res, err := Reserver{DB: db, Health: targets.Checker{API: elb}}.Reserve(ctx, request(tbl, 0, one))
		if err == nil && res.Reserved {
			t.Fatalf("%s: granted while the only other target is %s", when, elb.states[id(1)])
		}
		if n := faults.NameOf(err); n != faults.TargetGroupUnhealthy {
			t.Errorf("%s: %v, want TargetGroupUnhealthy", when, err)
		}
	}
}

// failedAndBack: the other execution's reservation, deregistration, failure, registration
// and release.
func failedAndBack(t *testing.T, r Reserver, other Request, elb *liveGroup) {
	ctx := context.Background()
	if res, err := r.Reserve(ctx, other); err != nil || !res.Reserved {
		t.Errorf("the other execution: %+v, %v", res, err)
		return
	}
	elb.set(id(1), "draining")
	elb.set(id(1), "initial")
	if _, err := r.Release(ctx, other); err != nil {
		t.Error(err)
	}
}

// readHook runs before once before the first GetItem.
type readHook struct {
	DynamoDBAPI
	before func()
}

func (h readHook) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	h.before()
	return h.DynamoDBAPI.GetItem(ctx, in, opts...)
}

// TestExpiredEntryOfTheInstance: the instance's entry left by a holder whose reservation
// expired (it died, and nothing cleaned up) does not keep the instance from being
// reserved again.
func TestExpiredEntryOfTheInstance(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	r := Reserver{DB: db, Health: targets.Checker{API: groups{web: {id(0), id(1), id(2)}}}, Now: func() time.Time { return now }}
	one := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: web, Port: 8080}}}
	dead := request(tbl, 1, one)
	if res, err := r.Reserve(ctx, dead); err != nil || !res.Reserved {
		t.Fatal(res, err)
	}
	now = now.Add(3 * time.Hour)
	next := dead
	next.Execution += "-again"
	if res, err := r.Reserve(ctx, next); err != nil || !res.Reserved {
		t.Fatalf("the instance again after its holder's reservation expired: %+v, %v", res, err)
	}
	item, _ := r.get(ctx, tbl, GroupKey(web))
	if h := Ledger(item)[id(1)]; h.Holder != next.Execution {
		t.Errorf("the ledger holds %+v", h)
	}
}
