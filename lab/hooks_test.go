package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab"
)

// hook is a hook that appends its name to log, then runs rest.
func hook(log, name string, rest ...string) map[string]any {
	return map[string]any{"commands": append([]string{"echo " + name + " >> " + log}, rest...), "timeoutSeconds": 60}
}

// readLog is the hooks' log, a name a line.
func readLog(t *testing.T, log string) []string {
	t.Helper()
	raw, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(raw))
}

// TestHooksRunInOrder: the three hooks run once each, in order: the pre-drain hook before
// anything is taken out, the post-maintenance hook after the maintenance and before the
// health check, the post-return hook once the reservation is given back; no request is
// lost.
func TestHooksRunInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	log := filepath.Join(t.TempDir(), "hooks.log")
	stop := withTraffic(l)
	res, err := l.MaintainInstance(context.Background(), "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"echo maintenance >> " + log}, "timeoutSeconds": 300},
		"healthCheck": map[string]any{"commands": []string{"echo healthCheck >> " + log}},
		"hooks":       map[string]any{"preDrain": hook(log, "preDrain"), "postMaintenance": hook(log, "postMaintenance"), "postReturn": hook(log, "postReturn")}}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	if got, want := readLog(t, log), []string{"preDrain", "maintenance", "postMaintenance", "healthCheck", "postReturn"}; !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	at := func(state string) int { return slices.Index(res.States, state) }
	if !(at("CheckPreDrainHook") < at("DeregisterTarget") && at("ReleaseCapacity") < at("StartPostReturnHook")) || at("CheckPreDrainHook") < 0 {
		t.Errorf("the hooks ran out of place: %v", res.States)
	}
	assertNoneLost(t, stop())
	assertNothingHeld(t, l)
}

// TestFailingHooks: a failing pre-drain hook refuses with nothing taken out and nothing
// held; a failing post-return hook is reported (HookFailed, naming the hook) with the
// instance in service, every registration there and nothing held.
func TestFailingHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "hooks.log")
	res, err := l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "commands", "commands": []string{"echo maintenance >> " + log}, "timeoutSeconds": 300},
		"hooks":       map[string]any{"preDrain": hook(log, "preDrain", "echo the queue is not empty >&2", "exit 4")}}, nil)
	if err != nil || res.Error != faults.HookFailed || !strings.Contains(res.Cause, "the preDrain hook") || !strings.Contains(res.Cause, "the queue is not empty") {
		t.Fatalf("a failing pre-drain hook: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	if got := readLog(t, log); !slices.Equal(got, []string{"preDrain"}) {
		t.Errorf("ran %v after a failing pre-drain hook", got)
	}
	if calls := l.API.Calls(); calls["DeregisterTargets"] > 0 || calls["RegisterTargets"] > 0 || calls["SendCommand"] != 1 {
		t.Errorf("a failing pre-drain hook changed something: %v", calls)
	}
	assertNothingHeld(t, l)

	res, err = l.MaintainInstance(ctx, "", map[string]any{"instanceId": l.Instances[1].ID, "pollSeconds": 2,
		"maintenance": map[string]any{"action": "reboot"},
		"hooks":       map[string]any{"postReturn": hook(log, "postReturn", "exit 5")}}, nil)
	if err != nil || res.Error != faults.HookFailed || !strings.Contains(res.Cause, "the postReturn hook") || slices.Contains(res.States, "RestoreTarget") {
		t.Fatalf("a failing post-return hook: %v %s %s: %s (states %v)", err, res.Status, res.Error, res.Cause, res.States)
	}
	assertBack(t, l, cfg)
	assertNothingHeld(t, l)
}

// TestPatchWithHooks: the patch action with patchHooks sends AWS-RunPatchBaselineWithHooks
// with the hook documents (AWS-Noop where unset), which run around the installation and
// the reboot, in order; the instance is back and nothing is held.
func TestPatchWithHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	res, err := l.MaintainInstance(context.Background(), "", map[string]any{"instanceId": l.Instances[0].ID, "pollSeconds": 5,
		"maintenance": map[string]any{"action": "patch", "patchHooks": map[string]any{"preInstall": "App-Drain", "onExit": "App-Warm"}}}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("the execution: %v %s %s: %s", err, res.Status, res.Error, res.Cause)
	}
	// Newest first: the installation, after the Scan (patch checks for anything to do).
	sent := l.SSM.Commands(l.Instances[0].ID)
	if len(sent) != 2 || sent[1].DocumentName != "AWS-RunPatchBaseline" || sent[1].Parameters["Operation"][0] != "Scan" || sent[0].DocumentName != "AWS-RunPatchBaselineWithHooks" {
		t.Fatalf("sent %+v", sent)
	}
	p := sent[0].Parameters
	if p["PreInstallHookDocName"][0] != "App-Drain" || p["PostInstallHookDocName"][0] != "AWS-Noop" || p["OnExitHookDocName"][0] != "App-Warm" || p["Operation"][0] != "Install" {
		t.Errorf("parameters %v", p)
	}
	out := sent[0].Stdout
	pre, installed, rebooted, exit := strings.Index(out, "ran App-Drain"), strings.Index(out, "patches installed"), strings.Index(out, "Rebooted"), strings.Index(out, "ran App-Warm")
	if pre < 0 || !(pre < installed && installed < rebooted && rebooted < exit) {
		t.Errorf("the hooks did not run around the installation and the reboot:\n%s", out)
	}
	assertBack(t, l, cfg)
	assertNothingHeld(t, l)
}
