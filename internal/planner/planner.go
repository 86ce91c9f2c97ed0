// Package planner runs plan-rollout, the fleet state machine's first step: it validates
// the fleet input, reads the fleet (every registration from Elastic Load Balancing through
// package targets, the instances from EC2, their SSM agents), skips with a stated reason
// the instances it must not touch, plans waves within the capacity budget (package
// waveplan) and writes the plan to the rollouts table. It changes nothing else.
package planner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/eligible"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// EC2API is the part of the EC2 client the planner uses.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// SSMAPI is the part of the SSM client the planner uses.
type SSMAPI interface {
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, opts ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

// ELBAPI is the part of the ELBv2 client the planner uses.
type ELBAPI interface {
	targets.RegistrationsAPI
	targets.AttributesAPI
}

// Planner validates a fleet input and plans it.
type Planner struct {
	ELB ELBAPI
	EC2 EC2API
	SSM SSMAPI
	// DB reads the leases (to say at once that another rollout holds a group) and writes
	// the plan to the rollouts table.
	DB PlannerDB
	// Now is the clock; nil means time.Now.
	Now clock.Clock
}

// New makes a Planner whose clients are made from an AWS config.
func New(cfg aws.Config) Planner {
	return Planner{ELB: elbv2.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), DB: dynamodb.NewFromConfig(cfg)}
}

// PlannerDB is the part of the DynamoDB client the planner uses.
type PlannerDB interface {
	leases.LeaseReader
	rollout.StoreAPI
}

// PlanRequest is the input of plan-rollout: the execution input, the execution, and
// where the deployment keeps things.
type PlanRequest struct {
	Input                   json.RawMessage `json:"input"`
	Execution               string          `json:"execution"`
	ExecutionName           string          `json:"executionName"`
	RolloutTable            string          `json:"rolloutTable"`
	CapacityTable           string          `json:"capacityTable"`
	TopicARN                string          `json:"topicArn"`
	InstanceStateMachineARN string          `json:"instanceStateMachineArn"`
	// InstanceTag is the deployment's instanceTag: its functions may send commands only to
	// instances that carry it, so an instance without it is skipped.
	InstanceTag workflow.Tag `json:"instanceTag"`
}

// Plan validates the input, finds the instances, skips with a stated reason those it
// must not touch, plans the waves and writes the plan to the rollouts table. It changes
// nothing else.
func (p Planner) Plan(ctx context.Context, req PlanRequest) (rollout.State, error) {
	if req.Execution == "" || req.ExecutionName == "" || req.RolloutTable == "" || req.CapacityTable == "" || req.InstanceStateMachineARN == "" || req.InstanceTag.Key == "" {
		return rollout.State{}, faults.New(faults.InvalidInput, "plan-rollout needs execution, executionName, rolloutTable, capacityTable, instanceStateMachineArn and instanceTag.key")
	}
	in, err := rollout.DecodeInput(req.Input)
	if err != nil {
		return rollout.State{}, err
	}
	now := p.Now.Now
	groups, err := targets.InstanceGroups(ctx, p.ELB, in.TargetGroupARNs)
	if err != nil {
		return rollout.State{}, err
	}
	// Every child would refuse a group whose drain cuts requests: refuse the rollout now.
	var settings []workflow.TargetGroup
	for _, g := range groups {
		s, err := targets.GroupSettings(ctx, p.ELB, g)
		if err != nil {
			return rollout.State{}, err
		}
		settings = append(settings, s)
	}
	if err := workflow.CheckDeregistrationDelays(settings, in.AcceptRequestLoss); err != nil {
		return rollout.State{}, err
	}
	// Another rollout's instances being out would read as missing capacity: say first
	// that it runs. (acquire-leases takes the leases atomically; this only reads.)
	for _, arn := range in.TargetGroupARNs {
		holder, err := leases.HeldByOther(ctx, p.DB, req.CapacityTable, arn, req.Execution, now())
		if err != nil {
			return rollout.State{}, err
		}
		if holder != "" {
			return rollout.State{}, faults.New(faults.RolloutInProgress, "target group %s is locked by rollout %s; wait for it to end (or for its lease to expire)", workflow.GroupName(arn), holder)
		}
	}
	regs, err := p.registrations(ctx)
	if err != nil {
		return rollout.State{}, err
	}
	inRollout := func(arn string) bool { return slices.Contains(in.TargetGroupARNs, arn) }
	var targets []waveplan.Target
	candidates := map[string]bool{}
	for _, t := range flatten(regs) {
		if inRollout(t.GroupARN) {
			targets = append(targets, t)
			candidates[t.InstanceID] = true
		}
	}
	for _, id := range in.InstanceIDs {
		if !candidates[id] {
			return rollout.State{}, faults.New(faults.InstanceNotInTargetGroup, "instance %s in \"instanceIds\" is not registered in any of the rollout's target groups", id)
		}
	}
	ids := sortedIDs(candidates)
	if len(in.InstanceIDs) > 0 {
		ids = slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(in.InstanceIDs, id) })
	}
	instances, err := p.instances(ctx, ids)
	if err != nil {
		return rollout.State{}, err
	}
	online, err := p.online(ctx, ids)
	if err != nil {
		return rollout.State{}, err
	}
	var plannable []string
	var skipped []rollout.Skip
	skip := func(id, format string, args ...any) {
		skipped = append(skipped, rollout.Skip{InstanceID: id, Reason: fmt.Sprintf(format, args...)})
	}
	for _, id := range ids {
		inst, found := instances[id]
		switch {
		case !found:
			skip(id, "not an EC2 instance this account can describe")
		case !matchesTags(inst, in.Tags):
			continue // narrowed out by "tags", not a skip
		case inst.State == nil || inst.State.Name != ec2types.InstanceStateNameRunning:
			skip(id, "not running (state %s)", stateName(inst))
		case eligible.Reason(inst, req.InstanceTag) != "":
			skip(id, "%s", eligible.Reason(inst, req.InstanceTag))
		case recentlyMaintained(inst, now(), in.MaintainedWithin()) != "":
			skip(id, "maintained at %s, within %s", recentlyMaintained(inst, now(), in.MaintainedWithin()), in.SkipIfMaintainedWithin)
		case online[id] != string(ssmtypes.PingStatusOnline):
			skip(id, "not managed by SSM (ping status %s): Run Command cannot reach it", orNone(online[id]))
		case outside(regs[id], inRollout) != "":
			skip(id, "also registered in target group %s, which is not in targetGroupArns: rebooting it would drop that group's requests; add the group to the rollout", outside(regs[id], inRollout))
		case unhealthy(regs[id]) != "":
			skip(id, "not healthy: %s", unhealthy(regs[id]))
		default:
			plannable = append(plannable, id)
		}
	}
	// Each instance's Availability Zone, and each group's own settings: its thresholds,
	// and whether it keeps its budget zone by zone (cross-zone load balancing off).
	budget := in.Budget()
	budget.Settings = map[string]workflow.TargetGroup{}
	for _, s := range settings {
		budget.Settings[s.ARN] = s
	}
	// A group that keeps its budget per zone counts every target of each zone, the
	// instances not planned (narrowed out by instanceIds or tags) too: their zones as well.
	unplaced := map[string]bool{}
	for _, t := range targets {
		if _, described := instances[t.InstanceID]; !described && budget.Settings[t.GroupARN].CrossZoneOff {
			unplaced[t.InstanceID] = true
		}
	}
	others, err := p.instances(ctx, sortedIDs(unplaced))
	if err != nil {
		return rollout.State{}, err
	}
	budget.Zones = map[string]string{}
	for _, set := range []map[string]ec2types.Instance{instances, others} {
		for id, inst := range set {
			if inst.Placement != nil {
				budget.Zones[id] = aws.ToString(inst.Placement.AvailabilityZone)
			}
		}
	}
	plan, err := waveplan.PlanWaves(targets, plannable, budget)
	if err != nil {
		return rollout.State{}, err
	}
	slices.SortStableFunc(plan.Groups, func(a, b waveplan.Group) int {
		return slices.Index(in.TargetGroupARNs, a.ARN) - slices.Index(in.TargetGroupARNs, b.ARN)
	})
	index := map[string]int{}
	for i, g := range plan.Groups {
		index[g.ARN] = i
	}
	var waves []rollout.WaveRecord
	for _, w := range plan.Waves {
		rec := rollout.WaveRecord{BelowBudget: w.BelowBudget, Zone: w.Zone}
		for _, id := range w.InstanceIDs {
			item := rollout.WaveItem{InstanceID: id}
			for _, t := range regs[id] {
				if g := index[t.GroupARN]; !slices.Contains(item.Groups, g) {
					item.Groups = append(item.Groups, g)
				}
			}
			rec.Instances = append(rec.Instances, item)
		}
		waves = append(waves, rec)
	}
	start := now().UTC()
	meta := rollout.Meta{ID: req.Execution, Name: req.ExecutionName, Input: in, StartedAt: start, Groups: plan.Groups,
		Waves: len(waves), Skipped: len(skipped), Status: rollout.StatusRunning, Driver: req.Execution, Part: 1}
	for _, w := range waves {
		meta.Planned += len(w.Instances)
	}
	st := rollout.State{
		Rollout: rollout.Ref{ID: req.Execution, Name: req.ExecutionName, Execution: req.Execution, Part: 1, Table: req.RolloutTable,
			CapacityTable: req.CapacityTable, TopicARN: req.TopicARN, InstanceStateMachineARN: req.InstanceStateMachineARN, DryRun: in.DryRun},
		Cursor: rollout.Cursor{Waves: len(waves), Events: rollout.EstimateEvents()},
	}
	switch {
	case in.DryRun:
		meta.Status = rollout.OutcomeDryRun
	case len(waves) == 0:
		st.Cursor.Done, st.Cursor.StopReason = true, "nothing to maintain"
	case in.WindowClosed(now()):
		st.Cursor.Done, st.Cursor.StopReason = true, "the maintenance window ended at "+in.NotAfter
	}
	meta.StopReason = st.Cursor.StopReason
	stored, err := rollout.Store{DB: p.DB, Table: req.RolloutTable}.Create(ctx, meta, waves, skipped)
	if err != nil {
		return rollout.State{}, err
	}
	st.Cursor.Waves = stored.Waves // a retried call plans again; what counts is what was stored
	return st, nil
}

// registrations is every registration of every instance, as the wave planner counts them.
func (p Planner) registrations(ctx context.Context) (map[string][]waveplan.Target, error) {
	states, err := targets.Registrations(ctx, p.ELB)
	if err != nil {
		return nil, err
	}
	regs := map[string][]waveplan.Target{}
	for id, ts := range states {
		for _, t := range ts {
			regs[id] = append(regs[id], waveplan.Target{GroupARN: t.TargetGroupARN, InstanceID: t.ID, Port: t.Port, State: t.State, Reason: t.Reason,
				NotServing: t.NotServing})
		}
	}
	return regs, nil
}

func (p Planner) instances(ctx context.Context, ids []string) (map[string]ec2types.Instance, error) {
	out := map[string]ec2types.Instance{}
	for start := 0; start < len(ids); start += 200 {
		chunk := ids[start:min(start+200, len(ids))]
		pages := ec2.NewDescribeInstancesPaginator(p.EC2, &ec2.DescribeInstancesInput{InstanceIds: chunk})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing instances: %w", err)
			}
			for _, r := range page.Reservations {
				for _, inst := range r.Instances {
					out[*inst.InstanceId] = inst
				}
			}
		}
	}
	return out, nil
}

// online returns each instance's SSM ping status.
func (p Planner) online(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(ids); start += 50 {
		chunk := ids[start:min(start+50, len(ids))]
		pages := ssm.NewDescribeInstanceInformationPaginator(p.SSM, &ssm.DescribeInstanceInformationInput{
			Filters: []ssmtypes.InstanceInformationStringFilter{{Key: new("InstanceIds"), Values: chunk}},
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing SSM managed instances: %w", err)
			}
			for _, info := range page.InstanceInformationList {
				out[*info.InstanceId] = string(info.PingStatus)
			}
		}
	}
	return out, nil
}

func flatten(regs map[string][]waveplan.Target) []waveplan.Target {
	var out []waveplan.Target
	for _, id := range sortedIDs(regs) {
		out = append(out, regs[id]...)
	}
	return out
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func matchesTags(inst ec2types.Instance, want map[string][]string) bool {
	for key, values := range want {
		found := false
		for _, t := range inst.Tags {
			if t.Key != nil && *t.Key == key && t.Value != nil && slices.Contains(values, *t.Value) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func stateName(inst ec2types.Instance) string {
	if inst.State == nil {
		return "unknown"
	}
	return string(inst.State.Name)
}

// recentlyMaintained returns the instance's last maintenance time if it is within d.
func recentlyMaintained(inst ec2types.Instance, now time.Time, d time.Duration) string {
	if d == 0 {
		return ""
	}
	for _, t := range inst.Tags {
		if t.Key != nil && *t.Key == catalog.MaintainedTag && t.Value != nil {
			at, err := time.Parse(time.RFC3339, *t.Value)
			if err == nil && now.Sub(at) < d {
				return *t.Value
			}
		}
	}
	return ""
}

func outside(regs []waveplan.Target, inRollout func(string) bool) string {
	for _, t := range regs {
		if !inRollout(t.GroupARN) {
			return workflow.GroupName(t.GroupARN)
		}
	}
	return ""
}

func unhealthy(regs []waveplan.Target) string {
	var bad []string
	for _, t := range regs {
		if t.State != workflow.Healthy {
			state := string(t.State)
			if t.Reason != "" {
				state += " (" + t.Reason + ")"
			}
			bad = append(bad, fmt.Sprintf("port %d in %s is %s", t.Port, workflow.GroupName(t.GroupARN), state))
		}
	}
	return strings.Join(bad, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none: not registered with SSM"
	}
	return s
}
