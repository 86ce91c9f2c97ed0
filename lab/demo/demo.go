// Package demo owns the lab's main job, make demo: the post's scenario under steady
// client traffic. First the naive way (the post's reboot with a health check, instance
// left in rotation), then a drainpipe rollout: the fleet state machine over every
// instance, one after another, each a child execution of the instance state machine. It prints a live view, then a report (requests and non-2xx answers by
// status per phase, phase timings per instance) and draws the chart.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/chart"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/traffic"
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
	// From and To are real seconds since the traffic started: deregistration to the end.
	From, To float64
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
	// NaiveFrom and NaiveTo bound the naive reboot, real seconds since the traffic started.
	NaiveFrom, NaiveTo float64
	// History is each group's healthy and registered counts over time.
	History map[string][]elb.Sample
	// Final is every registration at the end.
	Final   map[string][]elb.TargetHealth
	Skipped int
	Elapsed time.Duration
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
	executions, err := rollout(ctx, l, v, gen, opt)
	if err != nil {
		return Report{}, err
	}
	rep.Executions = executions
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
		if err := chart.Draw(opt.Chart, "drainpipe lab: naive reboot vs drainpipe", rep.Seconds, rep.marks()); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// rollout maintains the whole fleet with the fleet state machine, one instance at a time
// (maxConcurrency 1), each instance as a child execution of the instance state machine.
func rollout(ctx context.Context, l *lab.Lab, v *view, gen *traffic.Generator, opt Options) ([]Execution, error) {
	byID := map[string]*Execution{}
	var order []string
	for _, inst := range l.Instances {
		byID[inst.ID] = &Execution{InstanceID: inst.ID, BootsBefore: inst.Boots()}
	}
	var mu sync.Mutex
	input := opt.Input(l, nil)
	res, err := l.MaintainFleet(ctx, "demo", input, func(e sfn.Event) {
		if e.InstanceID == "" { // the fleet's own execution
			if e.Type == "StateEntered" && (e.Name == "PlanRollout" || e.Name == "AcquireLeases" || e.Name == "ReleaseLeases") {
				v.printf("fleet: %s", e.Name)
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ex := byID[e.InstanceID]
		if ex == nil {
			return
		}
		if e.Type == "StateEntered" {
			ex.Transitions++
			v.setStatus(e.InstanceID, e.Name)
		}
		switch {
		case e.Type == "StateEntered" && e.Name == "DeregisterTarget":
			ex.From = gen.Elapsed().Seconds()
			order = append(order, e.InstanceID)
			v.printf("drainpipe: %s deregistered; draining", e.InstanceID)
		case e.Type == "StateEntered" && e.Name == "StartMaintenance":
			v.printf("drainpipe: %s drained; maintenance sent through SSM", e.InstanceID)
		case e.Type == "StateEntered" && e.Name == "RegisterTarget":
			v.printf("drainpipe: %s maintained; registered again", e.InstanceID)
		case e.Type == "StateEntered" && e.Name == "RestoreTarget":
			v.printf("drainpipe: %s failed; restoring its registrations", e.InstanceID)
		case e.Type == "ExecutionSucceeded" || e.Type == "ExecutionFailed":
			ex.To = gen.Elapsed().Seconds()
			ex.Transitions++ // the execution's start
			ex.Succeeded, ex.Error, ex.Cause, ex.Output = e.Type == "ExecutionSucceeded", e.Error, e.Cause, string(e.Output)
			v.setStatus(e.InstanceID, "")
			if ex.Succeeded {
				ex.PhaseSeconds = phaseSeconds(e.Output)
				v.printf("drainpipe: %s healthy again: %s", e.InstanceID, formatPhases(ex.PhaseSeconds))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if !res.Succeeded {
		v.printf("fleet: %s: %s", res.Error, res.Cause)
	} else {
		var sum struct {
			Counts struct{ Succeeded, Failed, Skipped int }
		}
		_ = json.Unmarshal(res.Output, &sum)
		v.printf("fleet: rollout done: %d succeeded, %d failed, %d skipped", sum.Counts.Succeeded, sum.Counts.Failed, sum.Counts.Skipped)
	}
	var out []Execution
	for _, id := range order {
		ex := byID[id]
		inst, _ := l.Instance(id)
		ex.BootsAfter = inst.Boots()
		out = append(out, *ex)
	}
	return out, nil
}

// RolloutInput is the default input: the post's maintenance window (every instance of
// the first group, one at a time, no error tolerated), rebooting each, with the post's
// health check (curl the service on the instance).
func RolloutInput(l *lab.Lab, _ *instance.Instance) map[string]any {
	return map[string]any{
		"targetGroupArns":   []string{l.Groups[0].ARN},
		"maintenance":       map[string]any{"action": "reboot"},
		"healthCheck":       map[string]any{"commands": []string{fmt.Sprintf("curl -fsS http://${INSTANCE_IP:-localhost}:%d/", l.Config.ServicePort)}},
		"pollSeconds":       2,
		"maxConcurrency":    1,
		"minHealthyPercent": 50,
		"maxErrors":         0,
	}
}

func (r Report) marks() []chart.Mark {
	var marks []chart.Mark
	if r.NaiveTo > 0 {
		marks = append(marks, chart.Mark{Label: "naive reboot", From: r.NaiveFrom, To: r.NaiveTo, Bad: true})
	}
	for _, ex := range r.Executions {
		id := ex.InstanceID
		marks = append(marks, chart.Mark{Label: "…" + id[len(id)-4:], From: ex.From, To: ex.To, Bad: !ex.Succeeded})
	}
	return marks
}

func sleep(ctx context.Context, l *lab.Lab, labSeconds float64) {
	_ = l.Clock.Sleep(ctx, time.Duration(labSeconds*float64(time.Second)))
}

// view is the live view: a line per event and a traffic line per second.
type view struct {
	out   io.Writer
	start time.Time
	gen   *traffic.Generator

	mu     sync.Mutex
	status map[string]string
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
			s := secs[last]
			v.mu.Lock()
			var states []string
			for _, id := range slices.Sorted(maps.Keys(v.status)) {
				states = append(states, id+": "+v.status[id])
			}
			v.mu.Unlock()
			line := fmt.Sprintf("traffic: %4d req/s, %3d failed%s, p99 %v", s.Requests, s.Failed(), codes(s.Codes), s.P99.Round(100*time.Microsecond))
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

func formatPhases(p map[string]float64) string {
	order := []string{"drain", "maintenance", "healthCheck", "returnToHealthy", "outOfService"}
	var parts []string
	for _, k := range order {
		if v, ok := p[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1fs", k, v))
		}
	}
	return strings.Join(parts, ", ") + " (lab seconds)"
}

// PrintReport writes the report's tables.
func PrintReport(w io.Writer, r Report) {
	fmt.Fprintf(w, "\n%-10s %9s %9s  %s\n", "phase", "requests", "non-2xx", "by status")
	for _, name := range r.Phases {
		t := r.Totals[name]
		fmt.Fprintf(w, "%-10s %9d %9d  %s\n", name, t.Requests, t.Failed(), strings.TrimPrefix(codes(t.Codes), " "))
	}
	fmt.Fprintf(w, "\n%-20s %-9s %8s %12s %10s %16s %13s %6s %12s\n", "instance", "outcome", "drain", "maintenance", "check", "return-healthy", "out-of-svc", "boots", "transitions")
	for _, ex := range r.Executions {
		outcome := "ok"
		if !ex.Succeeded {
			outcome = ex.Error
		}
		p := ex.PhaseSeconds
		fmt.Fprintf(w, "%-20s %-9s %7.1fs %11.1fs %9.1fs %15.1fs %12.1fs %3d→%d %12d\n", ex.InstanceID, outcome,
			p["drain"], p["maintenance"], p["healthCheck"], p["returnToHealthy"], p["outOfService"], ex.BootsBefore, ex.BootsAfter, ex.Transitions)
	}
	fmt.Fprintln(w, "(phase times in lab seconds, as AWS would count them)")
}

// phaseSeconds reads phaseSeconds from an execution's output.
func phaseSeconds(output []byte) map[string]float64 {
	var s struct {
		PhaseSeconds map[string]float64 `json:"phaseSeconds"`
	}
	_ = json.Unmarshal(output, &s)
	return s.PhaseSeconds
}
