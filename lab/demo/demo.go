// Package demo owns the lab's main job, make demo: the post's scenario under steady
// client traffic. First the naive way (the post's reboot with a health check, instance
// left in rotation), then a drainpipe rollout: the fleet state machine over every
// instance, one after another, each a child execution of the instance state machine,
// started and watched with the drainpipe command's own code. It prints a live view (the
// command's watch view, with the traffic under it), then a report (requests and non-2xx
// answers by status per phase, phase timings per instance) and draws the chart.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drainpipe/drainpipe/internal/cli"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/chart"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/traffic"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Phase labels of the traffic.
const (
	PhaseBaseline  = "baseline"
	PhaseNaive     = "naive"
	PhaseDrainpipe = "drainpipe"
)

// Options configure a run.
type Options struct {
	Config lab.Config
	// Rate is client requests per real second (0: 200; negative: closed loop).
	Rate float64
	// Clients is the number of concurrent clients (0: 32).
	Clients int
	// Naive runs the naive reboot of the first instance before drainpipe.
	Naive bool
	// Input builds the fleet state machine's input; nil: RolloutInput.
	Input func(l *lab.Lab, _ *instance.Instance) map[string]any
	// Out receives the live view; nil discards it.
	Out io.Writer
	// Size, when Out is a terminal, reads its size: the watch view is then redrawn in
	// place (cli.Terminal gives it).
	Size func() (cols, rows int)
	// Chart is the chart's path (.png or .svg); "" draws none.
	Chart string
	// Prepare, when set, runs after the lab has started and before the traffic: fault
	// injection for tests.
	Prepare func(l *lab.Lab)
}

// Execution is one instance's drainpipe execution.
type Execution struct {
	InstanceID   string
	Succeeded    bool
	Error, Cause string
	Output       string
	PhaseSeconds map[string]float64
	// From and To are real seconds since the traffic started: from its deregistration
	// until it was healthy again (or, failed, until its registrations were put back).
	From, To float64
	// Segments are its phases out of service, in the same seconds.
	Segments []chart.Segment
	// BootsBefore and BootsAfter count the instance's boots around the execution.
	BootsBefore, BootsAfter int
	// Transitions is the number of states the execution entered plus its start, what
	// Step Functions Standard bills.
	Transitions int
}

// Report is what a run measured.
type Report struct {
	Phases     []string
	Totals     map[string]traffic.Totals
	Seconds    []traffic.Second
	Executions []Execution
	// NaiveFrom and NaiveTo bound the naive reboot, real seconds since the traffic started;
	// DrainpipeFrom is when the drainpipe phase began.
	NaiveFrom, NaiveTo, DrainpipeFrom float64
	// History is each group's healthy and registered counts over time.
	History map[string][]elb.Sample
	// Final is every registration at the end.
	Final   map[string][]elb.TargetHealth
	Skipped int
	Elapsed time.Duration
	// MinimumSeconds is an instance's physical minimum out of service, in lab seconds
	// (see Minimum); RolloutSeconds the rollout's execution, from its start to its end,
	// and Waves its waves.
	MinimumSeconds, RolloutSeconds float64
	Waves                          int
}

// Minimum is the least time out of service the physics of the lab's first group allow one
// instance rebooted by drainpipe: the whole deregistration delay (nothing ends a drain
// sooner without an idle drain), the reboot, with a health check the seconds SSM takes to
// show a new command's result (InvisibleSeconds: a command's output cannot be read
// sooner), and one health check interval (the load balancer's first check of the target
// registered again).
func Minimum(cfg lab.Config, healthCheck bool) float64 {
	g := cfg.Groups[0]
	m := float64(g.DeregistrationDelaySeconds) + cfg.RebootSeconds + float64(g.HealthCheck.IntervalSeconds)
	if healthCheck {
		m += workflow.InvisibleSeconds
	}
	return m
}

// DrainpipeLost is the number of requests the drainpipe phase lost.
func (r Report) DrainpipeLost() int { return r.Totals[PhaseDrainpipe].Failed() }

// Run runs the scenario.
func Run(ctx context.Context, opt Options) (Report, error) {
	start := time.Now()
	out := opt.Out
	if out == nil {
		out = io.Discard
	}
	if opt.Rate == 0 {
		opt.Rate = 200
	}
	if opt.Clients == 0 {
		opt.Clients = 32
	}
	if opt.Input == nil {
		opt.Input = RolloutInput
	}
	l, err := lab.Start(opt.Config)
	if err != nil {
		return Report{}, err
	}
	defer l.Close()
	v := &view{out: out, start: time.Now()}
	v.printf("lab: %d instances behind %s (%s), time scale %g (1 lab second = %v)",
		len(l.Instances), l.URLs[0], l.Groups[0].Config().Name, l.Config.Scale, l.Clock.Seconds(1).Round(time.Millisecond))
	if opt.Prepare != nil {
		opt.Prepare(l)
	}
	if err := l.WaitAllHealthy(ctx, 120*time.Second); err != nil {
		return Report{}, err
	}
	gen := &traffic.Generator{URL: l.URLs[0], Rate: max(opt.Rate, 0), Clients: opt.Clients}
	gen.SetPhase(PhaseBaseline)
	gen.Start(ctx)
	v.gen = gen
	stopTicker := v.tick()
	defer stopTicker()
	if opt.Rate > 0 {
		v.printf("traffic: %g requests/s through the load balancer", opt.Rate)
	} else {
		v.printf("traffic: %d clients in a closed loop through the load balancer", opt.Clients)
	}
	sleep(ctx, l, 10)

	var rep Report
	if opt.Naive {
		inst := l.Instances[0]
		gen.SetPhase(PhaseNaive)
		rep.NaiveFrom = gen.Elapsed().Seconds()
		v.setStatus(inst.ID, "naive reboot (no draining)")
		v.printf("naive: %s rebooted in place, as the post's RebootWithHealthcheck does", inst.ID)
		if err := l.NaiveReboot(ctx, inst); err != nil {
			return Report{}, err
		}
		v.printf("naive: %s back; waiting for the load balancer to see it healthy", inst.ID)
		if err := l.WaitAllHealthy(ctx, 120*time.Second); err != nil {
			return Report{}, err
		}
		rep.NaiveTo = gen.Elapsed().Seconds()
		v.setStatus(inst.ID, "")
		sleep(ctx, l, 10)
	}

	gen.SetPhase(PhaseDrainpipe)
	rep.DrainpipeFrom = gen.Elapsed().Seconds()
	_, withCheck := opt.Input(l, nil)["healthCheck"]
	rep.MinimumSeconds = Minimum(l.Config, withCheck)
	executions, rec, err := runRollout(ctx, l, v, gen, opt)
	rep.Executions = executions
	if rec != nil {
		rep.RolloutSeconds, rep.Waves = rec.fleetTo.Sub(rec.fleetFrom).Seconds()/l.Config.Scale, rec.waves
	}
	if err != nil {
		rep.Elapsed = time.Since(start)
		return rep, err
	}
	sleep(ctx, l, 10)
	gen.Stop()
	stopTicker()

	rep.Phases, rep.Totals = gen.Phases()
	rep.Seconds = gen.Seconds()
	rep.Skipped = gen.Skipped()
	rep.History, rep.Final = map[string][]elb.Sample{}, l.Registrations()
	for _, g := range l.Groups {
		rep.History[g.Config().Name] = g.History()
	}
	rep.Elapsed = time.Since(start)
	if opt.Chart != "" {
		if err := chart.Draw(opt.Chart, rep.chart()); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runRollout maintains the whole fleet with the fleet state machine, one instance at a time
// (maxConcurrency 1), each instance as a child execution of the instance state machine.
// It starts and follows the rollout with the drainpipe command's own code, through the
// lab's AWS endpoint, as an operator would on AWS: the live view is the command's watch
// view, with the traffic under it. What the report and the chart need, it reads from the
// lab's record of the executions.
func runRollout(ctx context.Context, l *lab.Lab, v *view, gen *traffic.Generator, opt Options) ([]Execution, *recorder, error) {
	awsCfg, err := l.API.Config(ctx)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "drainpipe-demo-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	raw, err := json.MarshalIndent(opt.Input(l, nil), "", "  ")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return nil, nil, err
	}

	rec := &recorder{gen: gen, byID: map[string]*Execution{}, fleet: rollout.ExecutionARN(lab.FleetStateMachineARN, RolloutName), ended: make(chan struct{})}
	for _, inst := range l.Instances {
		rec.byID[inst.ID] = &Execution{InstanceID: inst.ID, BootsBefore: inst.Boots()}
	}
	cancel := l.SFN.Subscribe(rec.see)
	defer cancel()

	v.printf("drainpipe: drainpipe start fleet %s --name %s --wait", path, RolloutName)
	v.printf("drainpipe: the operator's command, against the lab's AWS endpoint; its times are real (the lab runs at %g times AWS speed)", 1/l.Config.Scale)
	v.pause(true)
	code := cli.Run(ctx, cli.Env{Config: awsCfg, Stdout: v.out, Stderr: v.out, Poll: 250 * time.Millisecond,
		Size: opt.Size, Footer: v.trafficLine}, []string{"start", "fleet", path, "--name", RolloutName, "--wait"})
	v.pause(false)
	if err := ctx.Err(); err != nil {
		return rec.executions(l), nil, err
	}
	if code != cli.ExitOK && code != cli.ExitFailed {
		return nil, nil, fmt.Errorf("drainpipe start exited %d", code)
	}
	select { // the lab's last events of the rollout
	case <-rec.ended:
	case <-time.After(30 * time.Second):
		return nil, nil, fmt.Errorf("the lab never reported the end of %s", rec.fleet)
	}
	return rec.executions(l), rec, nil
}

// RolloutName is the demo rollout's execution name.
const RolloutName = "demo"

// recorder keeps, from the lab's events, each instance execution's outcome and its time
// out of service, phase by phase, in real seconds since the traffic started.
type recorder struct {
	gen   *traffic.Generator
	fleet string
	ended chan struct{}
	once  sync.Once

	mu    sync.Mutex
	byID  map[string]*Execution
	order []string
	// fleetFrom and fleetTo bound the rollout's execution; waves is its summary's count.
	fleetFrom, fleetTo time.Time
	waves              int
}

func (r *recorder) see(e sfn.Event) {
	if e.Root != r.fleet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.ExecutionARN == r.fleet && e.Type == "ExecutionStarted" {
		r.fleetFrom = e.At
	}
	if e.ExecutionARN == r.fleet && e.Terminal() {
		r.fleetTo = e.At
		var sum struct {
			Waves int `json:"waves"`
		}
		_ = json.Unmarshal(e.Output, &sum)
		r.waves = sum.Waves
		r.once.Do(func() { close(r.ended) })
	}
	ex := r.byID[e.InstanceID]
	if e.InstanceID == "" || ex == nil {
		return
	}
	now := r.gen.Elapsed().Seconds()
	switch e.Type {
	case "StateEntered":
		ex.Transitions++
		phase := statemachine.InstancePhase(e.Name)
		open := len(ex.Segments) > 0 && ex.Segments[len(ex.Segments)-1].To < 0
		if open && ex.Segments[len(ex.Segments)-1].Phase == phase {
			return
		}
		if open {
			ex.Segments[len(ex.Segments)-1].To = now
		}
		// Out of service from the deregistration until healthy again, or until the
		// restore is done.
		if statemachine.OutOfService(phase) || (open && phase == statemachine.PhaseRestoring) {
			if len(ex.Segments) == 0 {
				r.order = append(r.order, e.InstanceID)
			}
			ex.Segments = append(ex.Segments, chart.Segment{Phase: phase, From: now, To: -1})
		}
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
		if n := len(ex.Segments); n > 0 && ex.Segments[n-1].To < 0 {
			ex.Segments[n-1].To = now
		}
		ex.Transitions++ // the execution's start
		ex.Succeeded, ex.Error, ex.Cause, ex.Output = e.Type == "ExecutionSucceeded", e.Error, e.Cause, string(e.Output)
		if ex.Succeeded {
			ex.PhaseSeconds = phaseSeconds(e.Output)
		}
	}
}

// executions are the instances taken out, in the order they were.
func (r *recorder) executions(l *lab.Lab) []Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Execution
	for _, id := range r.order {
		ex := *r.byID[id]
		ex.From, ex.To = ex.Segments[0].From, ex.Segments[len(ex.Segments)-1].To
		if inst, ok := l.Instance(id); ok {
			ex.BootsAfter = inst.Boots()
		}
		out = append(out, ex)
	}
	return out
}

// RolloutInput is the default input: the post's maintenance window (every instance of
// the first group, one at a time, no error tolerated), rebooting each, with the post's
// health check (curl the service on the instance).
func RolloutInput(l *lab.Lab, _ *instance.Instance) map[string]any {
	return map[string]any{
		"targetGroupArns": []string{l.Groups[0].ARN},
		// The lab's instances reboot in 30 s (RebootSeconds): the operator says so.
		"maintenance":       map[string]any{"action": "reboot", "expectedSeconds": int(l.Config.RebootSeconds)},
		"healthCheck":       map[string]any{"commands": []string{fmt.Sprintf("curl -fsS http://${INSTANCE_IP:-localhost}:%d/", l.Config.ServicePort)}},
		"pollSeconds":       2,
		"maxConcurrency":    1,
		"minHealthyPercent": 50,
		"maxErrors":         0,
	}
}

// chart is what the chart shows: the traffic, the naive reboot and each instance's time
// out of service by phase, and the naive and drainpipe phases' totals.
func (r Report) chart() chart.Run {
	run := chart.Run{Title: "drainpipe lab: naive reboot vs drainpipe", Seconds: r.Seconds}
	if r.NaiveTo > 0 {
		run.Marks = append(run.Marks, chart.Mark{Label: "naive reboot", From: r.NaiveFrom, To: r.NaiveTo, Bad: true})
	}
	for _, ex := range r.Executions {
		id := ex.InstanceID
		run.Marks = append(run.Marks, chart.Mark{Label: "…" + id[len(id)-4:], From: ex.From, To: ex.To, Bad: !ex.Succeeded, Segments: ex.Segments})
	}
	end := 0.0
	if n := len(r.Seconds); n > 0 {
		end = float64(r.Seconds[n-1].At)
	}
	bounds := map[string][2]float64{PhaseNaive: {r.NaiveFrom, r.DrainpipeFrom}, PhaseDrainpipe: {r.DrainpipeFrom, end}}
	for _, name := range r.Phases {
		if name == PhaseBaseline {
			continue // too short to carry its text; the report prints its totals
		}
		t, b := r.Totals[name], bounds[name]
		run.Windows = append(run.Windows, chart.Window{Name: name, From: b[0], To: b[1], Requests: t.Requests, Failed: t.Failed()})
	}
	return run
}

// sleep waits the lab seconds, and at least two real seconds: the chart counts requests
// a second at a time, so each part of the run gets whole seconds of its own.
func sleep(ctx context.Context, l *lab.Lab, labSeconds float64) {
	d := max(l.Clock.Seconds(labSeconds), 2*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// view is the live view: a line per event and a traffic line per second.
type view struct {
	out   io.Writer
	start time.Time
	gen   *traffic.Generator

	mu     sync.Mutex
	status map[string]string
	paused bool
}

// pause stops the traffic lines while the watch view shows the traffic itself.
func (v *view) pause(p bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.paused = p
}

// trafficLine is the last full second of traffic, for the watch view's footer.
func (v *view) trafficLine() string {
	last := int(v.gen.Elapsed()/time.Second) - 1
	secs := v.gen.Seconds()
	if last < 0 || last >= len(secs) {
		return ""
	}
	s := secs[last]
	return fmt.Sprintf("traffic: %4d req/s, %3d failed%s, p99 %v", s.Requests, s.Failed(), codes(s.Codes), s.P99.Round(100*time.Microsecond))
}

func (v *view) printf(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintf(v.out, "[%5.1fs] %s\n", time.Since(v.start).Seconds(), fmt.Sprintf(format, args...))
}

func (v *view) setStatus(id, s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.status == nil {
		v.status = map[string]string{}
	}
	if s == "" {
		delete(v.status, id)
	} else {
		v.status[id] = s
	}
}

// tick prints the traffic of the last full second, once a second.
func (v *view) tick() (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		printed := -1
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			// The last full second of traffic, once.
			last := int(v.gen.Elapsed()/time.Second) - 1
			secs := v.gen.Seconds()
			if last <= printed || last >= len(secs) {
				continue
			}
			printed = last
			v.mu.Lock()
			paused := v.paused
			var states []string
			for _, id := range slices.Sorted(maps.Keys(v.status)) {
				states = append(states, id+": "+v.status[id])
			}
			v.mu.Unlock()
			if paused {
				continue
			}
			line := v.trafficLine()
			if len(states) > 0 {
				line += " | " + strings.Join(states, ", ")
			}
			v.printf("%s", line)
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// codes formats the non-2xx status codes: " (502×12, no answer×1)".
func codes(c map[int]int) string {
	var parts []string
	keys := slices.Sorted(maps.Keys(c))
	for _, code := range keys {
		if code >= 200 && code < 300 {
			continue
		}
		name := fmt.Sprint(code)
		if code == traffic.Error {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, c[code]))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// PrintReport writes the report's tables.
func PrintReport(w io.Writer, r Report) {
	fmt.Fprintf(w, "\n%-10s %9s %9s  %s\n", "phase", "requests", "non-2xx", "by status")
	for _, name := range r.Phases {
		t := r.Totals[name]
		fmt.Fprintf(w, "%-10s %9d %9d  %s\n", name, t.Requests, t.Failed(), strings.TrimPrefix(codes(t.Codes), " "))
	}
	fmt.Fprintf(w, "\n%-20s %-9s %8s %12s %10s %16s %13s %6s %12s %7s\n", "instance", "outcome", "drain", "maintenance", "check", "return-healthy", "out-of-svc", "boots", "transitions", "ratio")
	transitions := 0
	for _, ex := range r.Executions {
		outcome := "ok"
		if !ex.Succeeded {
			outcome = ex.Error
		}
		p := ex.PhaseSeconds
		fmt.Fprintf(w, "%-20s %-9s %7.1fs %11.1fs %9.1fs %15.1fs %12.1fs %3d→%d %12d %7.3f\n", ex.InstanceID, outcome,
			p["drain"], p["maintenance"], p["healthCheck"], p["returnToHealthy"], p["outOfService"], ex.BootsBefore, ex.BootsAfter, ex.Transitions, p["outOfService"]/r.MinimumSeconds)
		transitions += ex.Transitions
	}
	fmt.Fprintf(w, "(phase times in lab seconds, as AWS would count them; ratio: out of service over the physical minimum, %.0f s)\n", r.MinimumSeconds)
	if n := len(r.Executions); n > 0 && r.Waves > 0 {
		fmt.Fprintf(w, "rollout: %.1f s for %d waves, %.3f times the sum of the waves' minimums (%.0f s); %.1f state transitions per instance, $%.2f per 1,000 instances at $%.3f per 1,000 transitions\n",
			r.RolloutSeconds, r.Waves, r.RolloutSeconds/(float64(r.Waves)*r.MinimumSeconds), float64(r.Waves)*r.MinimumSeconds,
			float64(transitions)/float64(n), float64(transitions)/float64(n)*TransitionDollarsPer1000, TransitionDollarsPer1000)
	}
}

// TransitionDollarsPer1000 is Step Functions Standard's price per 1,000 state transitions
// (us-east-1).
const TransitionDollarsPer1000 = 0.025

// phaseSeconds reads phaseSeconds from an execution's output.
func phaseSeconds(output []byte) map[string]float64 {
	var s struct {
		PhaseSeconds map[string]float64 `json:"phaseSeconds"`
	}
	_ = json.Unmarshal(output, &s)
	return s.PhaseSeconds
}
