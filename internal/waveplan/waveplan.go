// Package waveplan owns the planning of fleet rollouts: the capacity budget of each target
// group and the waves of instances that respect it. A wave never takes out more than
// MaxConcurrency instances and never leaves a group with fewer healthy targets than its
// budget allows; an instance registered in several groups, or on several ports, counts
// against each registration. The plan is deterministic: in id order, each instance goes to
// the first wave with room for it, and those no wave has room for, when the budget allows
// it, go alone at the end. Zone by zone, each Availability Zone's instances are planned so
// in turn, in zone name order, and no wave mixes zones. A group with cross-zone load
// balancing off keeps its budget in each zone, since each load balancer node then routes
// only to its own zone's targets. It makes no AWS calls.
package waveplan

import (
	"fmt"
	"maps"
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
	State      workflow.HealthState
	// Reason is ELB's reason for a state other than healthy, for messages.
	Reason string
	// NotServing: healthy, but a zonal shift or anomaly detection keeps traffic from it
	// (workflow.TargetState.NotServing): not capacity.
	NotServing string
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
	// ZoneByZone: no wave mixes Availability Zones (Zones gives each instance's), and the
	// zones go one after the other, in name order.
	ZoneByZone bool
	Zones      map[string]string
	// Settings are the groups' own settings, by ARN: their target_group_health thresholds,
	// a floor no group goes below unless AllowLastTarget accepts an outage, and whether
	// cross-zone load balancing is off, when the budget and the thresholds hold in each
	// Availability Zone (Zones gives each instance's).
	Settings map[string]workflow.TargetGroup
}

// Group is one group's budget.
type Group struct {
	ARN string `json:"targetGroupArn"`
	// Healthy counts the serving targets; NotServing the healthy ones that are not.
	Healthy    int `json:"healthy"`
	NotServing int `json:"notServing,omitempty"`
	// MinHealthy targets must stay healthy; MaxOut may be out at once.
	MinHealthy int `json:"minHealthy"`
	MaxOut     int `json:"maxOut"`
	// OwnFloor is set when the group's own thresholds raised MinHealthy.
	OwnFloor int `json:"ownFloor,omitempty"`
	// Zones, when the group's cross-zone load balancing is off, are its budget in each
	// Availability Zone, in zone order: each keeps its own floor, and the group's
	// MinHealthy is their sum.
	Zones []ZoneBudget `json:"zones,omitempty"`
}

// ZoneBudget is a group's budget in one Availability Zone.
type ZoneBudget struct {
	Zone       string `json:"zone"`
	Healthy    int    `json:"healthy"`
	NotServing int    `json:"notServing,omitempty"`
	MinHealthy int    `json:"minHealthy"`
	MaxOut     int    `json:"maxOut"`
	OwnFloor   int    `json:"ownFloor,omitempty"`
}

// Wave is a set of instances maintained in parallel.
type Wave struct {
	InstanceIDs []string `json:"instanceIds"`
	// Zone is the wave's Availability Zone, when the rollout goes zone by zone.
	Zone string `json:"zone,omitempty"`
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
	// The capacity units: each group, and each zone of a group with cross-zone load
	// balancing off. An instance's registrations count against its group and its zone.
	var units []unit
	index := map[unitKey]int{}                                    // -> index in units
	registered := make(map[string][]registration, len(instances)) // instance -> its registrations, by unit
	count := func(key unitKey, t Target) {
		u, ok := index[key]
		if !ok {
			u = len(units)
			index[key] = u
			units = append(units, unit{Group: Group{ARN: key.arn}, zone: key.zone})
		}
		units[u].targets++
		switch {
		case t.State == workflow.Healthy && t.NotServing == "":
			units[u].Healthy++
		case t.State == workflow.Healthy:
			units[u].NotServing++
		}
		registered[t.InstanceID] = register(registered[t.InstanceID], u)
	}
	for _, t := range targets {
		count(unitKey{arn: t.GroupARN}, t)
		if b.Settings[t.GroupARN].CrossZoneOff {
			count(unitKey{arn: t.GroupARN, zone: zoneName(b.Zones[t.InstanceID])}, t)
		}
	}
	zonal := map[string]int{} // group ARN -> the sum of its zones' floors
	for i := range units {
		u := &units[i]
		u.MinHealthy = ceilPercent(u.Healthy, b.MinHealthyPercent)
		if !b.AllowLastTarget && u.Healthy > 0 {
			u.MinHealthy = max(u.MinHealthy, 1)
		}
		settings := b.Settings[u.ARN]
		// With cross-zone load balancing off, the thresholds hold in each zone.
		if own := settings.OwnFloor(u.targets); own > u.MinHealthy && !b.AllowLastTarget && (u.zone != "" || !settings.CrossZoneOff) {
			u.MinHealthy, u.OwnFloor = own, own
		}
		if u.zone != "" {
			// A zone already below its floor cannot lose more, and holds no more than it has.
			zonal[u.ARN] += min(u.MinHealthy, u.Healthy)
		}
	}
	var plan Plan
	for i := range units {
		u := &units[i]
		if floor, ok := zonal[u.ARN]; ok && u.zone == "" {
			u.MinHealthy = max(u.MinHealthy, floor)
		}
		u.MaxOut = max(0, u.Healthy-u.MinHealthy)
	}
	for _, u := range units {
		if u.zone == "" {
			plan.Groups = append(plan.Groups, u.Group)
		}
	}
	for _, u := range units {
		if u.zone != "" {
			g := &plan.Groups[index[unitKey{arn: u.ARN}]]
			g.Zones = append(g.Zones, ZoneBudget{Zone: u.zone, Healthy: u.Healthy, NotServing: u.NotServing, MinHealthy: u.MinHealthy, MaxOut: u.MaxOut, OwnFloor: u.OwnFloor})
		}
	}
	for i := range plan.Groups {
		slices.SortFunc(plan.Groups[i].Zones, func(x, y ZoneBudget) int { return strings.Compare(x.Zone, y.Zone) })
	}

	remaining := slices.Clone(instances)
	slices.Sort(remaining)
	remaining = slices.Compact(remaining)
	fits := make([]candidate, 0, len(remaining))
	var tooBig []string
	for _, id := range remaining {
		regs, ok := registered[id]
		if !ok {
			return Plan{}, faults.New(faults.InstanceNotInTargetGroup, "instance %s is not registered in any of the rollout's target groups", id)
		}
		if slices.ContainsFunc(regs, func(r registration) bool { return r.n > units[r.group].MaxOut }) {
			tooBig = append(tooBig, id)
		} else {
			fits = append(fits, candidate{id: id, regs: regs})
		}
	}
	if len(tooBig) > 0 && !b.AllowBelowBudget {
		var why []string
		for _, id := range tooBig {
			regs := slices.Clone(registered[id])
			slices.SortFunc(regs, func(x, y registration) int {
				return strings.Compare(units[x.group].ARN+" "+units[x.group].zone, units[y.group].ARN+" "+units[y.group].zone)
			})
			for _, r := range regs {
				if u := units[r.group]; r.n > u.MaxOut {
					why = append(why, fmt.Sprintf("%s: group %s%s has %d healthy targets%s and must keep %d (minHealthyPercent %d%s)",
						id, workflow.GroupName(u.ARN), u.where(), u.Healthy, notServingNote(u.Group), u.MinHealthy, b.MinHealthyPercent, lastTargetNote(b)+ownFloorNote(u.Group)))
				}
			}
		}
		return Plan{}, faults.New(faults.CapacityBudgetExceeded,
			"no plan keeps the capacity budget: %s; add capacity, lower minHealthyPercent, or set \"allowBelowBudget\": true to maintain them one at a time",
			strings.Join(why, "; "))
	}
	if !b.ZoneByZone {
		plan.Waves = firstFit(fits, units, b.MaxConcurrency)
		for _, id := range tooBig {
			plan.Waves = append(plan.Waves, Wave{InstanceIDs: []string{id}, BelowBudget: true})
		}
		return plan, nil
	}
	// Zone by zone: each zone's instances planned as a fleet of their own, the zones in
	// name order, and the instances past the budget last, one at a time, in the same order.
	byZone := map[string][]candidate{}
	for _, c := range fits {
		byZone[b.Zones[c.id]] = append(byZone[b.Zones[c.id]], c)
	}
	for _, zone := range slices.Sorted(maps.Keys(byZone)) {
		for _, w := range firstFit(byZone[zone], units, b.MaxConcurrency) {
			w.Zone = zone
			plan.Waves = append(plan.Waves, w)
		}
	}
	slices.SortStableFunc(tooBig, func(x, y string) int { return strings.Compare(b.Zones[x], b.Zones[y]) })
	for _, id := range tooBig {
		plan.Waves = append(plan.Waves, Wave{InstanceIDs: []string{id}, BelowBudget: true, Zone: b.Zones[id]})
	}
	return plan, nil
}

// ownFloorNote says when the group's own thresholds set its floor.
func ownFloorNote(g Group) string {
	if g.OwnFloor == 0 {
		return ""
	}
	return fmt.Sprintf("; the group's own target_group_health threshold is %d healthy targets", g.OwnFloor)
}

// notServingNote counts the healthy targets left out of capacity.
func notServingNote(g Group) string {
	if g.NotServing == 0 {
		return ""
	}
	return fmt.Sprintf(" serving (%d more healthy but not serving: a zonal shift away from them, or found anomalous)", g.NotServing)
}

// unit is what a budget holds for: a group, or a group's zone (when its cross-zone load
// balancing is off), with its budget and how many targets it has.
type unit struct {
	Group
	zone    string
	targets int
}

type unitKey struct{ arn, zone string }

// where names a zone's unit in messages.
func (u unit) where() string {
	if u.zone == "" {
		return ""
	}
	return " in zone " + u.zone + " (cross-zone load balancing is off: each zone keeps its own floor)"
}

// zoneName is an instance's zone, or a name for not knowing it: such instances count
// together, never against a known zone's floor.
func zoneName(zone string) string {
	if zone == "" {
		return "unknown zone"
	}
	return zone
}

// registration is how many times (ports) an instance is registered in one unit: what
// taking it out costs that unit.
type registration struct{ group, n int }

func register(regs []registration, group int) []registration {
	for i := range regs {
		if regs[i].group == group {
			regs[i].n++
			return regs
		}
	}
	return append(regs, registration{group: group, n: 1})
}

// candidate is an instance that fits alone in a wave within the budget.
type candidate struct {
	id   string
	regs []registration
}

// firstFit puts each instance, in the given (id) order, into the lowest-index wave where
// it fits given the instances placed before it: the wave has fewer than maxConcurrency
// instances and, in each group the instance is registered in, room for its registrations.
// Every instance fits alone, so an instance that fits no existing wave opens the next one.
//
// This is the same plan as filling the waves one after the other, each by walking the
// instances not yet planned in id order and taking every one that still fits: by
// induction on the id order, when that walk considers instance x for wave k, wave k holds
// exactly the instances before x that first-fit put in wave k, and x was refused by waves
// 1..k-1 exactly when it did not fit them given the instances before it; so both put x in
// the first wave that has room for it.
//
// A wave's room in a resource (its size, a group's targets out) only ever shrinks, so the
// waves with room for a given cost form a disjoint-set forest over wave indices (a level)
// that finds the next one with room, and an instance's wave is the fixed point of jumping
// to the next wave with room in each resource it uses: near-linear in the number of
// registrations.
func firstFit(fits []candidate, groups []unit, maxConcurrency int) []Wave {
	if len(fits) == 0 {
		return nil
	}
	// resources[0] is the size of a wave, resources[1+g] the targets of group g out.
	resources := make([]resource, 1+len(groups))
	resources[0].limit = maxConcurrency
	for g := range groups {
		resources[1+g].limit = groups[g].MaxOut
	}
	// A group that no wave can fill, not even a full wave of its costliest instances, never
	// refuses one and needs no tracking.
	costliest := make([]int, len(groups))
	total := make([]int, len(groups))
	for _, c := range fits {
		for _, r := range c.regs {
			costliest[r.group] = max(costliest[r.group], r.n)
			total[r.group] += r.n
		}
	}
	binds := make([]bool, len(groups))
	for g := range groups {
		binds[g] = min(total[g], min(maxConcurrency, len(fits))*costliest[g]) > groups[g].MaxOut
	}
	waveOf := make([]int, len(fits))
	var sizes []int // instances per wave
	var uses []use
	for i, c := range fits {
		uses = append(uses[:0], use{&resources[0], resources[0].level(1), 1})
		for _, r := range c.regs {
			if binds[r.group] {
				k := &resources[1+r.group]
				uses = append(uses, use{k, k.level(r.n), r.n})
			}
		}
		w := 0
		for moved := true; moved; {
			moved = false
			for _, u := range uses {
				if next := u.level.find(w); next != w {
					w, moved = next, true
				}
			}
		}
		for _, u := range uses {
			u.resource.take(w, u.n)
		}
		if w == len(sizes) {
			sizes = append(sizes, 0)
		}
		sizes[w]++
		waveOf[i] = w
	}
	// Lay the waves out in one array, each in id order.
	ids := make([]string, len(fits))
	waves := make([]Wave, len(sizes))
	start := 0
	for w, n := range sizes {
		waves[w].InstanceIDs = ids[start : start : start+n]
		start += n
	}
	for i, c := range fits {
		waves[waveOf[i]].InstanceIDs = append(waves[waveOf[i]].InstanceIDs, c.id)
	}
	return waves
}

// use is what placing an instance takes of one resource.
type use struct {
	resource *resource
	level    *level // of n
	n        int
}

// resource is what every wave has a limit of: instances (its size), or a group's targets out.
type resource struct {
	limit  int
	used   []int    // used[w] by wave w; none past the end
	levels []*level // one per cost asked of it
}

// level is, for one cost, the waves with room for it as a disjoint-set forest over wave
// indices: next[w] == w when wave w has room, else a later wave to look from. Every wave
// past the end has room.
type level struct {
	cost int
	next []int32
}

// level returns the waves with room for cost.
func (k *resource) level(cost int) *level {
	for _, l := range k.levels {
		if l.cost == cost {
			return l
		}
	}
	l := &level{cost: cost}
	for w, used := range k.used {
		if k.limit-used < cost {
			l.fill(w)
		}
	}
	k.levels = append(k.levels, l)
	return l
}

// take uses n more of wave w, which has room for it.
func (k *resource) take(w, n int) {
	for len(k.used) <= w {
		k.used = append(k.used, 0)
	}
	before := k.limit - k.used[w]
	k.used[w] += n
	for _, l := range k.levels {
		if before-n < l.cost && l.cost <= before {
			l.fill(w)
		}
	}
}

// find returns the first wave from w on with room.
func (l *level) find(w int) int {
	for w < len(l.next) && int(l.next[w]) != w {
		next := int(l.next[w])
		if next < len(l.next) {
			l.next[w] = l.next[next] // path splitting
		}
		w = next
	}
	return w
}

// fill marks wave w as without room.
func (l *level) fill(w int) {
	for len(l.next) <= w {
		l.next = append(l.next, int32(len(l.next)))
	}
	l.next[w] = int32(w + 1)
}

// ceilPercent is p% of n rounded up: the rounding that keeps more capacity.
func ceilPercent(n, p int) int { return (n*p + 99) / 100 }

func lastTargetNote(b Budget) string {
	if b.AllowLastTarget {
		return ""
	}
	return ", and at least one"
}
