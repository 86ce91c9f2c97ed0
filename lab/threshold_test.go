package lab_test

import (
	"testing"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/elb"
)

// TestGroupThresholdIsAFloor: a group of four whose own unhealthy-state routing threshold
// is three healthy targets. A rollout that would keep only 25 % keeps three: one instance
// at a time, the plan says why, and by the load balancer's record no moment had fewer
// than three healthy targets; below it, the load balancer would have failed open and sent
// requests to the rebooting instances.
func TestGroupThresholdIsAFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Instances = 4
	cfg.Groups[0].Members = []lab.Member{{Instance: 0}, {Instance: 1}, {Instance: 2}, {Instance: 3}}
	cfg.Groups[0].Threshold = elb.ThresholdConfig{Count: 3}
	l := startLab(t, cfg)
	start := l.Clock.Since()
	r := rollout(t, l, "threshold", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 25}))
	if !r.result.Succeeded || r.summary.Counts.Succeeded != 4 {
		t.Fatalf("the rollout: %s %s %s", r.result.Status, r.result.Error, r.result.Cause)
	}
	if g := r.summary.Plan.Groups[0]; g.MinHealthy != 3 || g.OwnFloor != 3 {
		t.Errorf("the plan's group: %+v; the group's own threshold is 3", g)
	}
	for _, s := range l.Groups[0].History() {
		if s.At > start && s.Healthy < 3 {
			t.Errorf("at %.1f lab s only %d healthy targets, below the group's own threshold", s.At, s.Healthy)
		}
	}
	for _, total := range r.totals {
		if total.Failed() != 0 {
			t.Errorf("requests lost: %+v", total)
		}
	}
}
