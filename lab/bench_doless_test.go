package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/demo"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
)

// awsDefaults is the demo's fleet with AWS's default target group settings: a 300 s
// deregistration delay and a health check every 30 s (timeout 5, thresholds 5 and 2),
// and 60 s reboots, at scale (real seconds per lab second).
func awsDefaults(scale float64) lab.Config {
	cfg := lab.Demo()
	cfg.Scale, cfg.RebootSeconds = scale, 60
	cfg.Groups[0].DeregistrationDelaySeconds = 300
	cfg.Groups[0].HealthCheck = elb.HealthCheck{Path: "/", IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"}
	return cfg
}

// oneGroupOf is the demo's lab with n instances, all in its one group.
func oneGroupOf(n int) lab.Config {
	cfg := lab.Demo()
	cfg.Instances = n
	cfg.Groups[0].Members = nil
	for k := range n {
		cfg.Groups[0].Members = append(cfg.Groups[0].Members, lab.Member{Instance: k})
	}
	return cfg
}

// transitions is what Step Functions bills an execution: its states entered, and its start.
func transitions(res sfn.Result) int { return len(res.States) + 1 }

// rebootsAtDefaults maintains the lab's first two instances with a reboot at default
// settings, without and with a health check, and returns the two executions.
func rebootsAtDefaults(tb testing.TB, l *lab.Lab) [2]sfn.Result {
	tb.Helper()
	var out [2]sfn.Result
	for i := range out {
		in := map[string]any{"instanceId": l.Instances[i].ID, "maintenance": map[string]any{"action": "reboot"}}
		if i == 1 {
			in["healthCheck"] = map[string]any{"commands": []string{"curl -fsS http://$INSTANCE_IP:8080/"}}
		}
		res, err := l.MaintainInstance(context.Background(), "", in, nil)
		if err != nil || !res.Succeeded {
			tb.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
		}
		out[i] = res
	}
	return out
}

// TestTransitionsAtDefaults: a reboot at default settings (no pollSeconds, AWS's default
// target group) costs at most 40 state transitions on the happy path, with or without a
// health check.
func TestTransitionsAtDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	for i, res := range rebootsAtDefaults(t, startLab(t, awsDefaults(0.02))) {
		if n := transitions(res); n > 40 {
			t.Errorf("health check %v: %d transitions, over 40: %v", i == 1, n, res.States)
		}
	}
}

// BenchmarkDoLess prints what issue "do less, sooner" is measured by (make bench):
//   - the transitions of one maintained instance at default settings, and their cost;
//   - the idle drain with AWS's 300 s delay, 8 s requests in flight and a 60 s reboot,
//     against the same run without it;
//   - a fleet of 20 where 18 have nothing to install, without and with the scan first;
//   - the demo's per-instance and whole-rollout ratios to the physical minimum.
func BenchmarkDoLess(b *testing.B) {
	b.Run("transitions-at-defaults", func(b *testing.B) {
		for range b.N {
			for i, res := range rebootsAtDefaults(b, startLab(b, awsDefaults(0.02))) {
				n := transitions(res)
				fmt.Printf("transitions at defaults (reboot, 300 s delay, 30 s health checks), health check %-5v: %d per instance, $%.3f per 1,000 instances at $%.3f per 1,000 transitions\n",
					i == 1, n, float64(n)*demo.TransitionDollarsPer1000, demo.TransitionDollarsPer1000)
				b.ReportMetric(float64(n), fmt.Sprintf("transitions/instance-check=%v", i == 1))
			}
		}
	})
	b.Run("idle-drain", func(b *testing.B) {
		for range b.N {
			for _, idle := range []bool{false, true} {
				cfg := lab.Demo()
				cfg.Groups[0].DeregistrationDelaySeconds, cfg.RebootSeconds, cfg.DeregistrationPropagationSeconds = 300, 60, 3
				l := startLab(b, cfg)
				since := len(l.Groups[0].History())
				stop := withTraffic(l)
				stopSlow := slowRequests(l, l.URLs[0], 8)
				in := map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}}
				if idle {
					in["drain"] = map[string]any{"idleCheck": idleCheck, "propagationSeconds": 5}
				}
				res, err := l.MaintainInstance(context.Background(), "", in, nil)
				if err != nil || !res.Succeeded {
					b.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
				}
				sent, failed := stopSlow()
				lost := 0
				for _, tot := range stop() {
					lost += tot.Failed()
				}
				var sum struct {
					PhaseSeconds map[string]float64 `json:"phaseSeconds"`
				}
				_ = json.Unmarshal(res.Output, &sum)
				out := outOfService(l.Groups[0], 3, since)
				minimum := 5.0 + 8 + 60 + 6 // propagation wait + longest request + reboot + one health check interval
				fmt.Printf("idle drain %-5v: 300 s delay, 8 s requests, 60 s reboot: drain %.1f s, maintenance %.1f s, back to healthy %.1f s; out of service %.1f s by the load balancer's record (%.2f x %.0f s); %d of %d slow requests and %d others lost; %d transitions\n",
					idle, sum.PhaseSeconds["drain"], sum.PhaseSeconds["maintenance"], sum.PhaseSeconds["returnToHealthy"], out, out/minimum, minimum, failed, sent, lost, transitions(res))
				b.ReportMetric(out, fmt.Sprintf("out-of-service-s/idle=%v", idle))
			}
		}
	})
	b.Run("nothing-to-do", func(b *testing.B) {
		for range b.N {
			for _, scan := range []bool{false, true} {
				l := startLab(b, oneGroupOf(20))
				for _, inst := range l.Instances[2:] {
					inst.SetMissingPatches(0)
				}
				var mu sync.Mutex
				n := 0
				in := fleetInput(l, map[string]any{"maintenance": map[string]any{"action": "patch", "onlyIfRequired": scan}, "maxConcurrency": 5, "minHealthyPercent": 50})
				delete(in, "pollSeconds")
				res, err := l.MaintainFleet(context.Background(), fmt.Sprintf("scan-%v", scan), in, func(e sfn.Event) {
					if e.Type == "StateEntered" || e.Type == "ExecutionStarted" {
						mu.Lock()
						n++
						mu.Unlock()
					}
				})
				if err != nil || !res.Succeeded {
					b.Fatalf("the rollout: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
				}
				var sum struct {
					TotalSeconds float64 `json:"totalSeconds"`
					Counts       struct {
						Succeeded, NothingToDo int
					} `json:"counts"`
				}
				_ = json.Unmarshal(res.Output, &sum)
				fmt.Printf("20 instances, 18 with nothing to install, scan first %-5v: rollout %.0f s, %d taken out, %d with nothing to do, %d state transitions\n",
					scan, sum.TotalSeconds, sum.Counts.Succeeded-sum.Counts.NothingToDo, sum.Counts.NothingToDo, n)
				b.ReportMetric(sum.TotalSeconds, fmt.Sprintf("rollout-s/scan=%v", scan))
			}
		}
	})
	b.Run("demo-ratios", func(b *testing.B) {
		for range b.N {
			rep, err := demo.Run(context.Background(), demo.Options{Config: lab.Demo()})
			if err != nil {
				b.Fatal(err)
			}
			worst, transitions := 0.0, 0
			for _, ex := range rep.Executions {
				worst = max(worst, ex.PhaseSeconds["outOfService"]/rep.MinimumSeconds)
				transitions += ex.Transitions
			}
			ratio := rep.RolloutSeconds / (float64(rep.Waves) * rep.MinimumSeconds)
			fmt.Printf("demo (3 instances, one at a time, reboot and health check, pollSeconds 2): worst instance %.3f x its physical minimum (%.0f s), rollout %.3f x the sum of its waves' minimums; %.1f transitions per instance\n",
				worst, rep.MinimumSeconds, ratio, float64(transitions)/float64(len(rep.Executions)))
			b.ReportMetric(worst, "instance-ratio")
			b.ReportMetric(ratio, "rollout-ratio")
		}
	})
}
