package lab_test

import (
	"context"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab"
)

// TestShiftedAndAnomalousTargetsAreNotCapacity: with a zonal shift away from one of four
// instances, a lone execution refuses (the group is not whole), and a rollout keeping 50 %
// plans on the three serving targets, so that, by the load balancer's own record, at
// least two targets served at every moment. With an anomalous target as well, the
// budget has no room left and the plan says why.
func TestShiftedAndAnomalousTargetsAreNotCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Instances = 4
	cfg.Groups[0].Members = []lab.Member{{Instance: 0}, {Instance: 1}, {Instance: 2}, {Instance: 3}}
	l := startLab(t, cfg)
	ctx := context.Background()
	shifted := l.Instances[3].ID
	l.LB.SetOverride(shifted, "zonal_shift_active")

	res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}}, nil)
	if err != nil || res.Error != faults.TargetGroupUnhealthy || !strings.Contains(res.Cause, shifted) || !strings.Contains(res.Cause, "not serving (zonal_shift_active)") {
		t.Errorf("a lone execution: %v %s %s", err, res.Error, res.Cause)
	}
	assertNoChange(t, l)

	start := l.Clock.Since()
	r := rollout(t, l, "shifted", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50}))
	if !r.result.Succeeded || r.summary.Counts.Succeeded != 4 {
		t.Fatalf("the rollout: %s %s %s; %+v", r.result.Status, r.result.Error, r.result.Cause, r.summary.Counts)
	}
	if n := r.maxOut(); n != 1 {
		t.Errorf("%d instances out at once; three serving targets at 50 %% leave room for one", n)
	}
	for _, s := range l.Groups[0].History() {
		if s.At > start && s.Serving < 2 {
			t.Errorf("at %.1f lab s only %d targets served (%d healthy)", s.At, s.Serving, s.Healthy)
		}
	}

	if err := l.LB.SetAnomalous(l.Groups[0].ARN, l.Instances[2].ID, true); err != nil {
		t.Fatal(err)
	}
	r = rollout(t, l, "anomalous", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 100}))
	if r.result.Error != faults.CapacityBudgetExceeded || !strings.Contains(r.result.Cause, "2 more healthy but not serving") {
		t.Errorf("the rollout with a shifted and an anomalous target: %s %s", r.result.Error, r.result.Cause)
	}
}
