package waveplan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

const (
	web = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	api = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
)

func id(n int) string { return fmt.Sprintf("i-%017d", n) }

// group registers instances from..to (inclusive) in a group, healthy, on port 80.
func group(arn string, from, to int) []Target {
	var ts []Target
	for n := from; n <= to; n++ {
		ts = append(ts, Target{GroupARN: arn, InstanceID: id(n), Port: 80, State: workflow.Healthy})
	}
	return ts
}

func ids(from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		out = append(out, id(n))
	}
	return out
}

func waves(p Plan) [][]string {
	var out [][]string
	for _, w := range p.Waves {
		out = append(out, w.InstanceIDs)
	}
	return out
}

func TestPlanWaves(t *testing.T) {
	tests := []struct {
		name      string
		targets   []Target
		instances []string
		budget    Budget
		want      [][]string
		wantErr   string
		check     func(t *testing.T, p Plan)
	}{
		{name: "one at a time", targets: group(web, 1, 3), instances: ids(1, 3), budget: Budget{MaxConcurrency: 1, MinHealthyPercent: 50},
			want: [][]string{{id(1)}, {id(2)}, {id(3)}}},
		{name: "75% of 8 keeps 6: two at a time", targets: group(web, 1, 8), instances: ids(1, 8), budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 75},
			want: [][]string{{id(1), id(2)}, {id(3), id(4)}, {id(5), id(6)}, {id(7), id(8)}}},
		{name: "rounding keeps more capacity: 75% of 6 keeps 5 (4.5 up)", targets: group(web, 1, 6), instances: ids(1, 6), budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 75},
			check: func(t *testing.T, p Plan) {
				if g := p.Groups[0]; g.MinHealthy != 5 || g.MaxOut != 1 || len(p.Waves) != 6 {
					t.Errorf("groups %+v, %d waves", p.Groups, len(p.Waves))
				}
			}},
		{name: "maxConcurrency binds before the budget", targets: group(web, 1, 10), instances: ids(1, 10), budget: Budget{MaxConcurrency: 3, MinHealthyPercent: 50},
			want: [][]string{{id(1), id(2), id(3)}, {id(4), id(5), id(6)}, {id(7), id(8), id(9)}, {id(10)}}},
		{name: "an instance in two groups counts against both", targets: append(group(web, 1, 4), group(api, 4, 5)...), instances: ids(1, 5),
			budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 50},
			// web: 4 healthy, keep 2, out 2. api: 2 healthy, keep 1, out 1.
			want: [][]string{{id(1), id(2), id(5)}, {id(3), id(4)}}},
		{name: "two ports in one group count twice", targets: append(group(web, 1, 4), Target{GroupARN: web, InstanceID: id(1), Port: 81, State: workflow.Healthy}),
			instances: ids(1, 4), budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 60},
			// 5 healthy registrations, keep 3, out 2: id1 alone uses both.
			want: [][]string{{id(1)}, {id(2), id(3)}, {id(4)}}},
		{name: "unhealthy targets do not count as capacity", targets: append(group(web, 1, 4), Target{GroupARN: web, InstanceID: id(9), Port: 80, State: workflow.Unhealthy}),
			instances: ids(1, 4), budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 50},
			check: func(t *testing.T, p Plan) {
				if g := p.Groups[0]; g.Healthy != 4 || g.MaxOut != 2 {
					t.Errorf("group %+v", g)
				}
			}},
		{name: "minHealthyPercent 0 still keeps one", targets: group(web, 1, 3), instances: ids(1, 3), budget: Budget{MaxConcurrency: 5, MinHealthyPercent: 0},
			want: [][]string{{id(1), id(2)}, {id(3)}}},
		{name: "minHealthyPercent 0 with allowLastTarget", targets: group(web, 1, 3), instances: ids(1, 3), budget: Budget{MaxConcurrency: 5, MinHealthyPercent: 0, AllowLastTarget: true},
			want: [][]string{{id(1), id(2), id(3)}}},
		{name: "minHealthyPercent 100 cannot plan", targets: group(web, 1, 3), instances: ids(1, 3), budget: Budget{MaxConcurrency: 1, MinHealthyPercent: 100},
			wantErr: faults.CapacityBudgetExceeded},
		{name: "one target cannot plan", targets: group(web, 1, 1), instances: ids(1, 1), budget: Budget{MaxConcurrency: 1, MinHealthyPercent: 0},
			wantErr: faults.CapacityBudgetExceeded},
		{name: "one target allowed below budget", targets: group(web, 1, 1), instances: ids(1, 1), budget: Budget{MaxConcurrency: 1, AllowBelowBudget: true},
			check: func(t *testing.T, p Plan) {
				if len(p.Waves) != 1 || !p.Waves[0].BelowBudget {
					t.Errorf("waves %+v", p.Waves)
				}
			}},
		{name: "all in several groups", targets: append(group(web, 1, 4), group(api, 1, 4)...), instances: ids(1, 4), budget: Budget{MaxConcurrency: 4, MinHealthyPercent: 75},
			want: [][]string{{id(1)}, {id(2)}, {id(3)}, {id(4)}}},
		{name: "a subset of the fleet", targets: group(web, 1, 6), instances: []string{id(5), id(2)}, budget: Budget{MaxConcurrency: 2, MinHealthyPercent: 50},
			want: [][]string{{id(2), id(5)}}},
		{name: "unknown instance", targets: group(web, 1, 2), instances: []string{id(7)}, budget: Budget{MaxConcurrency: 1}, wantErr: faults.InstanceNotInTargetGroup},
		{name: "bad concurrency", targets: group(web, 1, 2), instances: ids(1, 2), budget: Budget{MaxConcurrency: 0}, wantErr: faults.InvalidInput},
		{name: "bad percent", targets: group(web, 1, 2), instances: ids(1, 2), budget: Budget{MaxConcurrency: 1, MinHealthyPercent: 101}, wantErr: faults.InvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanWaves(tt.targets, tt.instances, tt.budget)
			if tt.wantErr != "" {
				if faults.NameOf(err) != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !reflect.DeepEqual(waves(p), tt.want) {
				t.Errorf("waves %v\nwant  %v", waves(p), tt.want)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
			assertBudget(t, tt.targets, p, tt.budget)
		})
	}
}

// assertBudget is the invariant: every wave within maxConcurrency and every group's
// budget, unless marked below budget; every instance in exactly one wave.
func assertBudget(t *testing.T, targets []Target, p Plan, b Budget) {
	t.Helper()
	seen := map[string]bool{}
	for i, w := range p.Waves {
		if len(w.InstanceIDs) > b.MaxConcurrency {
			t.Errorf("wave %d has %d instances > maxConcurrency %d", i, len(w.InstanceIDs), b.MaxConcurrency)
		}
		out := map[string]int{}
		for _, id := range w.InstanceIDs {
			if seen[id] {
				t.Errorf("%s planned twice", id)
			}
			seen[id] = true
			for _, tg := range targets {
				if tg.InstanceID == id {
					out[tg.GroupARN]++
				}
			}
		}
		for _, g := range p.Groups {
			if !w.BelowBudget && g.Healthy-out[g.ARN] < g.MinHealthy {
				t.Errorf("wave %d leaves %s with %d healthy < %d", i, g.ARN, g.Healthy-out[g.ARN], g.MinHealthy)
			}
		}
	}
}

func TestPlanIsDeterministicAndExplainsRefusals(t *testing.T) {
	targets := append(group(web, 1, 12), group(api, 6, 8)...)
	a, _ := PlanWaves(targets, ids(1, 12), Budget{MaxConcurrency: 3, MinHealthyPercent: 75})
	shuffled := []string{id(9), id(3), id(12), id(1), id(7), id(5), id(2), id(11), id(4), id(10), id(6), id(8)}
	b, _ := PlanWaves(targets, shuffled, Budget{MaxConcurrency: 3, MinHealthyPercent: 75})
	if !reflect.DeepEqual(a, b) {
		t.Errorf("plan depends on the input order:\n%v\n%v", waves(a), waves(b))
	}
	_, err := PlanWaves(group(web, 1, 1), ids(1, 1), Budget{MaxConcurrency: 1, MinHealthyPercent: 50})
	if err == nil || !strings.Contains(err.Error(), "group web has 1 healthy targets and must keep 1") || !strings.Contains(err.Error(), `"allowBelowBudget": true`) {
		t.Errorf("refusal %v", err)
	}
}

// referencePlanWaves is the planner PlanWaves replaced, kept as its specification: it
// builds each wave by rescanning every instance not yet planned, O(waves × instances).
func referencePlanWaves(targets []Target, instances []string, b Budget) (Plan, error) {
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
		if t.State == workflow.Healthy {
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
			for _, arn := range referenceSortedKeys(cost[id]) {
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
			if len(wave) < b.MaxConcurrency && referenceFitsIn(cost[id], out, groups) {
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

func referenceFitsIn(cost, out map[string]int, groups map[string]*Group) bool {
	for arn, n := range cost {
		if out[arn]+n > groups[arn].MaxOut {
			return false
		}
	}
	return true
}

func referenceSortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestPlanWavesMatchesReference plans seeded random fleets with PlanWaves and with the
// reference planner and wants the same plan, or the same error, from both.
func TestPlanWavesMatchesReference(t *testing.T) {
	const cases = 5000
	states := []workflow.HealthState{workflow.Healthy, workflow.Healthy, workflow.Healthy, workflow.Unhealthy, workflow.Draining}
	id := ids(0, 303)
	var planned, multiWave, belowBudget, failed int
	for seed := range uint64(cases) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		groups := make([]string, 1+r.IntN(6))
		for g := range groups {
			// Names not in the order of first registration: the refusal sorts by ARN.
			groups[g] = fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g%d/%016x", r.IntN(100), g)
		}
		n := 1 + r.IntN(40)
		if seed%10 == 0 {
			n = 1 + r.IntN(300)
		}
		var targets []Target
		var instances []string
		for i := range n {
			// Each instance in one group or several, on one to three ports of each.
			in := r.Perm(len(groups))[:1+r.IntN(min(3, len(groups)))]
			for _, g := range in {
				ports := 1
				if r.IntN(5) == 0 {
					ports += 1 + r.IntN(2)
				}
				for p := range ports {
					targets = append(targets, Target{GroupARN: groups[g], InstanceID: id[i], Port: int32(80 + p), State: states[r.IntN(len(states))]})
				}
			}
			if r.IntN(8) != 0 { // the rest of the fleet is not in the rollout
				instances = append(instances, id[i])
			}
			if r.IntN(20) == 0 {
				instances = append(instances, id[i]) // twice
			}
		}
		if r.IntN(50) == 0 {
			instances = append(instances, id[n+r.IntN(3)]) // not registered
		}
		r.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
		r.Shuffle(len(instances), func(i, j int) { instances[i], instances[j] = instances[j], instances[i] })
		b := Budget{
			MaxConcurrency:    1 + r.IntN(50),
			MinHealthyPercent: r.IntN(101),
			AllowLastTarget:   r.IntN(2) == 0,
			AllowBelowBudget:  r.IntN(2) == 0,
		}
		if r.IntN(4) == 0 {
			b.MaxConcurrency = 1 + r.IntN(3)
		}
		if r.IntN(50) == 0 {
			b.MaxConcurrency = math.MaxInt // no limit
		}
		if r.IntN(100) == 0 {
			b.MaxConcurrency = 0 // invalid
		}
		if r.IntN(100) == 0 {
			b.MinHealthyPercent = 101 // invalid
		}

		got, err := PlanWaves(targets, slices.Clone(instances), b)
		want, wantErr := referencePlanWaves(targets, slices.Clone(instances), b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || faults.NameOf(err) != faults.NameOf(wantErr) {
			t.Fatalf("seed %d: error %v\nwant %v", seed, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: budget %+v\nplan %+v\nwant %+v", seed, b, got, want)
		}
		switch {
		case err != nil:
			failed++
		default:
			planned++
			if n <= 40 { // assertBudget is quadratic
				assertBudget(t, targets, got, b)
			}
			if len(got.Waves) > 1 {
				multiWave++
			}
			if len(got.Waves) > 0 && got.Waves[len(got.Waves)-1].BelowBudget {
				belowBudget++
			}
		}
	}
	t.Logf("%d cases: %d planned (%d in several waves, %d with waves below budget), %d refused", cases, planned, multiWave, belowBudget, failed)
	if multiWave < cases/4 || belowBudget < cases/20 || failed < cases/20 {
		t.Errorf("the random inputs cover too little: %d in several waves, %d below budget, %d refused", multiWave, belowBudget, failed)
	}
}

// TestNotServingIsNotCapacity: a healthy target that a zonal shift or anomaly detection
// keeps traffic from counts for nothing in the budget, and the refusal says so.
func TestNotServingIsNotCapacity(t *testing.T) {
	targets := group(web, 1, 4)
	p, err := PlanWaves(targets, ids(1, 4), Budget{MaxConcurrency: 1, MinHealthyPercent: 50})
	if err != nil || p.Groups[0].Healthy != 4 || p.Groups[0].MaxOut != 2 {
		t.Fatalf("all serving: %+v %v", p.Groups, err)
	}
	targets[3].NotServing = "zonal_shift_active"
	p, err = PlanWaves(targets, ids(1, 3), Budget{MaxConcurrency: 1, MinHealthyPercent: 50})
	if err != nil || p.Groups[0].Healthy != 3 || p.Groups[0].NotServing != 1 || p.Groups[0].MinHealthy != 2 || p.Groups[0].MaxOut != 1 {
		t.Fatalf("one shifted: %+v %v", p.Groups, err)
	}
	targets[2].NotServing = "anomalous"
	_, err = PlanWaves(targets, ids(1, 2), Budget{MaxConcurrency: 1, MinHealthyPercent: 75})
	if err == nil || !strings.Contains(err.Error(), "group web has 2 healthy targets serving (2 more healthy but not serving: a zonal shift away from them, or found anomalous) and must keep 2") {
		t.Errorf("refusal: %v", err)
	}
}

// TestOwnFloors: a group's own target_group_health threshold raises its floor above the
// budget's (and the refusal says so), unless allowLastTarget accepts an outage.
func TestOwnFloors(t *testing.T) {
	targets := group(web, 1, 4)
	p, err := PlanWaves(targets, ids(1, 4), Budget{MaxConcurrency: 2, MinHealthyPercent: 25, Settings: map[string]workflow.TargetGroup{web: {ThresholdCount: 3}}})
	if err != nil || p.Groups[0].MinHealthy != 3 || p.Groups[0].OwnFloor != 3 || p.Groups[0].MaxOut != 1 || len(p.Waves) != 4 {
		t.Fatalf("threshold 3 of 4: %+v, %d waves, %v", p.Groups, len(p.Waves), err)
	}
	p, err = PlanWaves(targets, ids(1, 4), Budget{MaxConcurrency: 2, MinHealthyPercent: 75, Settings: map[string]workflow.TargetGroup{web: {ThresholdCount: 2}}})
	if err != nil || p.Groups[0].MinHealthy != 3 || p.Groups[0].OwnFloor != 0 {
		t.Fatalf("a threshold below the budget's floor changes nothing: %+v %v", p.Groups, err)
	}
	_, err = PlanWaves(targets, ids(1, 4), Budget{MaxConcurrency: 1, MinHealthyPercent: 25, Settings: map[string]workflow.TargetGroup{web: {ThresholdCount: 4}}})
	if err == nil || !strings.Contains(err.Error(), "the group's own target_group_health threshold is 4 healthy targets") {
		t.Errorf("refusal: %v", err)
	}
	p, err = PlanWaves(targets, ids(1, 4), Budget{MaxConcurrency: 4, MinHealthyPercent: 0, AllowLastTarget: true, Settings: map[string]workflow.TargetGroup{web: {ThresholdCount: 3}}})
	if err != nil || p.Groups[0].MaxOut != 4 {
		t.Errorf("allowLastTarget: %+v %v", p.Groups, err)
	}
}

// TestZoneByZone: no wave mixes zones, the zones go in name order, and each wave still
// keeps the budget; without it the same instances mix.
func TestZoneByZone(t *testing.T) {
	targets := group(web, 1, 9)
	zones := map[string]string{}
	for n := 1; n <= 9; n++ {
		zones[id(n)] = []string{"eu-west-1c", "eu-west-1a", "eu-west-1b"}[n%3]
	}
	b := Budget{MaxConcurrency: 2, MinHealthyPercent: 50, ZoneByZone: true, Zones: zones}
	p, err := PlanWaves(targets, ids(1, 9), b)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, w := range p.Waves {
		if len(w.InstanceIDs) > 2 || w.Zone == "" {
			t.Errorf("wave %+v", w)
		}
		for _, id := range w.InstanceIDs {
			if zones[id] != w.Zone {
				t.Errorf("wave %+v mixes zones: %s is in %s", w, id, zones[id])
			}
		}
		if len(order) == 0 || order[len(order)-1] != w.Zone {
			order = append(order, w.Zone)
		}
	}
	if want := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}; !slices.Equal(order, want) {
		t.Errorf("zones in order %v, want %v", order, want)
	}
	b.ZoneByZone = false
	mixed, _ := PlanWaves(targets, ids(1, 9), b)
	if zones[mixed.Waves[0].InstanceIDs[0]] == zones[mixed.Waves[0].InstanceIDs[1]] {
		t.Errorf("without zoneByZone the first wave %v is in one zone; the test shows nothing", mixed.Waves[0])
	}
}

// TestPerZoneBudget: a group with cross-zone load balancing off keeps its budget in each
// zone, since each load balancer node then routes only to its own zone's targets; its own
// thresholds hold in each zone too. With it on, the same plan empties a zone.
func TestPerZoneBudget(t *testing.T) {
	targets := group(web, 1, 6)
	zones := map[string]string{}
	for n := 1; n <= 6; n++ {
		zones[id(n)] = map[bool]string{true: "eu-west-1a", false: "eu-west-1b"}[n <= 4]
	}
	outByZone := func(w Wave) map[string]int {
		out := map[string]int{}
		for _, id := range w.InstanceIDs {
			out[zones[id]]++
		}
		return out
	}
	on := Budget{MaxConcurrency: 3, MinHealthyPercent: 50, Zones: zones}
	p, err := PlanWaves(targets, ids(1, 6), on)
	if err != nil || !slices.ContainsFunc(p.Waves, func(w Wave) bool { return outByZone(w)["eu-west-1b"] == 2 }) {
		t.Errorf("cross-zone on: no wave takes zone b's two targets out, the test shows nothing: %v %v", waves(p), err)
	}

	off := on
	off.Settings = map[string]workflow.TargetGroup{web: {CrossZoneOff: true}}
	p, err = PlanWaves(targets, ids(1, 6), off)
	if err != nil {
		t.Fatal(err)
	}
	g := p.Groups[0]
	wantZones := []ZoneBudget{{Zone: "eu-west-1a", Healthy: 4, MinHealthy: 2, MaxOut: 2}, {Zone: "eu-west-1b", Healthy: 2, MinHealthy: 1, MaxOut: 1}}
	if g.MinHealthy != 3 || g.MaxOut != 3 || !slices.Equal(g.Zones, wantZones) {
		t.Errorf("cross-zone off: group %+v, want floor 3 and zones %+v", g, wantZones)
	}
	for _, w := range p.Waves {
		if out := outByZone(w); out["eu-west-1a"] > 2 || out["eu-west-1b"] > 1 || len(w.InstanceIDs) > 3 {
			t.Errorf("wave %v takes %v out", w.InstanceIDs, out)
		}
	}
	if got := fmt.Sprint(waves(p)); got != fmt.Sprint([][]string{{id(1), id(2), id(5)}, {id(3), id(4), id(6)}}) {
		t.Errorf("waves %v", waves(p))
	}

	// The group's own threshold holds in each zone: two healthy targets in a zone of two
	// leaves none to take out there.
	off.Settings = map[string]workflow.TargetGroup{web: {CrossZoneOff: true, ThresholdCount: 2}}
	if _, err := PlanWaves(targets, ids(1, 6), off); err == nil ||
		!strings.Contains(err.Error(), "group web in zone eu-west-1b (cross-zone load balancing is off: each zone keeps its own floor) has 2 healthy targets and must keep 2") {
		t.Errorf("a zone's own threshold: %v", err)
	}
	on.Settings = map[string]workflow.TargetGroup{web: {ThresholdCount: 2}}
	if p, err := PlanWaves(targets, ids(1, 6), on); err != nil || p.Groups[0].MinHealthy != 3 || p.Groups[0].Zones != nil {
		t.Errorf("cross-zone on, the threshold holds for the group: %+v %v", p.Groups, err)
	}
	// A percentage counts each zone's own targets: 75 % of zone a's four is three.
	off.Settings = map[string]workflow.TargetGroup{web: {CrossZoneOff: true, ThresholdPercent: 75}}
	off.AllowBelowBudget = true
	if p, err := PlanWaves(targets, ids(1, 6), off); err != nil || p.Groups[0].Zones[0].MinHealthy != 3 || p.Groups[0].Zones[0].OwnFloor != 3 {
		t.Errorf("75 %% of zone a: %+v %v", p.Groups, err)
	}
}
