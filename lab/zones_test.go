package lab_test

import (
	"slices"
	"testing"

	"github.com/drainpipe/drainpipe/lab"
)

// TestZoneByZone: six instances of one group, two in each of three Availability Zones,
// two at a time. Without zoneByZone the first wave would take instances of two zones; with
// it, each wave is one zone's, the zones go in name order, and by the record of when each
// instance was deregistered and put back, no two zones were ever out at the same time.
func TestZoneByZone(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := oneGroupOf(6)
	l := startLab(t, cfg)
	zoneOf, boots := map[string]string{}, map[string]int{}
	for k, inst := range l.Instances {
		zoneOf[inst.ID] = cfg.Zone(k)
		boots[inst.ID] = inst.Boots()
	}
	start := l.Clock.Since()
	r := rollout(t, l, "zones", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50, "zoneByZone": true}))
	if !r.result.Succeeded || r.summary.Counts.Succeeded != 6 {
		t.Fatalf("the rollout: %s %s %s", r.result.Status, r.result.Error, r.result.Cause)
	}
	r.assertKeptTheBudget(t, boots, start, 2)

	var zones []string
	for k, w := range r.summary.Plan.Waves {
		for _, id := range w.InstanceIDs {
			if zoneOf[id] != w.Zone {
				t.Errorf("wave %d of zone %q has %s of zone %q", k+1, w.Zone, id, zoneOf[id])
			}
		}
		zones = append(zones, w.Zone)
	}
	if want := lab.DefaultZones; !slices.Equal(zones, want) {
		t.Errorf("the waves' zones: %v, want one wave per zone in order %v", zones, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for a, wa := range r.out {
		for b, wb := range r.out {
			if zoneOf[a] != zoneOf[b] && wa[0].Before(wb[1]) && wb[0].Before(wa[1]) {
				t.Errorf("%s (%s) and %s (%s) were out at the same time", a, zoneOf[a], b, zoneOf[b])
			}
		}
	}
}

// TestPerZoneBudget: a group with cross-zone load balancing off, two instances in one
// zone and four in another, three at a time with 50 % kept. Planned for the group as a
// whole, the first wave would take both of the small zone's instances and leave its load
// balancer node nothing to route to; planned zone by zone, by the load balancer's record
// no zone ever had fewer serving targets than its own floor, and no request was lost.
func TestPerZoneBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	a, b := lab.DefaultZones[0], lab.DefaultZones[1]
	cfg := twoUnevenZones()
	l := startLab(t, cfg)
	boots := map[string]int{}
	for _, inst := range l.Instances {
		boots[inst.ID] = inst.Boots()
	}
	start := l.Clock.Since()
	r := rollout(t, l, "per-zone", fleetInput(l, map[string]any{"maxConcurrency": 3, "minHealthyPercent": 50}))
	if !r.result.Succeeded || r.summary.Counts.Succeeded != 6 {
		t.Fatalf("the rollout: %s %s %s", r.result.Status, r.result.Error, r.result.Cause)
	}
	r.assertKeptTheBudget(t, boots, start, 3)
	floors := map[string]int{}
	for _, z := range r.summary.Plan.Groups[0].Zones {
		floors[z.Zone] = z.MinHealthy
	}
	if floors[a] != 2 || floors[b] != 1 || r.summary.Plan.Groups[0].MinHealthy != 3 {
		t.Errorf("the plan's zones: %+v, want %s keeping 2 and %s keeping 1", r.summary.Plan.Groups[0], a, b)
	}
	samples := 0
	for _, s := range l.Groups[0].History() {
		if s.At <= start {
			continue
		}
		samples++
		for zone, floor := range map[string]int{a: 2, b: 1} {
			if s.ServingByZone[zone] < floor {
				t.Errorf("at %.1f lab s zone %s had %d serving targets, below its floor %d", s.At, zone, s.ServingByZone[zone], floor)
			}
		}
	}
	if samples == 0 {
		t.Error("the load balancer recorded nothing during the rollout")
	}
}

// TestPerZoneBudgetNarrowed: the per-zone budget counts every target of each zone, also
// the instances a rollout narrowed to a few does not maintain: one instance of each zone,
// out together, keeps both zones' floors, and the plan says so.
func TestPerZoneBudgetNarrowed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	a, b := lab.DefaultZones[0], lab.DefaultZones[1]
	cfg := twoUnevenZones()
	l := startLab(t, cfg)
	r := rollout(t, l, "narrowed", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50,
		"instanceIds": []string{l.Instances[0].ID, l.Instances[2].ID}, "dryRun": true}))
	if !r.result.Succeeded || len(r.summary.Plan.Waves) != 1 || len(r.summary.Plan.Waves[0].InstanceIDs) != 2 {
		t.Fatalf("the plan: %s %s %s %+v", r.result.Status, r.result.Error, r.result.Cause, r.summary.Plan)
	}
	floors := map[string]int{}
	for _, z := range r.summary.Plan.Groups[0].Zones {
		floors[z.Zone] = z.MinHealthy
	}
	if floors[a] != 2 || floors[b] != 1 {
		t.Errorf("the zones' floors: %v, want %s 2 (of 4) and %s 1 (of 2)", floors, a, b)
	}
}

// twoUnevenZones: one group of six instances with cross-zone load balancing off, two in
// the second default zone and four in the first.
func twoUnevenZones() lab.Config {
	a, b := lab.DefaultZones[0], lab.DefaultZones[1]
	cfg := lab.Demo()
	cfg.Instances = 6
	cfg.Zones = []string{b, b, a, a, a, a}
	cfg.Groups[0].CrossZoneOff = true
	cfg.Groups[0].Members = nil
	for k := range 6 {
		cfg.Groups[0].Members = append(cfg.Groups[0].Members, lab.Member{Instance: k})
	}
	return cfg
}
