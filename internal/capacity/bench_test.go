package capacity

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// BenchmarkReservations measures the conditional-write scheme against a real DynamoDB
// implementation (dynalite, in memory, on loopback): executions reserving and releasing
// their instances at once, in one group or spread over ten, with capacity for all.
// It reports the reservations granted per second and the conditional writes lost to a
// concurrent grant per reservation (each costs one more read and write).
func BenchmarkReservations(b *testing.B) {
	for _, c := range []struct{ groups, workers int }{{1, 1}, {1, 8}, {1, 32}, {10, 32}} {
		b.Run(fmt.Sprintf("groups=%d/concurrent=%d", c.groups, c.workers), func(b *testing.B) {
			db, tbl := table(b)
			members := map[string][]string{}
			for g := range c.groups {
				arn := fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g%d/%016x", g, g)
				for i := range 1000 {
					members[arn] = append(members[arn], id(g*1000+i))
				}
			}
			var arns []string
			for arn := range members {
				arns = append(arns, arn)
			}
			var conflicts atomic.Int64
			r := Reserver{DB: countingDB{DynamoDBAPI: db, conflicts: &conflicts}, Health: targets.Checker{API: groups(members)}, Attempts: 1000}
			ctx := context.Background()
			var next atomic.Int64
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range c.workers {
				wg.Go(func() {
					for {
						n := int(next.Add(1)) - 1
						if n >= b.N {
							return
						}
						g := arns[n%len(arns)]
						p := workflow.Plan{Registrations: []workflow.Registration{{TargetGroupARN: g, Port: 8080}}, MinHealthyTargets: map[string]int{g: 0}}
						req := request(tbl, 0, p)
						req.State.InstanceID = members[g][(n/len(arns))%1000]
						req.Execution = fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:m:w%d-%d", w, n)
						if res, err := r.Reserve(ctx, req); err != nil || !res.Reserved {
							b.Errorf("reserve: %+v, %v", res, err)
							return
						}
						if _, err := r.Release(ctx, req); err != nil {
							b.Errorf("release: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reservations/s")
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/reservation")
		})
	}
}
