package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
	"github.com/drainpipe/drainpipe/lab/traffic"
	"github.com/drainpipe/drainpipe/statemachine"
)

// TestChaos runs fleet rollouts under random faults, each run from a seed, and checks
// after every run the invariants drainpipe promises whatever fails around it:
//
//   - no instance is left deregistered (except one a fault stopped or terminated: AWS
//     registers no instance that is not running);
//   - no group is below its floor at any second of the load balancer's record;
//   - every reservation and lease is released, or expiring;
//   - every execution ended, with a named outcome;
//   - no request was lost, except where a fault makes a loss unavoidable (the run says
//     which).
//
// The seeds: CHAOS_SEED=s replays one; CHAOS_SEEDS=n runs n (from CHAOS_BASE, default 1);
// without either, the short version of make test runs two. make chaos SEEDS=n runs n.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	seeds := chaosSeeds(t)
	var mu sync.Mutex
	var report []string
	t.Cleanup(func() {
		slices.Sort(report)
		t.Logf("chaos: %d run(s)\n%s", len(report), strings.Join(report, "\n"))
	})
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			run := runChaos(t, seed)
			mu.Lock()
			report = append(report, run.String())
			mu.Unlock()
			if len(run.violations) > 0 {
				t.Errorf("seed %d broke an invariant (replay: make chaos SEED=%d):\n  %s", seed, seed, strings.Join(run.violations, "\n  "))
			}
		})
	}
}

func chaosSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		return []uint64{seed}
	}
	n, base := 2, uint64(1)
	if s := os.Getenv("CHAOS_SEEDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("CHAOS_SEEDS=%q: want a positive count", s)
		}
	}
	if s := os.Getenv("CHAOS_BASE"); s != "" {
		var err error
		if base, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CHAOS_BASE=%q: %v", s, err)
		}
	}
	var seeds []uint64
	for i := range n {
		seeds = append(seeds, base+uint64(i))
	}
	return seeds
}

// chaosRun is one run: its seed, input, faults, outcome and what it broke.
type chaosRun struct {
	seed       uint64
	input      map[string]any
	faults     []string
	injected   int
	outcome    string
	lossOK     map[int]string // group index -> the fault that makes a loss there unavoidable
	lost       []int
	gone       map[string]string // instance -> stopped or terminated by a fault
	deletedAt  map[int]float64   // group index -> lab seconds when a fault deleted it
	maintained int               // instance executions that succeeded
	violations []string
}

func (r *chaosRun) String() string {
	verdict := "ok"
	if len(r.violations) > 0 {
		verdict = fmt.Sprintf("%d VIOLATION(S)", len(r.violations))
	}
	return fmt.Sprintf("seed %4d: %-32s %d maintained; faults %d injected, %s; lost %v; %s",
		r.seed, r.outcome, r.maintained, r.injected, strings.Join(r.faults, "; "), r.lost, verdict)
}

func (r *chaosRun) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// chaosOps are the API operations a run may make fail, as drainpipe's functions and the
// state machines call them.
var chaosOps = []struct{ service, op string }{
	{awsapi.ServiceELB, "DescribeTargetHealth"}, {awsapi.ServiceELB, "DeregisterTargets"}, {awsapi.ServiceELB, "RegisterTargets"},
	{awsapi.ServiceELB, "DescribeTargetGroups"}, {awsapi.ServiceSSM, "SendCommand"}, {awsapi.ServiceSSM, "GetCommandInvocation"},
	{awsapi.ServiceEC2, "DescribeInstances"}, {awsapi.ServiceDynamoDB, "GetItem"}, {awsapi.ServiceDynamoDB, "PutItem"},
	{awsapi.ServiceDynamoDB, "UpdateItem"}, {awsapi.ServiceDynamoDB, "DeleteItem"}, {awsapi.ServiceStepFunctions, "DescribeExecution"},
	{awsapi.ServiceLambda, "Invoke"},
}

// runChaos runs one seeded rollout under faults and checks the invariants.
func runChaos(t *testing.T, seed uint64) *chaosRun {
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	cfg := groupsOf(4, 4)
	l := startLab(t, cfg)
	l.Seed(seed)
	run := &chaosRun{seed: seed, lossOK: map[int]string{}, gone: map[string]string{}, deletedAt: map[int]float64{}}
	pct := []int{50, 75}[rng.IntN(2)]
	run.input = fleetInput(l, map[string]any{"maxConcurrency": 1 + rng.IntN(2), "minHealthyPercent": pct,
		"maxErrors": rng.IntN(3), "capacityWaitSeconds": 60})

	// Faults that strike at a moment of the run act from the execution events.
	var mu sync.Mutex
	var onEvent []func(sfn.Event)
	for _, kind := range rng.Perm(7)[:2+rng.IntN(2)] {
		switch kind {
		case 0, 1: // an API operation fails: a few times, or now and then
			o := chaosOps[rng.IntN(len(chaosOps))]
			r := awsapi.Rule{Service: o.service, Operation: o.op,
				Fault: []awsapi.Fault{awsapi.InternalError, awsapi.ServiceUnavailable, awsapi.Throttling}[rng.IntN(3)]}
			if rng.IntN(2) == 0 {
				r.Times = 1 + rng.IntN(3)
			} else {
				r.P, r.Times = []float64{0.05, 0.1, 0.2}[rng.IntN(3)], 20
			}
			if o.op == "Invoke" {
				r.Fault = awsapi.Throttling // Lambda's throttling (TooManyRequestsException)
			}
			if _, err := l.API.Inject(r); err != nil {
				t.Fatal(err)
			}
			run.faults = append(run.faults, fmt.Sprintf("%s %s %s ×%d p=%.2f", o.service, o.op, r.Fault, r.Times, r.P))
		case 2: // a function crashes or runs past its timeout, once
			fn := catalog.All[rng.IntN(len(catalog.All))].Name
			r := awsapi.Rule{Service: awsapi.ServiceLambda, Operation: "Invoke", Function: fn,
				Fault: []awsapi.Fault{awsapi.Crash, awsapi.Timeout}[rng.IntN(2)], Times: 1, AfterEffects: rng.IntN(2) == 0, After: rng.IntN(3)}
			if _, err := l.API.Inject(r); err != nil {
				t.Fatal(err)
			}
			run.faults = append(run.faults, fmt.Sprintf("%s %s (after %d calls, effects %v)", fn, r.Fault, r.After, r.AfterEffects))
		case 3: // an instance's maintenance command fails
			victim := l.Instances[rng.IntN(len(l.Instances))].ID
			l.SSM.SetFaults(victim, ssm.Faults{FailWith: 1, Stderr: "chaos: the package manager is locked"})
			run.faults = append(run.faults, "the command fails on "+victim)
		case 4: // an instance is stopped or terminated while drainpipe has it out
			victim := l.Instances[rng.IntN(len(l.Instances))].ID
			terminate := rng.IntN(2) == 0
			var once sync.Once
			onEvent = append(onEvent, func(e sfn.Event) {
				if e.InstanceID != victim || e.Type != "StateEntered" || e.Name != "CheckMaintenance" {
					return
				}
				once.Do(func() {
					what, err := "stopped", error(nil)
					if terminate {
						what, err = "terminated", l.TerminateInstance(victim)
					} else {
						err = l.StopInstance(victim)
					}
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						run.gone[victim] = what
					}
				})
			})
			run.faults = append(run.faults, fmt.Sprintf("%s terminated=%v mid-maintenance", victim, terminate))
		case 5: // the rollout is stopped in its second wave
			var once sync.Once
			waves := 0
			onEvent = append(onEvent, func(e sfn.Event) {
				if e.StateMachineARN != lab.FleetStateMachineARN || e.Type != "StateEntered" || e.Name != "RunWave" {
					return
				}
				mu.Lock()
				waves++
				second := waves == 2
				mu.Unlock()
				if second {
					once.Do(func() { _ = l.SFN.StopExecution(e.ExecutionARN, "Chaos", "stopped by the chaos test") })
				}
			})
			run.faults = append(run.faults, "the rollout is stopped in its second wave")
		case 6: // a target group is deleted mid-run: its clients lose requests, unavoidably
			g := 1
			var once sync.Once
			onEvent = append(onEvent, func(e sfn.Event) {
				if e.Type == "StateEntered" && e.Name == "CheckDrain" {
					once.Do(func() {
						at := l.Clock.Since()
						if l.DeleteTargetGroup(l.Groups[g].ARN) == nil {
							mu.Lock()
							run.deletedAt[g] = at
							mu.Unlock()
						}
					})
				}
			})
			run.lossOK[g] = "its target group was deleted mid-run"
			run.faults = append(run.faults, "target group g1 deleted mid-run")
		}
	}

	ctx := context.Background()
	start := l.Clock.Since()
	stopTraffic := withTraffic(l)
	res, err := l.MaintainFleet(ctx, fmt.Sprintf("chaos-%d", seed), run.input, func(e sfn.Event) {
		for _, f := range onEvent {
			f(e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	run.outcome = res.Status
	if res.Error != "" {
		run.outcome += " " + res.Error
	}
	// The input is valid and its budget can be kept by construction: a refusal at
	// planning is a regression, not a fault's doing.
	if res.Error == "InvalidInput" || res.Error == "CapacityBudgetExceeded" {
		run.violate("the rollout was refused at planning: %s: %s", res.Error, res.Cause)
	}
	// The restores start when executions end (their status change events are delivered
	// a moment later), and wait 90 s before acting: wait until nothing runs, twice in a
	// row 10 lab seconds apart.
	for quiet := 0; quiet < 2; {
		if err := l.WaitUntil(ctx, 900*time.Second, func() bool { return len(running(l)) == 0 }); err != nil {
			run.violate("executions still running: %v", running(l))
			break
		}
		quiet++
		if err := l.Clock.Sleep(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if len(running(l)) > 0 {
			quiet = 0
		}
	}
	totals := stopTraffic()
	end := l.Clock.Since()
	run.injected = len(l.Injected())
	checkChaosInvariants(t, l, cfg, run, start, end, pct, totals)
	return run
}

// running lists the executions of any of the three state machines not yet ended.
func running(l *lab.Lab) []string {
	var out []string
	for _, m := range []string{lab.FleetStateMachineARN, lab.InstanceStateMachineARN, lab.RestoreStateMachineARN} {
		for _, d := range l.SFN.List(m, sfn.StatusRunning) {
			out = append(out, d.Name)
		}
	}
	return out
}

// namedOutcome: the errors an execution may end with are drainpipe's names, the names
// Step Functions and Lambda document (States.*, Lambda.*, Sandbox.Timedout,
// Runtime.ExitError), and the stops (the chaos test's and a restore's). A Go type name
// (what aws-lambda-go answers for a panic) is not one.
func namedOutcome(errName string) bool {
	return slices.Contains(faults.Names, errName) || slices.Contains(failStates(), errName) || strings.HasPrefix(errName, "States.") ||
		strings.HasPrefix(errName, "Lambda.") || errName == "Sandbox.Timedout" || errName == "Runtime.ExitError" || errName == "Chaos" || errName == "Recovery"
}

// failStates are the errors the state machines' own Fail states name (RestoreFailed, ...).
func failStates() []string {
	var names []string
	for _, file := range statemachine.Names() {
		raw, _ := statemachine.Definition(file)
		var def struct {
			States map[string]struct{ Type, Error string }
		}
		_ = json.Unmarshal(raw, &def)
		for _, s := range def.States {
			if s.Type == "Fail" && s.Error != "" {
				names = append(names, s.Error)
			}
		}
	}
	return names
}

func checkChaosInvariants(t *testing.T, l *lab.Lab, cfg lab.Config, run *chaosRun, start, end float64, pct int, totals []traffic.Totals) {
	t.Helper()
	// Every execution ended, with a named outcome.
	for _, m := range []string{lab.FleetStateMachineARN, lab.InstanceStateMachineARN, lab.RestoreStateMachineARN} {
		for _, d := range l.SFN.List(m, "") {
			switch {
			case d.Status == sfn.StatusRunning:
				run.violate("%s is still running", d.Name)
			case d.Status == sfn.StatusAborted && d.Error == "": // stopped with its parent: named by its status
			case d.Status != sfn.StatusSucceeded && !namedOutcome(d.Error):
				run.violate("%s ended %s with an unnamed error %q: %s", d.Name, d.Status, d.Error, truncate(d.Cause, 300))
			}
		}
	}
	run.maintained = len(l.SFN.List(lab.InstanceStateMachineARN, sfn.StatusSucceeded))
	regs := l.Registrations()
	for gi, g := range cfg.Groups {
		if at, deleted := run.deletedAt[gi]; deleted {
			// Until its deletion, the group's record counts as any other's.
			floor := int(math.Ceil(float64(pct) * float64(len(g.Members)) / 100))
			for _, s := range l.Groups[gi].History() {
				if s.At >= start && s.At < at && s.Healthy < floor {
					run.violate("%s had %d healthy targets at %.1f lab s, below its floor %d (before its deletion)", g.Name, s.Healthy, s.At, floor)
					break
				}
			}
			continue
		}
		// No instance left deregistered.
		for _, m := range g.Members {
			id := l.Instances[m.Instance].ID
			if run.gone[id] != "" {
				continue
			}
			if !slices.ContainsFunc(regs[g.Name], func(th elb.TargetHealth) bool { return th.ID == id }) {
				run.violate("%s is left deregistered from %s", id, g.Name)
			}
		}
		// No second below the floor, by the load balancer's record.
		floor := int(math.Ceil(float64(pct) * float64(len(g.Members)) / 100))
		for _, s := range l.Groups[gi].History() {
			if s.At >= start && s.At <= end && s.Healthy < floor {
				run.violate("%s had %d healthy targets at %.1f lab s, below its floor %d", g.Name, s.Healthy, s.At, floor)
				break
			}
		}
	}
	// Every reservation and lease released, or expiring.
	now := l.Clock.Now().Unix()
	for _, item := range capacityItems(l, "group#") {
		if out, ok := item["out"].(*ddbtypes.AttributeValueMemberM); ok && len(out.Value) > 0 {
			held := slices.Sorted(maps.Keys(out.Value))
			run.violate("%s still counts %v as out", item["pk"].(*ddbtypes.AttributeValueMemberS).Value, held)
		}
	}
	for _, prefix := range []string{"instance#", "lease#"} {
		for _, item := range capacityItems(l, prefix) {
			exp, ok := item["expiresAt"].(*ddbtypes.AttributeValueMemberN)
			expires, _ := strconv.ParseInt(func() string {
				if ok {
					return exp.Value
				}
				return ""
			}(), 10, 64)
			pk := item["pk"].(*ddbtypes.AttributeValueMemberS).Value
			if !ok || expires <= now {
				run.violate("%s is held and not expiring: %v", pk, item)
				continue
			}
			run.violate("%s is still held (expires in %d s)", pk, expires-now)
		}
	}
	// No request lost, unless a fault made it unavoidable.
	for gi, tot := range totals {
		if n := tot.Failed(); n > 0 {
			run.lost = append(run.lost, n)
			if why, ok := run.lossOK[gi]; ok {
				t.Logf("seed %d: %d requests lost on %s: %s", run.seed, n, cfg.Groups[gi].Name, why)
				continue
			}
			run.violate("%d of %d requests lost on %s", n, tot.Requests, cfg.Groups[gi].Name)
		}
	}
	var lines []string
	for _, in := range l.Injected() {
		lines = append(lines, fmt.Sprintf("%.1fs %s %s %s %s %s", in.Since, in.Service, in.Operation, in.Function, in.Code, in.Target))
	}
	raw, _ := json.Marshal(run.input)
	t.Logf("seed %d: input %s\nfaults: %s\ninjected:\n  %s", run.seed, raw, strings.Join(run.faults, "; "), strings.Join(lines, "\n  "))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
