// Package rollout owns the planning of fleet rollouts: the capacity budget of each target
// group and the waves of instances that respect it. A wave never takes out more than
// MaxConcurrency instances and never leaves a group with fewer healthy targets than its
// budget allows; an instance registered in several groups, or on several ports, counts
// against each registration. The plan is deterministic. It makes no AWS calls.
package rollout

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Target is one registration in a group and its health.
type Target struct {
	GroupARN   string
	InstanceID string
	Port       int32
	State      string
}

// Budget is the capacity rules of a rollout.
type Budget struct {
	// MaxConcurrency bounds the instances out of service at once (at least 1).
	MaxConcurrency int
	// MinHealthyPercent of each group's healthy targets stay in service, rounded up.
	MinHealthyPercent int
	// AllowLastTarget allows a group to go without any healthy target.
	AllowLastTarget bool
	// AllowBelowBudget maintains, one at a time at the end, instances that no wave can
	// take within the budget (a group of one target, for example) instead of refusing.
	AllowBelowBudget bool
}

// Group is one group's budget.
type Group struct {
	ARN     string `json:"targetGroupArn"`
	Healthy int    `json:"healthy"`
	// MinHealthy targets must stay healthy; MaxOut may be out at once.
	MinHealthy int `json:"minHealthy"`
	MaxOut     int `json:"maxOut"`
}

// Wave is a set of instances maintained in parallel.
type Wave struct {
	InstanceIDs []string `json:"instanceIds"`
	// BelowBudget: this wave takes a group below its budget (allowed by the input).
	BelowBudget bool `json:"belowBudget,omitempty"`
}

// Plan is the waves and the budgets they respect.
type Plan struct {
	Groups []Group `json:"groups"`
	Waves  []Wave  `json:"waves"`
}

// PlanWaves plans the waves for the instances, which must be registered healthy targets
// in targets. It fails with CapacityBudgetExceeded, before any change, when an instance
// cannot be taken out within the budget and the budget does not allow it.
func PlanWaves(targets []Target, instances []string, b Budget) (Plan, error) {
	if b.MaxConcurrency < 1 {
		return Plan{}, faults.New(faults.InvalidInput, `"maxConcurrency" must be at least 1, got %d`, b.MaxConcurrency)
	}
	if b.MinHealthyPercent < 0 || b.MinHealthyPercent > 100 {
		return Plan{}, faults.New(faults.InvalidInput, `"minHealthyPercent" must be between 0 and 100, got %d`, b.MinHealthyPercent)
	}
	groups := map[string]*Group{}
	var order []string
	cost := map[string]map[string]int{} // instance -> group -> registrations
	for _, t := range targets {
		g, ok := groups[t.GroupARN]
		if !ok {
			g = &Group{ARN: t.GroupARN}
			groups[t.GroupARN] = g
			order = append(order, t.GroupARN)
		}
		if t.State == "healthy" {
			g.Healthy++
		}
		if cost[t.InstanceID] == nil {
			cost[t.InstanceID] = map[string]int{}
		}
		cost[t.InstanceID][t.GroupARN]++
	}
	var plan Plan
	for _, arn := range order {
		g := groups[arn]
		g.MinHealthy = ceilPercent(g.Healthy, b.MinHealthyPercent)
		if !b.AllowLastTarget && g.Healthy > 0 {
			g.MinHealthy = max(g.MinHealthy, 1)
		}
		g.MaxOut = max(0, g.Healthy-g.MinHealthy)
		plan.Groups = append(plan.Groups, *g)
	}

	remaining := slices.Clone(instances)
	slices.Sort(remaining)
	remaining = slices.Compact(remaining)
	var fits, tooBig []string
	for _, id := range remaining {
		if cost[id] == nil {
			return Plan{}, faults.New(faults.InstanceNotInTargetGroup, "instance %s is not registered in any of the rollout's target groups", id)
		}
		ok := true
		for arn, n := range cost[id] {
			if n > groups[arn].MaxOut {
				ok = false
			}
		}
		if ok {
			fits = append(fits, id)
		} else {
			tooBig = append(tooBig, id)
		}
	}
	if len(tooBig) > 0 && !b.AllowBelowBudget {
		var why []string
		for _, id := range tooBig {
			for _, arn := range sortedKeys(cost[id]) {
				if g := groups[arn]; cost[id][arn] > g.MaxOut {
					why = append(why, fmt.Sprintf("%s: group %s has %d healthy targets and must keep %d (minHealthyPercent %d%s)",
						id, workflow.GroupName(arn), g.Healthy, g.MinHealthy, b.MinHealthyPercent, lastTargetNote(b)))
				}
			}
		}
		return Plan{}, faults.New(faults.CapacityBudgetExceeded,
			"no plan keeps the capacity budget: %s; add capacity, lower minHealthyPercent, or set \"allowBelowBudget\": true to maintain them one at a time",
			strings.Join(why, "; "))
	}
	for len(fits) > 0 {
		out := map[string]int{}
		var wave, rest []string
		for _, id := range fits {
			if len(wave) < b.MaxConcurrency && fitsIn(cost[id], out, groups) {
				wave = append(wave, id)
				for arn, n := range cost[id] {
					out[arn] += n
				}
			} else {
				rest = append(rest, id)
			}
		}
		plan.Waves = append(plan.Waves, Wave{InstanceIDs: wave})
		fits = rest
	}
	for _, id := range tooBig {
		plan.Waves = append(plan.Waves, Wave{InstanceIDs: []string{id}, BelowBudget: true})
	}
	return plan, nil
}

func fitsIn(cost, out map[string]int, groups map[string]*Group) bool {
	for arn, n := range cost {
		if out[arn]+n > groups[arn].MaxOut {
			return false
		}
	}
	return true
}

// ceilPercent is p% of n rounded up: the rounding that keeps more capacity.
func ceilPercent(n, p int) int { return (n*p + 99) / 100 }

func lastTargetNote(b Budget) string {
	if b.AllowLastTarget {
		return ""
	}
	return ", and at least one"
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
