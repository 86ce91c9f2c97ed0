package rollout

import (
	"fmt"
	"testing"
)

// BenchmarkPlanWaves plans fleets of 100 to 10,000 instances over 4 groups, a quarter of
// the instances also in a shared group, at maxConcurrency 50 and minHealthyPercent 90.
func BenchmarkPlanWaves(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			groups := []string{web, api,
				"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g3/0000000000000003",
				"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shared/0000000000000004"}
			var targets []Target
			var ids []string
			for i := range n {
				targets = append(targets, Target{GroupARN: groups[i%3], InstanceID: id(i), Port: 80, State: "healthy"})
				if i%4 == 0 {
					targets = append(targets, Target{GroupARN: groups[3], InstanceID: id(i), Port: 8080, State: "healthy"})
				}
				ids = append(ids, id(i))
			}
			b.ReportAllocs()
			var waves int
			for b.Loop() {
				p, err := PlanWaves(targets, ids, Budget{MaxConcurrency: 50, MinHealthyPercent: 90})
				if err != nil {
					b.Fatal(err)
				}
				waves = len(p.Waves)
			}
			b.ReportMetric(float64(waves), "waves")
		})
	}
}
