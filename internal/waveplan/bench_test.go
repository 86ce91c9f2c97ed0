package waveplan

import (
	"fmt"
	"testing"

	"github.com/drainpipe/drainpipe/internal/workflow"
)

// benchGroups is the ARN of n target groups.
func benchGroups(n int) []string {
	groups := make([]string, n)
	for g := range groups {
		groups[g] = fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g%02d/%016d", g, g)
	}
	return groups
}

// benchFleet is n instances spread over 20 target groups (n/20 in each), every tenth
// instance also registered, on another port, in a second group.
func benchFleet(n int) ([]Target, []string) {
	groups := benchGroups(20)
	targets := make([]Target, 0, n+n/10+1)
	ids := make([]string, 0, n)
	for i := range n {
		targets = append(targets, Target{GroupARN: groups[i%20], InstanceID: id(i), Port: 80, State: workflow.Healthy})
		if i%10 == 0 {
			targets = append(targets, Target{GroupARN: groups[(i%20+7)%20], InstanceID: id(i), Port: 8080, State: workflow.Healthy})
		}
		ids = append(ids, id(i))
	}
	return targets, ids
}

func benchPlan(b *testing.B, plan func([]Target, []string, Budget) (Plan, error), targets []Target, ids []string, budget Budget) {
	b.ReportAllocs()
	var waves int
	for b.Loop() {
		p, err := plan(targets, ids, budget)
		if err != nil {
			b.Fatal(err)
		}
		waves = len(p.Waves)
	}
	b.ReportMetric(float64(waves), "waves")
}

// BenchmarkPlanWaves plans fleets of 10,000 and 100,000 instances over 20 groups at
// maxConcurrency 1 (one wave per instance: the case the planner must stay linear in) and
// 10, minHealthyPercent 90.
func BenchmarkPlanWaves(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		targets, ids := benchFleet(n)
		for _, c := range []int{1, 10} {
			b.Run(fmt.Sprintf("instances=%d/maxConcurrency=%d", n, c), func(b *testing.B) {
				benchPlan(b, PlanWaves, targets, ids, Budget{MaxConcurrency: c, MinHealthyPercent: 90})
			})
		}
	}
}

// BenchmarkPlanWavesTightBudget plans 100,000 instances over 20 groups that each may
// have only 1% of their targets out, every tenth instance registered on two ports of its
// group and every seventh unhealthy: the groups, not maxConcurrency 1000, make the waves.
func BenchmarkPlanWavesTightBudget(b *testing.B) {
	groups := benchGroups(20)
	var targets []Target
	var ids []string
	for i := range 100000 {
		state := workflow.Healthy
		if i%7 == 0 {
			state = workflow.Unhealthy
		}
		targets = append(targets, Target{GroupARN: groups[i%20], InstanceID: id(i), Port: 80, State: state})
		if i%10 == 0 {
			targets = append(targets, Target{GroupARN: groups[i%20], InstanceID: id(i), Port: 8080, State: state})
		}
		ids = append(ids, id(i))
	}
	b.Run("instances=100000/maxConcurrency=1000", func(b *testing.B) {
		benchPlan(b, PlanWaves, targets, ids, Budget{MaxConcurrency: 1000, MinHealthyPercent: 99})
	})
}

// BenchmarkReferencePlanWaves is the planner PlanWaves replaced, on the fleet of
// BenchmarkPlanWaves at 10,000 instances and maxConcurrency 10, for comparison. (It takes
// over a second at maxConcurrency 1, and minutes at 100,000 instances.)
func BenchmarkReferencePlanWaves(b *testing.B) {
	targets, ids := benchFleet(10000)
	b.Run("instances=10000/maxConcurrency=10", func(b *testing.B) {
		benchPlan(b, referencePlanWaves, targets, ids, Budget{MaxConcurrency: 10, MinHealthyPercent: 90})
	})
}

// BenchmarkPlanWavesSharedGroup plans fleets of 100 to 10,000 instances over 4 groups, a
// quarter of the instances also in a shared group, at maxConcurrency 50 and
// minHealthyPercent 90.
func BenchmarkPlanWavesSharedGroup(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			groups := []string{web, api,
				"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g3/0000000000000003",
				"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shared/0000000000000004"}
			var targets []Target
			var ids []string
			for i := range n {
				targets = append(targets, Target{GroupARN: groups[i%3], InstanceID: id(i), Port: 80, State: workflow.Healthy})
				if i%4 == 0 {
					targets = append(targets, Target{GroupARN: groups[3], InstanceID: id(i), Port: 8080, State: workflow.Healthy})
				}
				ids = append(ids, id(i))
			}
			benchPlan(b, PlanWaves, targets, ids, Budget{MaxConcurrency: 50, MinHealthyPercent: 90})
		})
	}
}
