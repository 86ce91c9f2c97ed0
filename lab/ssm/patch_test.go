package ssm

import (
	"context"
	"testing"
	"time"
)

func patchParams(op, reboot string) map[string][]string {
	p := map[string][]string{"Operation": {op}}
	if reboot != "" {
		p["RebootOption"] = []string{reboot}
	}
	return p
}

// TestPatchBaseline: a Scan reports and changes nothing; an Install installs what is
// missing and reboots when it installed some or a reboot was pending, unless NoReboot
// (then the instance requires a reboot) or the patches need none. Each records the
// instance's patch state.
func TestPatchBaseline(t *testing.T) {
	for _, tt := range []struct {
		name         string
		missing      int
		required     bool
		noReboot     bool // PatchNeedsReboot false
		op, option   string
		stdout       string
		reboots      int
		wantMissing  int
		wantRequired bool
		state        PatchState // the counts and the operation
	}{
		{name: "install reboots", missing: 3, op: "Install", option: "RebootIfNeeded",
			stdout:  "Operation Install: 3 patches installed\nRebooted to complete the installation\n",
			reboots: 1, state: PatchState{Operation: "Install", RebootOption: "RebootIfNeeded", InstalledCount: 3}},
		{name: "RebootIfNeeded is the default", missing: 3, op: "Install",
			stdout:  "Operation Install: 3 patches installed\nRebooted to complete the installation\n",
			reboots: 1, state: PatchState{Operation: "Install", RebootOption: "RebootIfNeeded", InstalledCount: 3}},
		{name: "install without reboot", missing: 3, op: "Install", option: "NoReboot",
			stdout: "Operation Install: 3 patches installed\n3 patches InstalledPendingReboot\n", wantRequired: true,
			state: PatchState{Operation: "Install", RebootOption: "NoReboot", InstalledPendingRebootCount: 3}},
		{name: "nothing to install", missing: 0, op: "Install", option: "RebootIfNeeded",
			stdout: "Operation Install: 0 patches installed\n", state: PatchState{Operation: "Install", RebootOption: "RebootIfNeeded"}},
		{name: "nothing to install, reboot pending", missing: 0, required: true, op: "Install",
			stdout:  "Operation Install: 0 patches installed\nRebooted to complete the installation\n",
			reboots: 1, state: PatchState{Operation: "Install", RebootOption: "RebootIfNeeded"}},
		{name: "patches that need no reboot", missing: 2, noReboot: true, op: "Install",
			stdout: "Operation Install: 2 patches installed\n", state: PatchState{Operation: "Install", RebootOption: "RebootIfNeeded", InstalledCount: 2}},
		{name: "scan", missing: 3, op: "Scan", stdout: "Operation Scan: 3 patches missing\n", wantMissing: 3,
			state: PatchState{Operation: "Scan", RebootOption: "RebootIfNeeded", MissingCount: 3}},
		{name: "scan, reboot pending", missing: 2, required: true, op: "Scan", option: "NoReboot",
			stdout: "Operation Scan: 2 patches missing\n", wantMissing: 2, wantRequired: true,
			state: PatchState{Operation: "Scan", RebootOption: "NoReboot", MissingCount: 2, InstalledPendingRebootCount: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, inst := setup(t)
			e.ScanSeconds = 1
			e.PatchNeedsReboot = !tt.noReboot
			inst.SetMissingPatches(tt.missing)
			inst.SetRebootRequired(tt.required)
			if _, ok := e.PatchState(id); ok {
				t.Fatal("a patch state before any operation")
			}
			boots := inst.Boots()
			cmd, err := e.SendCommand("AWS-RunPatchBaseline", []string{id}, patchParams(tt.op, tt.option), 60, "")
			if err != nil {
				t.Fatal(err)
			}
			inv := wait(t, e, cmd)
			if inv.Status != StatusSuccess || inv.Stdout != tt.stdout {
				t.Errorf("invocation %s, stdout %q; want Success, %q", inv.Status, inv.Stdout, tt.stdout)
			}
			if got := inst.Boots() - boots; got != tt.reboots {
				t.Errorf("%d reboots, want %d", got, tt.reboots)
			}
			if inst.MissingPatches() != tt.wantMissing || inst.RebootRequired() != tt.wantRequired {
				t.Errorf("instance: %d missing, reboot required %v; want %d, %v", inst.MissingPatches(), inst.RebootRequired(), tt.wantMissing, tt.wantRequired)
			}
			got, ok := e.PatchState(id)
			if !ok {
				t.Fatal("no patch state recorded")
			}
			seconds := e.PatchSeconds
			if tt.op == "Scan" {
				seconds = e.ScanSeconds
			}
			if took := got.OperationEndTime.Sub(got.OperationStartTime); took < time.Duration(seconds*float64(time.Second)) {
				t.Errorf("the %s took %v lab time, shorter than its %g s", tt.op, took, seconds)
			}
			if tt.option == "NoReboot" && tt.op == "Install" && got.LastNoRebootInstallTime.IsZero() {
				t.Error("an Install with NoReboot did not record LastNoRebootInstallTime")
			}
			got.OperationStartTime, got.OperationEndTime, got.LastNoRebootInstallTime = time.Time{}, time.Time{}, time.Time{}
			want := tt.state
			want.InstanceID = id
			if got != want {
				t.Errorf("patch state %+v,\nwant %+v", got, want)
			}
		})
	}
}

// TestPatchStateOverTime: patches installed without a reboot are pending until the
// instance boots, then installed; a later Install adds to them.
func TestPatchStateOverTime(t *testing.T) {
	e, inst := setup(t)
	run := func(op, option string) PatchState {
		t.Helper()
		cmd, _ := e.SendCommand("AWS-RunPatchBaseline", []string{id}, patchParams(op, option), 60, "")
		if inv := wait(t, e, cmd); inv.Status != StatusSuccess {
			t.Fatalf("%s: %+v", op, inv)
		}
		s, _ := e.PatchState(id)
		return s
	}
	count := func(s PatchState) [3]int {
		return [3]int{s.MissingCount, s.InstalledCount, s.InstalledPendingRebootCount}
	}
	if got := count(run("Install", "NoReboot")); got != [3]int{0, 0, 3} {
		t.Errorf("after an Install without reboot: missing, installed, pending %v; want [0 0 3]", got)
	}
	if got := count(run("Scan", "")); got != [3]int{0, 0, 3} {
		t.Errorf("a Scan then: %v; want [0 0 3]", got)
	}
	inst.Reboot()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := inst.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(run("Scan", "")); got != [3]int{0, 3, 0} {
		t.Errorf("a Scan after a reboot: %v; want [0 3 0]", got)
	}
	inst.SetMissingPatches(2)
	if got := count(run("Scan", "")); got != [3]int{2, 3, 0} {
		t.Errorf("a Scan with 2 new patches out: %v; want [2 3 0]", got)
	}
	if got := count(run("Install", "")); got != [3]int{0, 5, 0} || inst.RebootRequired() {
		t.Errorf("an Install of them: %v, reboot required %v; want [0 5 0], false", got, inst.RebootRequired())
	}
}
