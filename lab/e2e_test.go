package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/demo"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
	"github.com/drainpipe/drainpipe/lab/traffic"
	"github.com/drainpipe/drainpipe/schema"
	"github.com/drainpipe/drainpipe/statemachine"
)

// TestDemoDrainpipeLosesNoRequests is the product's claim, end to end at the demo's time
// scale: under steady traffic the naive reboot loses requests (the lab can see the
// problem) and drainpipe's state machine over every instance loses none.
func TestDemoDrainpipeLosesNoRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	var live bytes.Buffer
	rep, err := demo.Run(context.Background(), demo.Options{Config: cfg, Rate: 250, Naive: true, Out: &live})
	if err != nil {
		t.Fatal(err)
	}
	// The live view is the drainpipe command's watch view (plain: the buffer is no
	// terminal), with the traffic under it.
	for _, want := range []string{"started arn:aws:states:", "demo RUNNING, started", "demo SUCCEEDED after", "hello-world 2/3 healthy (floor 2)", "traffic:  "} {
		if !strings.Contains(live.String(), want) {
			t.Errorf("the live view lacks %q:\n%s", want, live.String())
		}
	}
	naive, dp := rep.Totals[demo.PhaseNaive], rep.Totals[demo.PhaseDrainpipe]
	if naive.Failed() == 0 || naive.Codes[502] == 0 {
		t.Errorf("the naive reboot lost no request (%+v): the lab does not show the problem", naive)
	}
	if dp.Requests < 2000 {
		t.Errorf("drainpipe phase sent %d requests; want at least 2000 for the claim to mean something", dp.Requests)
	}
	if dp.Failed() != 0 {
		t.Errorf("drainpipe lost %d of %d requests: %v", dp.Failed(), dp.Requests, dp.Codes)
	}
	if len(rep.Executions) != cfg.Instances {
		t.Fatalf("%d executions, want %d", len(rep.Executions), cfg.Instances)
	}
	for _, ex := range rep.Executions {
		if !ex.Succeeded {
			t.Errorf("%s: %s: %s", ex.InstanceID, ex.Error, ex.Cause)
		}
		if ex.BootsAfter != ex.BootsBefore+1 {
			t.Errorf("%s booted %d times during its maintenance, want exactly once", ex.InstanceID, ex.BootsAfter-ex.BootsBefore)
		}
		// Its time out of service, phase by phase, as the chart shows it.
		var phases []string
		for i, seg := range ex.Segments {
			phases = append(phases, seg.Phase)
			if seg.To < seg.From || (i > 0 && seg.From != ex.Segments[i-1].To) {
				t.Errorf("%s: segment %d %+v does not follow the one before", ex.InstanceID, i, seg)
			}
		}
		if len(phases) < 3 || phases[0] != statemachine.PhaseDraining || phases[1] != statemachine.PhaseMaintenance || phases[len(phases)-1] != statemachine.PhaseReturning {
			t.Errorf("%s: phases out of service %v, want draining, maintenance, (health check,) returning", ex.InstanceID, phases)
		}
		if ex.From != ex.Segments[0].From || ex.To != ex.Segments[len(ex.Segments)-1].To {
			t.Errorf("%s: out of service %.1f-%.1f, its segments %+v", ex.InstanceID, ex.From, ex.To, ex.Segments)
		}
		if ex.PhaseSeconds["drain"] < float64(cfg.Groups[0].DeregistrationDelaySeconds) {
			t.Errorf("%s: drain took %.1f lab s, less than the %d s deregistration delay", ex.InstanceID, ex.PhaseSeconds["drain"], cfg.Groups[0].DeregistrationDelaySeconds)
		}
	}
	assertAllRegisteredAndHealthy(t, rep.Final, cfg)
	// Capacity: after the fleet first became healthy, never more than one target out.
	for group, hist := range rep.History {
		full := slices.IndexFunc(hist, func(s elb.Sample) bool { return s.Healthy == cfg.Instances })
		for _, s := range hist[full:] {
			if s.Healthy < cfg.Instances-1 {
				t.Errorf("group %s had %d healthy targets at %.1f lab s; never fewer than %d", group, s.Healthy, s.At, cfg.Instances-1)
			}
		}
	}
}

// TestDemoInterrupted: Ctrl-C (the context cancelled) while an instance is in
// maintenance ends the demo with what it had done, and the lab closed.
func TestDemoInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var l *lab.Lab
	rep, err := demo.Run(ctx, demo.Options{Config: lab.Demo(), Naive: false, Prepare: func(started *lab.Lab) {
		l = started
		go func() {
			_ = started.WaitUntil(ctx, 120*time.Second, func() bool { return inMaintenance(started) })
			cancel()
		}()
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted demo: %v", err)
	}
	if rep.DrainpipeFrom == 0 || len(rep.Executions) != 1 || rep.Executions[0].Succeeded || rep.Elapsed == 0 {
		t.Errorf("the report of what was done: from %.1f, %d executions %+v, elapsed %v", rep.DrainpipeFrom, len(rep.Executions), rep.Executions, rep.Elapsed)
	}
	if _, err := l.SFN.StartExecution(lab.FleetStateMachineARN, "after", nil, ""); err == nil {
		t.Error("the lab still runs executions after the demo was interrupted")
	}
}

func assertAllRegisteredAndHealthy(t *testing.T, final map[string][]elb.TargetHealth, cfg lab.Config) {
	t.Helper()
	for _, g := range cfg.Groups {
		got := final[g.Name]
		if len(got) != len(g.Members) {
			t.Errorf("group %s ends with %d registrations, want %d: %+v", g.Name, len(got), len(g.Members), got)
		}
		for _, th := range got {
			if th.State != elb.StateHealthy {
				t.Errorf("group %s: %s:%d ends %s", g.Name, th.ID, th.Port, th.State)
			}
		}
	}
}

// run starts a lab with traffic on every group, runs one instance execution, stops the
// traffic, and returns the result with the traffic totals.
type run struct {
	lab    *lab.Lab
	result sfn.Result
	totals []traffic.Totals
	boots  int
}

func runOne(t *testing.T, cfg lab.Config, prepare func(*lab.Lab), input func(*lab.Lab) map[string]any) run {
	t.Helper()
	l, err := lab.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	ctx := context.Background()
	if err := l.WaitAllHealthy(ctx, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(l)
	}
	var gens []*traffic.Generator
	for _, url := range l.URLs {
		g := &traffic.Generator{URL: url, Rate: 150, Clients: 16}
		g.Start(ctx)
		gens = append(gens, g)
	}
	boots := l.Instances[0].Boots()
	res, err := l.MaintainInstance(ctx, "", input(l), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(schema.InstanceOutput, res.Output); res.Succeeded && err != nil {
		t.Errorf("the output does not match its schema: %v\n%s", err, res.Output)
	}
	_ = l.Clock.Sleep(ctx, 5*time.Second)
	r := run{lab: l, result: res, boots: l.Instances[0].Boots() - boots}
	for _, g := range gens {
		g.Stop()
		_, phases := g.Phases()
		r.totals = append(r.totals, phases[""])
	}
	return r
}

func rebootInput(l *lab.Lab) map[string]any {
	return map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2}
}

func with(base func(*lab.Lab) map[string]any, extra map[string]any) func(*lab.Lab) map[string]any {
	return func(l *lab.Lab) map[string]any {
		in := base(l)
		for k, v := range extra {
			in[k] = v
		}
		return in
	}
}

// TestFailuresRestoreTheInstanceAndFail: every failure after deregistration registers
// the instance again (its exact group and port) and fails the execution with the
// original error name. No client request is lost on any of these paths.
func TestFailuresRestoreTheInstanceAndFail(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tests := []struct {
		name      string
		prepare   func(*lab.Lab)
		input     func(*lab.Lab) map[string]any
		wantError string
		wantCause string
		wantBoots int
		// wantHealthy: the instance ends healthy (false: registered, but the fault
		// keeps it out of service, and the load balancer routes around it).
		wantHealthy bool
	}{
		{name: "failing command", input: with(rebootInput, map[string]any{"maintenance": map[string]any{"action": "commands", "commands": []string{"echo disk full >&2", "exit 3"}}}),
			wantError: "MaintenanceFailed", wantCause: "disk full", wantHealthy: true},
		{name: "failing health check after the reboot", input: with(rebootInput, map[string]any{"healthCheck": map[string]any{"commands": []string{"echo service down >&2", "exit 7"}}}),
			wantError: "HealthCheckFailed", wantCause: "service down", wantBoots: 1, wantHealthy: true},
		{name: "agent hangs", prepare: func(l *lab.Lab) { l.SSM.SetFaults(l.Instances[0].ID, ssm.Faults{Hang: true}) },
			input:     with(rebootInput, map[string]any{"maintenance": map[string]any{"action": "reboot", "timeoutSeconds": 30}}),
			wantError: "MaintenanceFailed", wantCause: "still InProgress at the deadline", wantHealthy: true},
		{name: "instance never comes back", prepare: func(l *lab.Lab) { l.Instances[0].SetFaults(instance.Faults{NeverComesBack: true}) },
			input:     with(rebootInput, map[string]any{"maintenance": map[string]any{"action": "reboot", "timeoutSeconds": 60}}),
			wantError: "MaintenanceFailed", wantCause: "at the deadline"},
		{name: "service unhealthy after the reboot", prepare: func(l *lab.Lab) { l.Instances[0].SetFaults(instance.Faults{UnhealthyAfterReboot: true}) },
			input:     with(rebootInput, map[string]any{"timeouts": map[string]any{"healthySeconds": 40}}),
			wantError: "TargetNotHealthy", wantCause: "not healthy at the deadline", wantBoots: 1},
		{name: "still draining at the drain deadline", prepare: func(l *lab.Lab) { l.LB.SetDrainLag(120) },
			input:     with(rebootInput, map[string]any{"timeouts": map[string]any{"drainSeconds": 45}}),
			wantError: "DrainTimeout", wantCause: "still draining", wantHealthy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runOne(t, lab.Demo(), tt.prepare, tt.input)
			if r.result.Succeeded {
				t.Fatalf("the execution succeeded; want %s", tt.wantError)
			}
			if r.result.Error != tt.wantError || !strings.Contains(r.result.Cause, tt.wantCause) {
				t.Errorf("failed with %s: %s; want %s containing %q", r.result.Error, r.result.Cause, tt.wantError, tt.wantCause)
			}
			if !slices.Contains(r.result.States, "RestoreTarget") {
				t.Errorf("the rollback did not run: %v", r.result.States)
			}
			if r.boots != tt.wantBoots {
				t.Errorf("the instance booted %d times, want %d", r.boots, tt.wantBoots)
			}
			if err := r.lab.WaitAllHealthy(context.Background(), 60*time.Second); tt.wantHealthy && err != nil {
				t.Errorf("after the rollback: %v", err)
			}
			reg := r.lab.Registrations()["hello-world"]
			i := slices.IndexFunc(reg, func(th elb.TargetHealth) bool { return th.ID == r.lab.Instances[0].ID })
			if i < 0 || reg[i].Port != 8080 || reg[i].State == elb.StateDraining {
				t.Errorf("the instance is not registered again on port 8080: %+v", reg)
			}
			if lost := r.totals[0].Failed(); lost != 0 {
				t.Errorf("%d of %d requests lost on the failure path: %v", lost, r.totals[0].Requests, r.totals[0].Codes)
			}
		})
	}
}

// TestChecksRefuseBeforeAnyChange: bad input and unsafe conditions fail with a named
// error and the lab sees no change at all.
func TestChecksRefuseBeforeAnyChange(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	single := lab.Demo()
	single.Instances = 1
	single.Groups[0].Members = []lab.Member{{Instance: 0}}
	shaped := func(change func(*lab.GroupSpec)) lab.Config {
		c := lab.Demo()
		change(&c.Groups[0])
		return c
	}
	named := func(l *lab.Lab) map[string]any {
		return with(rebootInput, map[string]any{"targetGroupArns": []string{l.Groups[0].ARN}})(l)
	}
	tests := []struct {
		name      string
		cfg       lab.Config
		prepare   func(*lab.Lab)
		input     func(*lab.Lab) map[string]any
		wantError string
	}{
		{name: "unknown field", cfg: lab.Demo(), input: with(rebootInput, map[string]any{"force": true}), wantError: "InvalidInput"},
		{name: "drain deadline shorter than the deregistration delay", cfg: lab.Demo(),
			input: with(rebootInput, map[string]any{"timeouts": map[string]any{"drainSeconds": 5}}), wantError: "InvalidInput"},
		{name: "unknown target group", cfg: lab.Demo(), input: with(rebootInput, map[string]any{"targetGroupArns": []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef"}}),
			wantError: "TargetGroupNotFound"},
		{name: "last healthy target", cfg: single, input: rebootInput, wantError: "LastHealthyTarget"},
		{name: "an empty list of target groups", cfg: lab.Demo(), input: with(rebootInput, map[string]any{"targetGroupArns": []string{}}), wantError: "InvalidInput"},
		{name: "a 40 KB script", cfg: lab.Demo(), input: with(rebootInput, map[string]any{"maintenance": map[string]any{"action": "commands", "commands": []string{strings.Repeat("x", 40*1024)}}}),
			wantError: "InvalidInput"},
		{name: "a Network Load Balancer's group", cfg: shaped(func(g *lab.GroupSpec) { g.Protocol = "TCP" }), input: named, wantError: "UnsupportedLoadBalancer"},
		{name: "a discovered Gateway Load Balancer's group", cfg: shaped(func(g *lab.GroupSpec) { g.Protocol = "GENEVE" }), input: rebootInput, wantError: "UnsupportedLoadBalancer"},
		{name: "a group no load balancer uses", cfg: shaped(func(g *lab.GroupSpec) { g.Unattached = true }), input: named, wantError: "TargetGroupNotInUse"},
		{name: "an instance drainpipe may not command", cfg: lab.Demo(), prepare: func(l *lab.Lab) {
			_ = l.CreateTags([]string{l.Instances[0].ID}, map[string]string{lab.InstanceTag.Key: "disabled"})
		}, input: rebootInput, wantError: "InstanceNotTagged"},
		{name: "a deregistration delay of 0", cfg: shaped(func(g *lab.GroupSpec) { g.DeregistrationDelaySeconds = 0 }), input: rebootInput, wantError: "DeregistrationDelayTooShort"},
		{name: "another target unhealthy", cfg: lab.Demo(), prepare: func(l *lab.Lab) {
			l.Instances[1].Stop()
			_ = l.WaitUntil(context.Background(), 60*time.Second, func() bool {
				th, _ := l.LB.DescribeTargetHealth(l.Groups[0].ARN, []elb.TargetRef{{ID: l.Instances[1].ID}})
				return th[0].State == elb.StateUnhealthy
			})
		}, input: rebootInput, wantError: "TargetGroupUnhealthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runOne(t, tt.cfg, tt.prepare, tt.input)
			if r.result.Succeeded || r.result.Error != tt.wantError {
				t.Fatalf("got %v %s: %s; want %s", r.result.Succeeded, r.result.Error, r.result.Cause, tt.wantError)
			}
			if strings.HasPrefix(errorMessage(t, r.result.Cause), tt.wantError) {
				t.Errorf("the cause repeats the error name: %s", r.result.Cause)
			}
			assertNoChange(t, r.lab)
		})
	}
}

// errorMessage is the errorMessage of a function error's Cause, which Step Functions gives
// as the function's error payload, JSON.
func errorMessage(t *testing.T, cause string) string {
	t.Helper()
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal([]byte(cause), &payload); err != nil {
		t.Fatalf("the cause is not a function's error payload: %v: %s", err, cause)
	}
	return payload.ErrorMessage
}

func assertNoChange(t *testing.T, l *lab.Lab) {
	t.Helper()
	calls := l.API.Calls()
	for _, op := range []string{"RegisterTargets", "DeregisterTargets", "SendCommand", "CancelCommand"} {
		if calls[op] > 0 {
			t.Errorf("%s was called %d times; nothing may change", op, calls[op])
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	r := runOne(t, lab.Demo(), nil, with(rebootInput, map[string]any{"dryRun": true}))
	if !r.result.Succeeded {
		t.Fatalf("%s: %s", r.result.Error, r.result.Cause)
	}
	var out struct {
		Outcome string   `json:"outcome"`
		WouldDo []string `json:"wouldDo"`
	}
	if err := json.Unmarshal(r.result.Output, &out); err != nil || out.Outcome != "dry-run" || len(out.WouldDo) < 4 {
		t.Errorf("output %s", r.result.Output)
	}
	assertNoChange(t, r.lab)
	if r.boots != 0 {
		t.Errorf("a dry run rebooted the instance")
	}
}

// TestSeveralGroupsAndPorts: an instance in two groups, in one of them on a port that is
// not the group's, with targetGroupArns omitted so drainpipe discovers both.
func TestSeveralGroupsAndPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	cfg.Groups = append(cfg.Groups, lab.GroupSpec{Name: "api", Port: 9090, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 20,
		Members: []lab.Member{{Instance: 0, Port: 9091}, {Instance: 1}, {Instance: 2}}})
	r := runOne(t, cfg, nil, rebootInput)
	if !r.result.Succeeded {
		t.Fatalf("%s: %s", r.result.Error, r.result.Cause)
	}
	var out struct {
		Registrations []struct {
			TargetGroupArn string `json:"targetGroupArn"`
			Port           int    `json:"port"`
		} `json:"registrations"`
	}
	_ = json.Unmarshal(r.result.Output, &out)
	if len(out.Registrations) != 2 || out.Registrations[0].Port != 8080 || out.Registrations[1].Port != 9091 {
		t.Errorf("registrations %+v, want web:8080 and api:9091", out.Registrations)
	}
	for i, tot := range r.totals {
		if tot.Failed() != 0 || tot.Requests < 300 {
			t.Errorf("group %d: %d of %d requests lost: %v", i, tot.Failed(), tot.Requests, tot.Codes)
		}
	}
	if err := r.lab.WaitAllHealthy(context.Background(), 30*time.Second); err != nil {
		t.Error(err)
	}
	assertAllRegisteredAndHealthy(t, r.lab.Registrations(), cfg)
	if r.boots != 1 {
		t.Errorf("booted %d times, want 1", r.boots)
	}
}

// TestThrottledAPIs: throttling on the describe, command-check and invoke calls is
// absorbed by the SDK's and the state machine's retries.
func TestThrottledAPIs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	r := runOne(t, lab.Demo(), func(l *lab.Lab) {
		l.API.Throttle("DescribeTargetHealth", 0.3)
		l.API.Throttle("GetCommandInvocation", 0.3)
		l.API.Throttle("Invoke", 0.15)
	}, rebootInput)
	if !r.result.Succeeded {
		t.Fatalf("%s: %s", r.result.Error, r.result.Cause)
	}
	if r.totals[0].Failed() != 0 {
		t.Errorf("lost %d requests", r.totals[0].Failed())
	}
}

// TestNamedErrorIsCaughtByName: a function's named error reaches Step Functions under its
// name, so a Catch on that name (not States.ALL) takes it.
func TestNamedErrorIsCaughtByName(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l, err := lab.Start(lab.Demo())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	def := []byte(`{"StartAt": "Resolve", "States": {
		"Resolve": {"Type": "Task", "Resource": "${ResolveTargetsFunctionArn}", "TimeoutSeconds": 60,
			"Catch": [{"ErrorEquals": ["TargetGroupUnhealthy"], "Next": "Wrong"}, {"ErrorEquals": ["InvalidInput"], "ResultPath": "$.error", "Next": "Caught"}],
			"Next": "Wrong"},
		"Caught": {"Type": "Pass", "End": true},
		"Wrong": {"Type": "Fail", "Error": "WrongPath"}}}`)
	res, err := l.RunDefinition(context.Background(), "caught", def, map[string]any{"instanceId": "i-bad"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Error struct{ Error, Cause string } `json:"error"`
	}
	_ = json.Unmarshal(res.Output, &out)
	if !res.Succeeded || out.Error.Error != "InvalidInput" || !strings.Contains(out.Error.Cause, "is not an EC2 instance id") {
		t.Errorf("result %+v, output %s", res, res.Output)
	}
}
