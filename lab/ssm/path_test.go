package ssm

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNeedsRestarting: needs-restarting -r on the instance's PATH answers the instance's
// reboot-required flag as yum-utils' does (exit 1 when a reboot is required), reading it
// when it runs.
func TestNeedsRestarting(t *testing.T) {
	e, inst := setup(t)
	script := []string{"needs-restarting -r", `echo "exit $?"`}
	for _, tt := range []struct {
		name     string
		required bool
		args     string
		want     []string
	}{
		{"not required", false, "-r", []string{"No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n", "exit 0"}},
		{"required", true, "-r", []string{"Reboot is required to fully utilize these updates.\n", "exit 1"}},
		{"long option", true, "--reboothint", []string{"Reboot is required to fully utilize these updates.\n", "exit 1"}},
		{"cleared", false, "-r", []string{"Reboot should not be necessary.\n", "exit 0"}},
		{"without -r", true, "", []string{"exit 0"}},
	} {
		inst.SetRebootRequired(tt.required)
		script[0] = "needs-restarting " + tt.args
		cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell(script, "60"), 60, "")
		inv := wait(t, e, cmd)
		for _, w := range tt.want {
			if !strings.Contains(inv.Stdout, w) {
				t.Errorf("%s: stdout %q lacks %q (stderr %q)", tt.name, inv.Stdout, w, inv.Stderr)
			}
		}
	}

	// The flag as it is when the command runs, not when the script started: a script
	// polls until a reboot is required.
	inst.SetRebootRequired(false)
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"until ! needs-restarting -r >/dev/null; do sleep 1; done", "echo required"}, "3600"), 60, "")
	waitStatus(t, e, cmd, "to be InProgress", func(status string) bool { return status == StatusInProgress })
	inst.SetRebootRequired(true)
	if inv := wait(t, e, cmd); inv.Status != StatusSuccess || inv.Stdout != "required\n" {
		t.Errorf("polling script: %+v", inv)
	}
}

// TestLabPath: the instance's bin folder, under the executor's folder, comes first on
// PATH; its sleep sleeps lab seconds at the clock's scale (0.01 here).
func TestLabPath(t *testing.T) {
	e, _ := setup(t)
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"command -v sleep needs-restarting", `echo "$PATH"`}, "60"), 60, "")
	inv := wait(t, e, cmd)
	bin := filepath.Join(e.dir, id, "bin")
	if want := bin + "/sleep\n" + bin + "/needs-restarting\n" + bin + ":"; !strings.HasPrefix(inv.Stdout, want) {
		t.Errorf("stdout %q, want it to start %q", inv.Stdout, want)
	}
	for _, tt := range []struct {
		args         string
		minMs, maxMs int // real milliseconds
		code         int
		stderr       string
	}{
		{"50", 500, 5000, 0, ""},    // 50 s unscaled
		{"1.5", 15, 3000, 0, ""},    // fractions
		{".5 0.5", 10, 3000, 0, ""}, // several, summed
		{"1m", 600, 5000, 0, ""},    // suffixes
		{"abc", 0, 3000, 1, "invalid time interval 'abc'"},
		{"", 0, 3000, 1, "missing operand"},
	} {
		script := []string{"s=$(date +%s%N)", "sleep " + tt.args, "c=$?", "echo $(( ($(date +%s%N) - s) / 1000000 ))", "exit $c"}
		cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell(script, "3600"), 60, "")
		inv := wait(t, e, cmd)
		ms, err := strconv.Atoi(strings.TrimSpace(inv.Stdout))
		if err != nil || inv.ResponseCode != tt.code || ms < tt.minMs || ms > tt.maxMs || !strings.Contains(inv.Stderr, tt.stderr) {
			t.Errorf("sleep %s: exit %d after %q ms, stderr %q; want exit %d after %d-%d ms", tt.args, inv.ResponseCode, inv.Stdout, inv.Stderr, tt.code, tt.minMs, tt.maxMs)
		}
	}
}
