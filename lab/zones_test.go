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
	cfg := lab.Demo()
	cfg.Instances = 6
	cfg.Groups[0].Members = nil
	for k := range 6 {
		cfg.Groups[0].Members = append(cfg.Groups[0].Members, lab.Member{Instance: k})
	}
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
