package lab_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
)

// summaryOf is an instance execution's output.
func summaryOf(t *testing.T, res sfn.Result) workflow.Summary {
	t.Helper()
	var s workflow.Summary
	if err := json.Unmarshal(res.Output, &s); err != nil {
		t.Fatalf("the output %s: %v", res.Output, err)
	}
	return s
}

// leastHealthy is the fewest healthy targets the group's own record shows from the
// moment it had from samples (the last of them included) on.
func leastHealthy(g *elb.Group, from int) int {
	least := -1
	for _, s := range g.History()[max(from-1, 0):] {
		if least < 0 || s.Healthy < least {
			least = s.Healthy
		}
	}
	return least
}

// TestNothingToDo: a patch run first scans the instance, still in service, and an
// instance with nothing missing is left alone: outcome nothing-to-do, no reservation,
// the load balancer never lost a healthy target. One with patches missing is patched.
// A reboot with onlyIfRequired asks needs-restarting -r the same way. A required check
// that gives no verdict fails by name, with nothing changed.
func TestNothingToDo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	ctx := context.Background()
	upToDate, behind, rebooter := l.Instances[0], l.Instances[1], l.Instances[2]
	upToDate.SetMissingPatches(0)
	before := len(l.Groups[0].History())
	stop := withTraffic(l)
	run := func(inst string, maintenance map[string]any) (sfn.Result, workflow.Summary) {
		t.Helper()
		res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": inst, "maintenance": maintenance}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Succeeded {
			return res, workflow.Summary{}
		}
		return res, summaryOf(t, res)
	}
	untouched := func(res sfn.Result) {
		t.Helper()
		for _, st := range res.States {
			if st == "ReserveCapacity" || st == "DeregisterTarget" || st == "StartMaintenance" {
				t.Errorf("entered %s: %v", st, res.States)
			}
		}
	}

	// A dry run sends no command, not even the Scan: it says it would.
	sentBefore := len(l.SSM.Commands(upToDate.ID))
	dry, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": upToDate.ID, "maintenance": map[string]any{"action": "patch"}, "dryRun": true}, nil)
	if err != nil || !dry.Succeeded || len(l.SSM.Commands(upToDate.ID)) != sentBefore || !strings.Contains(string(dry.Output), "whether the maintenance has anything to do") {
		t.Fatalf("dry run: %v %s %s %s, %d commands sent", err, dry.Status, dry.Error, dry.Output, len(l.SSM.Commands(upToDate.ID))-sentBefore)
	}

	res, sum := run(upToDate.ID, map[string]any{"action": "patch"})
	if sum.Outcome != workflow.OutcomeNothingToDo || !strings.Contains(sum.Reason, "0 patches missing") {
		t.Fatalf("up to date: %s %s %s, %+v", res.Status, res.Error, res.Cause, sum)
	}
	untouched(res)
	if n := leastHealthy(l.Groups[0], before); n != 3 {
		t.Errorf("nothing to do, yet the group went down to %d healthy targets", n)
	}

	boots := behind.Boots()
	res, sum = run(behind.ID, map[string]any{"action": "patch"})
	if sum.Outcome != workflow.OutcomeMaintained || behind.MissingPatches() != 0 || behind.Boots() != boots+1 {
		t.Fatalf("behind: %s %s %s, %+v, %d missing, boots %d -> %d", res.Status, res.Error, res.Cause, sum, behind.MissingPatches(), boots, behind.Boots())
	}

	onlyIfRequired := map[string]any{"action": "reboot", "onlyIfRequired": true}
	boots = rebooter.Boots()
	res, sum = run(rebooter.ID, onlyIfRequired)
	if sum.Outcome != workflow.OutcomeNothingToDo || rebooter.Boots() != boots {
		t.Fatalf("no reboot required: %s %s %s, %+v", res.Status, res.Error, res.Cause, sum)
	}
	untouched(res)
	rebooter.SetRebootRequired(true)
	res, sum = run(rebooter.ID, onlyIfRequired)
	if sum.Outcome != workflow.OutcomeMaintained || rebooter.Boots() != boots+1 || rebooter.RebootRequired() {
		t.Fatalf("reboot required: %s %s %s, %+v, boots %d -> %d", res.Status, res.Error, res.Cause, sum, boots, rebooter.Boots())
	}

	res, _ = run(rebooter.ID, map[string]any{"action": "reboot", "onlyIfRequired": true, "requiredCheck": []string{"echo maybe"}})
	if res.Error != faults.RequiredCheckFailed || !strings.Contains(res.Cause, "maybe") {
		t.Fatalf("no verdict: %s %s %s", res.Status, res.Error, res.Cause)
	}
	untouched(res)
	assertNoneLost(t, stop())
}

// slowRequests keeps requests of seconds lab seconds in flight through the load
// balancer, one started every lab second, until stop; it returns how many failed.
func slowRequests(l *lab.Lab, url string, seconds float64) (stop func() (sent, failed int)) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent, failed := 0, 0
	client := &http.Client{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(url + "slow?seconds=" + jsonNumber(seconds))
				mu.Lock()
				defer mu.Unlock()
				sent++
				if err != nil || resp.StatusCode != http.StatusOK {
					failed++
				}
				if resp != nil {
					resp.Body.Close()
				}
			}()
			select {
			case <-ctx.Done():
			case <-time.After(l.Clock.Seconds(1)):
			}
		}
	}()
	return func() (int, int) {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return sent, failed
	}
}

func jsonNumber(f float64) string { b, _ := json.Marshal(f); return string(b) }

// outOfService is how long, in lab seconds, the group's own record shows it short of full
// healthy targets after its first since samples: from each sample below full to the next
// one full again.
func outOfService(g *elb.Group, full, since int) float64 {
	var from, total float64 = -1, 0
	for _, s := range g.History()[since:] {
		switch {
		case s.Healthy < full && from < 0:
			from = s.At
		case s.Healthy >= full && from >= 0:
			total += s.At - from
			from = -1
		}
	}
	return total
}

// idleCheck reads the lab instance's in-flight gauge: idle when it says 0.
var idleCheck = []string{`test "$(curl -fsS http://$INSTANCE_IP:8080/inflight)" = 0`}

// TestIdleDrain: with AWS's default 300 s deregistration delay, requests of 8 s in
// flight and a load balancer that takes 3 s to stop sending new ones, the idle drain
// ends the drain once the instance is idle: the instance is out of service for far less
// than the delay, and, by the load balancer's own record, no request is lost.
func TestIdleDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Groups[0].DeregistrationDelaySeconds = 300
	cfg.DeregistrationPropagationSeconds = 3
	l := startLab(t, cfg)
	since := len(l.Groups[0].History())
	stop := withTraffic(l)
	stopSlow := slowRequests(l, l.URLs[0], 8)
	res, err := l.MaintainInstance(context.Background(), "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "reboot"},
		"drain":       map[string]any{"idleCheck": idleCheck, "propagationSeconds": 5}}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	sent, failed := stopSlow()
	sum := summaryOf(t, res)
	out := outOfService(l.Groups[0], 3, since)
	t.Logf("drain %.1f s, out of service %.1f s (load balancer: %.1f s); %d slow requests, %d failed", sum.PhaseSeconds["drain"], sum.PhaseSeconds["outOfService"], out, sent, failed)
	if d := sum.PhaseSeconds["drain"]; d < 5 || d > 60 {
		t.Errorf("drain took %.1f s: the idle drain should end it after 5 s of propagation and 8 s requests, far before the 300 s delay", d)
	}
	if out > 150 {
		t.Errorf("out of service %.1f s by the load balancer's record", out)
	}
	if failed != 0 || sent < 10 {
		t.Errorf("%d of %d slow requests failed", failed, sent)
	}
	assertNoneLost(t, stop())
}

// TestIdleDrainEndsWithTheDelay: a request longer than the deregistration delay keeps
// the instance busy to the end: the drain ends when the delay does, not later, and the
// load balancer cuts that request then, as it would without drainpipe.
func TestIdleDrainEndsWithTheDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Groups[0].DeregistrationDelaySeconds = 40
	l := startLab(t, cfg)
	stopSlow := slowRequests(l, l.URLs[0], 120)
	time.Sleep(l.Clock.Seconds(4)) // each instance has long requests in flight
	res, err := l.MaintainInstance(context.Background(), "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "reboot"},
		"drain":       map[string]any{"idleCheck": idleCheck, "propagationSeconds": 5}}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	_, failed := stopSlow()
	sum := summaryOf(t, res)
	if d := sum.PhaseSeconds["drain"]; d < 40 || d > 46 {
		t.Errorf("drain took %.1f s, want the 40 s delay (and a check)", d)
	}
	if failed == 0 {
		t.Error("no long request was cut: the load balancer cuts those still in flight when the delay ends")
	}
}
