package workflow

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
)

func group(delay, interval, timeout, threshold int) TargetGroup {
	return TargetGroup{ARN: testARN, Name: "web", DeregistrationDelaySeconds: delay, HealthCheckIntervalSeconds: interval, HealthCheckTimeoutSeconds: timeout, HealthyThresholdCount: threshold}
}

func TestNewPlanDerivesWaitsAndDeadlines(t *testing.T) {
	regs := []Registration{{TargetGroupARN: testARN, Port: 8080}}
	tests := []struct {
		name          string
		in            Input
		groups        []TargetGroup
		wantWaits     Waits
		wantDeadlines Deadlines
	}{
		{
			name:          "post's target group, AWS default delay",
			in:            Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}},
			groups:        []TargetGroup{group(300, 6, 5, 2)},
			wantWaits:     Waits{DeregistrationDelaySeconds: 300, FirstDrainSeconds: 300, HealthySeconds: 6, PollSeconds: DefaultPollSeconds, CapacitySeconds: DefaultPollSeconds},
			wantDeadlines: Deadlines{DrainSeconds: 300 + DrainMargin, HealthySeconds: 3*6 + 5 + HealthyMargin},
		},
		{
			name:          "slowest of several groups wins",
			in:            Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}, PollSeconds: 3},
			groups:        []TargetGroup{group(30, 10, 5, 5), group(120, 6, 5, 2)},
			wantWaits:     Waits{DeregistrationDelaySeconds: 120, FirstDrainSeconds: 120, HealthySeconds: 10, PollSeconds: 3, CapacitySeconds: 3},
			wantDeadlines: Deadlines{DrainSeconds: 120 + DrainMargin, HealthySeconds: 6*10 + 5 + HealthyMargin},
		},
		{
			name:          "overrides",
			in:            Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}, Timeouts: Timeouts{DrainSeconds: 42, HealthySeconds: 99}},
			groups:        []TargetGroup{group(20, 5, 2, 2)},
			wantWaits:     Waits{DeregistrationDelaySeconds: 20, FirstDrainSeconds: 20, HealthySeconds: 5, PollSeconds: DefaultPollSeconds, CapacitySeconds: DefaultPollSeconds},
			wantDeadlines: Deadlines{DrainSeconds: 42, HealthySeconds: 99},
		},
		{
			name: "idle drain: the first check after the propagation wait",
			in: Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot},
				Drain: &Drain{IdleCheck: []string{"test $(curl -fsS localhost:8080/inflight) = 0"}, PropagationSeconds: 20}},
			groups:        []TargetGroup{group(300, 6, 5, 2)},
			wantWaits:     Waits{DeregistrationDelaySeconds: 300, FirstDrainSeconds: 20, HealthySeconds: 6, PollSeconds: DefaultPollSeconds, CapacitySeconds: DefaultPollSeconds},
			wantDeadlines: Deadlines{DrainSeconds: 300 + DrainMargin, HealthySeconds: 3*6 + 5 + HealthyMargin},
		},
		{
			name:          "no deregistration delay, the loss accepted",
			in:            Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}, AcceptRequestLoss: true},
			groups:        []TargetGroup{group(0, 5, 2, 2)},
			wantWaits:     Waits{DeregistrationDelaySeconds: 0, HealthySeconds: 5, PollSeconds: DefaultPollSeconds, CapacitySeconds: DefaultPollSeconds},
			wantDeadlines: Deadlines{DrainSeconds: DrainMargin, HealthySeconds: 3*5 + 2 + HealthyMargin},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.in, tt.groups, regs, "tok")
			if err != nil {
				t.Fatal(err)
			}
			if p.Waits != tt.wantWaits {
				t.Errorf("waits = %+v, want %+v", p.Waits, tt.wantWaits)
			}
			if p.Deadlines != tt.wantDeadlines {
				t.Errorf("deadlines = %+v, want %+v", p.Deadlines, tt.wantDeadlines)
			}
		})
	}
	if _, err := NewPlan(Input{InstanceID: testInstance}, nil, nil, "tok"); err == nil {
		t.Error("NewPlan without registrations: no error")
	}
	for name, in := range map[string]Input{
		"drain shorter than the delay":      {InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}, Timeouts: Timeouts{DrainSeconds: 299}},
		"healthy shorter than one interval": {InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}, Timeouts: Timeouts{HealthySeconds: 5}},
	} {
		_, err := NewPlan(in, []TargetGroup{group(300, 6, 5, 2)}, regs, "tok")
		if faults.NameOf(err) != faults.InvalidInput {
			t.Errorf("%s: %v, want InvalidInput", name, err)
		}
	}
	// A delay of 0 cuts every request in flight: refused, naming the group and the fix.
	_, err := NewPlan(Input{InstanceID: testInstance, Maintenance: Maintenance{Action: ActionReboot}}, []TargetGroup{group(300, 6, 5, 2), {ARN: testARN2, DeregistrationDelaySeconds: 0, HealthCheckIntervalSeconds: 5}}, regs, "tok")
	if faults.NameOf(err) != faults.DeregistrationDelayTooShort || !strings.Contains(err.Error(), "target group api has deregistration_delay.timeout_seconds 0") || !strings.Contains(err.Error(), `"acceptRequestLoss": true`) {
		t.Errorf("delay 0: %v, want DeregistrationDelayTooShort naming group api and acceptRequestLoss", err)
	}
}

// TestHistoryBudget: the polling loops, run to their deadlines, must fit in the history
// Step Functions allows an execution; a plan that would not is refused with the poll
// interval that would fit.
func TestHistoryBudget(t *testing.T) {
	regs := []Registration{{TargetGroupARN: testARN, Port: 8080}}
	patch := Maintenance{Action: ActionPatch}
	tests := []struct {
		name    string
		in      Input
		wantMsg string
	}{
		{name: "a patch run at the default poll", in: Input{Maintenance: patch}},
		{name: "a patch run polled every second", in: Input{Maintenance: patch, PollSeconds: 1}, wantMsg: `raise "pollSeconds" to at least 4`},
		{name: "two days of maintenance at the default poll", in: Input{Maintenance: Maintenance{Action: ActionCommands, Commands: []string{"true"}, TimeoutSeconds: MaxTimeoutSeconds}},
			wantMsg: `raise "pollSeconds" to at least 80`},
		// A long wait for capacity asks less often than pollSeconds: at most 500 times.
		{name: "two days' wait for capacity polled every second", in: Input{Maintenance: Maintenance{Action: ActionReboot}, PollSeconds: 1, CapacityWaitSeconds: MaxTimeoutSeconds}},
		{name: "an hour's wait at the default poll", in: Input{Maintenance: Maintenance{Action: ActionReboot}, CapacityWaitSeconds: 3600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.InstanceID = testInstance
			p, err := NewPlan(tt.in, []TargetGroup{group(300, 6, 5, 2)}, regs, "tok")
			if tt.wantMsg == "" {
				if err != nil || p.HistoryEstimate() > HistoryBudget {
					t.Errorf("%d events: %v", p.HistoryEstimate(), err)
				}
				if p.Waits.CapacitySeconds < p.Waits.PollSeconds || tt.in.CapacityWaitSeconds/p.Waits.CapacitySeconds > MaxCapacityPolls {
					t.Errorf("capacity asked every %d s over %d s", p.Waits.CapacitySeconds, tt.in.CapacityWaitSeconds)
				}
				return
			}
			if faults.NameOf(err) != faults.InvalidInput || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("%v, want InvalidInput saying %q", err, tt.wantMsg)
			}
		})
	}
}

func TestMaintenanceCommand(t *testing.T) {
	tests := []struct {
		name string
		m    Maintenance
		want Command
	}{
		{"patch defaults", Maintenance{Action: ActionPatch}, Command{Action: ActionPatch, DocumentName: DocumentPatchBaseline, TimeoutSeconds: 7200, ExpectedSeconds: 60,
			Parameters: map[string][]string{"Operation": {"Install"}, "RebootOption": {"RebootIfNeeded"}}}},
		{"patch scan", Maintenance{Action: ActionPatch, Operation: "Scan", RebootOption: "NoReboot", TimeoutSeconds: 60}, Command{Action: ActionPatch, DocumentName: DocumentPatchBaseline, TimeoutSeconds: 60, ExpectedSeconds: 60,
			Parameters: map[string][]string{"Operation": {"Scan"}, "RebootOption": {"NoReboot"}}}},
		{"commands", Maintenance{Action: ActionCommands, Commands: []string{"yum -y update", "exit 194"}}, Command{Action: ActionCommands, DocumentName: DocumentShellScript, TimeoutSeconds: 3600,
			Parameters: map[string][]string{"commands": {"yum -y update", "exit 194"}, "executionTimeout": {"3600"}}}},
		{"document", Maintenance{Action: ActionDocument, DocumentName: "Doc", Parameters: map[string][]string{"a": {"b"}}}, Command{Action: ActionDocument, DocumentName: "Doc", TimeoutSeconds: 3600,
			Parameters: map[string][]string{"a": {"b"}}}},
		{"reboot", Maintenance{Action: ActionReboot, TimeoutSeconds: 300}, Command{Action: ActionReboot, DocumentName: DocumentShellScript, TimeoutSeconds: 300, ExpectedSeconds: 60,
			Parameters: map[string][]string{"commands": RebootScript("tok"), "executionTimeout": {"300"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaintenanceCommand(tt.m, "tok"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	hc := HealthCheckCommand(HealthCheck{Commands: []string{"curl -fsS localhost:8080/"}})
	if hc.DocumentName != DocumentShellScript || hc.TimeoutSeconds != DefaultHealthCheckSeconds || hc.Parameters["executionTimeout"][0] != "300" {
		t.Errorf("health check command = %+v", hc)
	}
}

// TestRebootScriptIsIdempotent runs the reboot script under bash the way the SSM agent
// does: exit 194 asks for a reboot, after which the agent runs the whole script again.
func TestRebootScriptIsIdempotent(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	dir := t.TempDir()
	script := strings.Join(RebootScript("abc123"), "\n")
	run := func() int {
		cmd := exec.Command(bash, "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		} else if err != nil {
			t.Fatalf("running the script: %v\n%s", err, out)
		}
		return 0
	}
	if syntax := exec.Command(bash, "-n", "-c", script); syntax.Run() != nil {
		t.Fatal("bash -n: the script has a syntax error")
	}
	if code := run(); code != 194 {
		t.Fatalf("first run exited %d, want 194 (reboot)", code)
	}
	flag := filepath.Join(dir, "drainpipe-reboot-abc123.flag")
	if _, err := os.Stat(flag); err != nil {
		t.Fatalf("flag file not written: %v", err)
	}
	if code := run(); code != 0 {
		t.Fatalf("run after the reboot exited %d, want 0", code)
	}
	if _, err := os.Stat(flag); !os.IsNotExist(err) {
		t.Fatalf("flag file left behind after the second run: %v", err)
	}
	// A flag from another execution (another token) must not make this one skip its reboot.
	if err := os.WriteFile(filepath.Join(dir, "drainpipe-reboot-stale.flag"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(); code != 194 {
		t.Fatalf("with a stale flag of another run, exited %d, want 194", code)
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	at := func(sec float64) string {
		return t0.Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)
	}
	plan := Plan{
		InstanceID:    testInstance,
		Registrations: []Registration{{TargetGroupARN: testARN, Port: 8080}},
		Maintenance:   MaintenanceCommand(Maintenance{Action: ActionReboot}, "tok"),
		Deadlines:     Deadlines{DrainSeconds: 360, HealthySeconds: 83},
		Waits:         Waits{DeregistrationDelaySeconds: 300},
	}
	s := State{
		Plan:               plan,
		Deregistration:     &Deregistration{DeregisteredAt: at(0)},
		Drain:              &TargetsReport{Done: true, CheckedAt: at(301.5)},
		MaintenanceCommand: &CommandSent{CommandID: "cmd-1", SentAt: at(302)},
		MaintenanceResult:  &CommandReport{Done: true, CheckedAt: at(362)},
		HealthCheckCommand: &CommandSent{CommandID: "cmd-2", SentAt: at(363)},
		HealthCheckResult:  &CommandReport{Done: true, CheckedAt: at(373)},
		Registration:       &Registered{RegisteredAt: at(374)},
		Health:             &TargetsReport{Done: true, CheckedAt: at(390.25)},
	}
	sum, err := Summarize(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"drain": 301.5, "maintenance": 60, "healthCheck": 10, "returnToHealthy": 16.25, "outOfService": 390.25}
	if !reflect.DeepEqual(sum.PhaseSeconds, want) {
		t.Errorf("phases = %v, want %v", sum.PhaseSeconds, want)
	}
	if sum.Outcome != OutcomeMaintained || sum.CommandIDs["maintenance"] != "cmd-1" || sum.CommandIDs["healthCheck"] != "cmd-2" {
		t.Errorf("summary = %+v", sum)
	}

	s.Health = nil
	if _, err := Summarize(context.Background(), s); err == nil {
		t.Error("summary of a state without the health result: no error")
	}

	dry, err := Summarize(context.Background(), State{Plan: func() Plan { p := plan; p.DryRun = true; return p }()})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Outcome != OutcomeDryRun || len(dry.WouldDo) != 5 || !strings.HasPrefix(dry.WouldDo[0], "deregister "+testInstance+" port 8080 from web") {
		t.Errorf("dry run summary = %+v", dry)
	}
}

func TestGroupName(t *testing.T) {
	for arn, want := range map[string]string{testARN: "web", "arn:aws:elasticloadbalancing:r:1:targetgroup/x": "x", "not-an-arn": "not-an-arn"} {
		if got := GroupName(arn); got != want {
			t.Errorf("GroupName(%q) = %q, want %q", arn, got, want)
		}
	}
}

func TestNextPoll(t *testing.T) {
	tests := []struct {
		elapsed time.Duration
		most    int
		want    int
	}{
		{0, 10, 1}, {3 * time.Second, 10, 1}, {4 * time.Second, 10, 2}, {9 * time.Second, 10, 4},
		{20 * time.Second, 10, 10}, {time.Hour, 10, 10}, {time.Hour, 0, 1}, {-time.Second, 10, 1},
	}
	for _, tt := range tests {
		if got := NextPoll(tt.elapsed, tt.most); got != tt.want {
			t.Errorf("NextPoll(%v, %d) = %d, want %d", tt.elapsed, tt.most, got, tt.want)
		}
	}
}

// TestChecks: the count of checks agrees with a walk of the loop, check by check.
func TestChecks(t *testing.T) {
	for _, tt := range []struct{ first, deadline, most int }{
		{2, 3720, 10}, {30, 1020, 10}, {300, 360, 10}, {2, 172920, 1}, {2, 10, 300}, {60, 60, 10}, {0, 5, 0},
	} {
		want, at := 1, tt.first
		for at < tt.deadline {
			at += NextPoll(time.Duration(at-max(tt.first, 0))*time.Second, tt.most)
			want++
		}
		if got := Checks(tt.first, tt.deadline, tt.most); got != want {
			t.Errorf("Checks(%d, %d, %d) = %d, a walk makes %d", tt.first, tt.deadline, tt.most, got, want)
		}
	}
}

// TestRequiredCheckCommand: which maintenance is checked first, and with what.
func TestRequiredCheckCommand(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name        string
		m           Maintenance
		wantDoc     string
		wantVerdict string
		wantScript  []string
	}{
		{name: "patch install, by default", m: Maintenance{Action: ActionPatch}, wantDoc: DocumentPatchBaseline, wantVerdict: VerdictPatchState},
		{name: "patch install, turned off", m: Maintenance{Action: ActionPatch, OnlyIfRequired: &no}},
		{name: "patch scan", m: Maintenance{Action: ActionPatch, Operation: "Scan"}},
		{name: "reboot, by default", m: Maintenance{Action: ActionReboot}},
		{name: "reboot only if required", m: Maintenance{Action: ActionReboot, OnlyIfRequired: &yes}, wantDoc: DocumentShellScript, wantVerdict: VerdictOutput, wantScript: DefaultRebootCheck},
		{name: "reboot with its own check", m: Maintenance{Action: ActionReboot, OnlyIfRequired: &yes, RequiredCheck: []string{"echo required"}}, wantDoc: DocumentShellScript,
			wantVerdict: VerdictOutput, wantScript: []string{"echo required"}},
		{name: "commands", m: Maintenance{Action: ActionCommands, Commands: []string{"true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := RequiredCheckCommand(tt.m)
			if tt.wantDoc == "" {
				if c != nil {
					t.Fatalf("checked with %+v", c)
				}
				return
			}
			if c == nil || c.DocumentName != tt.wantDoc || c.Verdict != tt.wantVerdict || c.Action != ActionRequiredCheck || c.TimeoutSeconds != RequiredCheckSeconds {
				t.Fatalf("got %+v", c)
			}
			if tt.wantScript != nil && !reflect.DeepEqual(c.Parameters["commands"], tt.wantScript) {
				t.Errorf("script %q", c.Parameters["commands"])
			}
			if tt.wantVerdict == VerdictPatchState && (c.Parameters["Operation"][0] != "Scan" || c.Parameters["RebootOption"][0] != "NoReboot") {
				t.Errorf("a patch check must only scan: %v", c.Parameters)
			}
		})
	}
}

// TestDefaultRebootCheck runs the default reboot check under bash with stand-ins for
// needs-restarting, and on a system that has neither it nor Debian's flag file.
func TestDefaultRebootCheck(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := strings.Join(DefaultRebootCheck, "\n")
	for _, tt := range []struct {
		name, needsRestarting, want string
	}{
		{"nothing to restart", "exit 0", NotRequired},
		{"a reboot is required", "exit 1", Required},
		{"needs-restarting fails", "exit 2", Required},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			if err := os.WriteFile(filepath.Join(bin, "needs-restarting"), []byte("#!/bin/sh\n"+tt.needsRestarting+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("said %q, want %q", got, tt.want)
			}
		})
	}
}

// TestIdleDrainPlan: the idle drain's command runs the idle check until it passes the
// checks in a row it needs, for at most the delay left after the propagation wait; a
// delay too short for the checks is simply waited out.
func TestIdleDrainPlan(t *testing.T) {
	d := &Drain{IdleCheck: []string{"exit 0"}}
	p := IdleDrainPlan(d, 300)
	if p.PropagationSeconds != DefaultPropagationSeconds || p.Command.TimeoutSeconds != 300-DefaultPropagationSeconds ||
		p.Command.ExpectedSeconds != DefaultIdleChecks*DefaultIdleIntervalSeconds || p.Command.Parameters["executionTimeout"][0] != "285" {
		t.Errorf("plan %+v", p)
	}
	if p := IdleDrainPlan(&Drain{IdleCheck: []string{"exit 0"}, PropagationSeconds: 28, IdleChecks: 3}, 30); p != nil {
		t.Errorf("2 s left for 3 checks: the delay is waited out, got %+v", p)
	}
	if p := IdleDrainPlan(nil, 300); p != nil {
		t.Errorf("no drain: %v", p)
	}
	// The script itself, under bash: a check that passes every time ends it after the
	// checks in a row; one that passes, fails, then passes needs the run again.
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, tt := range []struct {
		name  string
		check []string
		want  string
	}{
		{"always idle", []string{"true"}, "idle for 3 checks in a row (3 checks)"},
		{"busy once in between", []string{`n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ "$n" != 1 ]`}, "idle for 3 checks in a row (5 checks)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := IdleDrainPlan(&Drain{IdleCheck: tt.check, IntervalSeconds: 1}, 300)
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			// sleep stands in: the test need not wait.
			if err := os.WriteFile(filepath.Join(bin, "sleep"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", strings.Join(p.Command.Parameters["commands"], "\n"))
			cmd.Dir, cmd.Env = dir, []string{"PATH=" + bin + ":/usr/bin:/bin"}
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("%v: %q, want %q", err, out, tt.want)
			}
		})
	}
}
