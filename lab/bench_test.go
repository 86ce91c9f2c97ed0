package lab_test

import (
	"fmt"
	"testing"
)

// BenchmarkRolloutQuotas runs the fleet state machine (instance executions stood in,
// see standIn) over 100, 1,000 and 10,000 simulated instances in 20 groups, one and ten
// at a time, under the lab's Step Functions quotas, and reports what those quotas bind:
// the largest state of any execution of the rollout, the most history events in one of
// its executions (parts), and the number of parts and waves.
func BenchmarkRolloutQuotas(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, mc := range []int{1, 10} {
			b.Run(fmt.Sprintf("instances=%d/maxConcurrency=%d", n, mc), func(b *testing.B) {
				l := scaleLab(b, n, 20)
				var r scaleResult
				for i := range b.N {
					r = scaleRun(b, l, fmt.Sprintf("bench-%d", i), mc)
				}
				b.ReportMetric(float64(r.maxPayload()), "max-state-bytes")
				b.ReportMetric(float64(r.maxEvents()), "max-events/part")
				b.ReportMetric(float64(len(r.parts)), "parts")
				b.ReportMetric(float64(r.summary.Waves), "waves")
			})
		}
	}
}
