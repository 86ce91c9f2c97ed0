package targets

import (
	"context"
	"fmt"
	"strings"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Target health states, as DescribeTargetHealth reports them.
const (
	stateHealthy  = string(types.TargetHealthStateEnumHealthy)
	stateUnused   = string(types.TargetHealthStateEnumUnused)
	stateDraining = string(types.TargetHealthStateEnumDraining)
)

// Checker runs the read-only checks on the instance's target groups.
type Checker struct {
	API HealthAPI
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now func() time.Time
}

// A groupGuard looks at one group's targets before the instance is taken out, and either
// passes (nil) or refuses with a named error saying why.
type groupGuard func(p workflow.Plan, targets []workflow.TargetState) error

// groupGuards are applied in order to every group; the first refusal stops the check.
var groupGuards = []groupGuard{allTargetsHealthy, keepsCapacityFloor, leavesHealthyTarget}

// allTargetsHealthy refuses when any target of the group is not healthy: drainpipe does
// not take capacity out of a group that is already short of it. A group with a capacity
// floor (fleet rollouts) is checked against the floor instead.
func allTargetsHealthy(p workflow.Plan, targets []workflow.TargetState) error {
	if _, ok := p.MinHealthy(targets[0].TargetGroupARN); ok {
		return nil
	}
	var bad []string
	for _, t := range targets {
		if t.State != stateHealthy {
			bad = append(bad, t.String())
		}
	}
	if len(bad) > 0 {
		return faults.New(faults.TargetGroupUnhealthy, "target group %s has %d target(s) that are not healthy: %s",
			workflow.GroupName(targets[0].TargetGroupARN), len(bad), strings.Join(bad, "; "))
	}
	return nil
}

// keepsCapacityFloor refuses when taking the instance out leaves the group below the
// floor its rollout set.
func keepsCapacityFloor(p workflow.Plan, targets []workflow.TargetState) error {
	arn := targets[0].TargetGroupARN
	floor, ok := p.MinHealthy(arn)
	if left := healthyWithout(p.InstanceID, targets); ok && left < floor {
		return faults.New(faults.TargetGroupUnhealthy, "taking %s out of target group %s leaves %d healthy targets, below the rollout's floor of %d",
			p.InstanceID, workflow.GroupName(arn), left, floor)
	}
	return nil
}

// leavesHealthyTarget refuses when taking the instance out leaves no healthy target,
// unless the input allows it explicitly.
func leavesHealthyTarget(p workflow.Plan, targets []workflow.TargetState) error {
	if p.AllowLastTarget || healthyWithout(p.InstanceID, targets) > 0 {
		return nil
	}
	return faults.New(faults.LastHealthyTarget,
		"taking %s out of target group %s leaves it with no healthy target; add capacity first, or set \"allowLastTarget\": true to accept an outage of that group",
		p.InstanceID, workflow.GroupName(targets[0].TargetGroupARN))
}

func healthyWithout(instanceID string, targets []workflow.TargetState) int {
	n := 0
	for _, t := range targets {
		if t.ID != instanceID && t.State == stateHealthy {
			n++
		}
	}
	return n
}

// CheckTargetGroups checks, before anything changes, that every group of the instance is
// healthy and keeps a healthy target without it.
func (c Checker) CheckTargetGroups(ctx context.Context, s workflow.State) (workflow.GroupsReport, error) {
	var report workflow.GroupsReport
	for _, arn := range groupARNs(s.Registrations) {
		targets, err := describeGroup(ctx, c.API, arn)
		if err != nil {
			return workflow.GroupsReport{}, err
		}
		if len(targets) == 0 {
			return workflow.GroupsReport{}, faults.New(faults.InstanceNotInTargetGroup, "target group %s has no targets any more", workflow.GroupName(arn))
		}
		for _, guard := range groupGuards {
			if err := guard(s.Plan, targets); err != nil {
				return workflow.GroupsReport{}, err
			}
		}
		healthy := 0
		for _, t := range targets {
			if t.State == stateHealthy {
				healthy++
			}
		}
		report.Groups = append(report.Groups, workflow.GroupReport{
			TargetGroupARN: arn, Targets: len(targets), Healthy: healthy,
			HealthyWithout: healthyWithout(s.InstanceID, targets),
		})
	}
	return report, nil
}

// CheckInstance checks that every registration of the instance is a healthy target.
func (c Checker) CheckInstance(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	states, err := c.registrationStates(ctx, s)
	if err != nil {
		return workflow.TargetsReport{}, err
	}
	for _, t := range states {
		switch t.State {
		case stateHealthy:
		case stateUnused:
			return workflow.TargetsReport{}, faults.New(faults.InstanceNotInTargetGroup, "%s: the instance is not a registered target", t)
		default:
			return workflow.TargetsReport{}, faults.New(faults.InstanceNotHealthy, "%s: drainpipe only takes healthy targets out of rotation", t)
		}
	}
	_, at := now(c.Now)
	return workflow.TargetsReport{Done: true, CheckedAt: at, Targets: states}, nil
}

// CheckDrain checks once whether every registration has finished draining. It fails with
// DrainTimeout once the deadline has passed, and with DrainInterrupted if the instance
// was registered again meanwhile.
func (c Checker) CheckDrain(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	if s.Deregistration == nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "check-drain needs the deregistration result (deregistration.drainDeadline)")
	}
	deadline, err := workflow.ParseTime("deregistration.drainDeadline", s.Deregistration.DrainDeadline)
	if err != nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "%v", err)
	}
	states, err := c.registrationStates(ctx, s)
	if err != nil {
		return workflow.TargetsReport{}, err
	}
	t, at := now(c.Now)
	var draining []string
	for _, st := range states {
		switch st.State {
		case stateUnused:
		case stateDraining:
			draining = append(draining, st.String())
		default:
			return workflow.TargetsReport{}, faults.New(faults.DrainInterrupted, "%s while it should be draining: it was registered again by someone else; not running the maintenance", st)
		}
	}
	report := workflow.TargetsReport{Done: len(draining) == 0, CheckedAt: at, Targets: states}
	if !report.Done && t.After(deadline) {
		return workflow.TargetsReport{}, faults.New(faults.DrainTimeout, "still draining at the deadline %s: %s", s.Deregistration.DrainDeadline, strings.Join(draining, "; "))
	}
	return report, nil
}

// CheckHealthy checks once, after registration, whether every registration of the
// instance is healthy and every target of its groups too. It fails with TargetNotHealthy
// once the deadline has passed.
func (c Checker) CheckHealthy(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	if s.Registration == nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "check-target-health needs the registration result (registration.healthyDeadline)")
	}
	deadline, err := workflow.ParseTime("registration.healthyDeadline", s.Registration.HealthyDeadline)
	if err != nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "%v", err)
	}
	var mine, notHealthy []string
	var states []workflow.TargetState
	for _, arn := range groupARNs(s.Registrations) {
		targets, err := describeGroup(ctx, c.API, arn)
		if err != nil {
			return workflow.TargetsReport{}, err
		}
		for _, r := range s.Registrations {
			if r.TargetGroupARN == arn && !containsTarget(targets, s.InstanceID, r.Port) {
				mine = append(mine, fmt.Sprintf("%s:%d is not registered in %s", s.InstanceID, r.Port, workflow.GroupName(arn)))
			}
		}
		floor, hasFloor := s.MinHealthy(arn)
		healthy := 0
		var others []string
		for _, t := range targets {
			switch {
			case t.ID == s.InstanceID:
				states = append(states, t)
				if t.State != stateHealthy {
					notHealthy = append(notHealthy, t.String())
				}
			case t.State != stateHealthy:
				others = append(others, t.String())
			}
			if t.State == stateHealthy {
				healthy++
			}
		}
		// Without a floor every target must be healthy again; with one (a rollout, whose
		// other instances may be out on purpose) the group must be back at its floor.
		switch {
		case !hasFloor:
			notHealthy = append(notHealthy, others...)
		case healthy < floor:
			notHealthy = append(notHealthy, fmt.Sprintf("%s has %d healthy targets, below the rollout's floor of %d", workflow.GroupName(arn), healthy, floor))
		}
	}
	if len(mine) > 0 {
		return workflow.TargetsReport{}, faults.New(faults.TargetNotHealthy, "%s", strings.Join(mine, "; "))
	}
	t, at := now(c.Now)
	report := workflow.TargetsReport{Done: len(notHealthy) == 0, CheckedAt: at, Targets: states}
	if !report.Done && t.After(deadline) {
		return workflow.TargetsReport{}, faults.New(faults.TargetNotHealthy, "not healthy at the deadline %s: %s", s.Registration.HealthyDeadline, strings.Join(notHealthy, "; "))
	}
	return report, nil
}

func containsTarget(targets []workflow.TargetState, id string, port int32) bool {
	for _, t := range targets {
		if t.ID == id && t.Port == port {
			return true
		}
	}
	return false
}

// registrationStates describes exactly the instance's registrations, naming id and port,
// one call per group.
func (c Checker) registrationStates(ctx context.Context, s workflow.State) ([]workflow.TargetState, error) {
	var states []workflow.TargetState
	for _, arn := range groupARNs(s.Registrations) {
		out, err := c.API.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{
			TargetGroupArn: &arn,
			Targets:        descriptions(s.InstanceID, s.Registrations, arn),
		})
		if err != nil {
			return nil, describeError(arn, err)
		}
		states = append(states, toStates(arn, out.TargetHealthDescriptions)...)
	}
	return states, nil
}

// groupARNs lists the distinct groups of the registrations, in order.
func groupARNs(regs []workflow.Registration) []string {
	var arns []string
	seen := map[string]bool{}
	for _, r := range regs {
		if !seen[r.TargetGroupARN] {
			seen[r.TargetGroupARN] = true
			arns = append(arns, r.TargetGroupARN)
		}
	}
	return arns
}

// descriptions names the instance's registrations in one group, with their ports.
func descriptions(instanceID string, regs []workflow.Registration, arn string) []types.TargetDescription {
	var out []types.TargetDescription
	for _, r := range regs {
		if r.TargetGroupARN == arn {
			out = append(out, types.TargetDescription{Id: &instanceID, Port: &r.Port})
		}
	}
	return out
}
