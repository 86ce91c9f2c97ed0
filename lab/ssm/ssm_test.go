package ssm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

type fleet map[string]*instance.Instance

func (f fleet) Instance(id string) (*instance.Instance, bool) { i, ok := f[id]; return i, ok }

const id = "i-0123456789abcdef0"

func setup(t *testing.T) (*Executor, *instance.Instance) {
	t.Helper()
	c := clock.New(0.01)
	inst := instance.New(id, "127.0.0.1", []int{0}, 2, c)
	if err := inst.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	e := New(c, fleet{id: inst}, t.TempDir())
	e.PatchSeconds = 3
	t.Cleanup(e.Close)
	return e, inst
}

// waitStatus polls the invocation until done says its status is the awaited one.
func waitStatus(t *testing.T, e *Executor, cmd, what string, done func(status string) bool) Invocation {
	t.Helper()
	var inv Invocation
	labtest.WaitFor(t, 10*time.Second, 2*time.Millisecond, "command "+cmd+" "+what, func() (bool, any) {
		var err error
		if inv, err = e.GetCommandInvocation(cmd, id); err != nil {
			return false, err
		}
		return done(inv.Status), fmt.Sprintf("%s (%s), code %d, stdout %q, stderr %q", inv.Status, inv.StatusDetails, inv.ResponseCode, inv.Stdout, inv.Stderr)
	})
	return inv
}

// wait polls the invocation until it leaves Pending/InProgress.
func wait(t *testing.T, e *Executor, cmd string) Invocation {
	t.Helper()
	return waitStatus(t, e, cmd, "to finish", func(status string) bool { return status != StatusPending && status != StatusInProgress })
}

func shell(commands []string, timeout string) map[string][]string {
	return map[string][]string{"commands": commands, "executionTimeout": {timeout}}
}

func TestRunShellScript(t *testing.T) {
	e, _ := setup(t)
	cmd, err := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"echo out", "echo err >&2", "pwd"}, "60"), 60, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd) != 36 {
		t.Errorf("command id %q is not 36 characters", cmd)
	}
	if _, err := e.GetCommandInvocation(cmd, id); err == nil || err.(*APIError).Code != "InvocationDoesNotExist" {
		t.Errorf("right after SendCommand: %v, want InvocationDoesNotExist", err)
	}
	inv := wait(t, e, cmd)
	if inv.Status != StatusSuccess || inv.ResponseCode != 0 || !strings.HasPrefix(inv.Stdout, "out\n") || inv.Stderr != "err\n" {
		t.Errorf("invocation = %+v", inv)
	}
	if !strings.Contains(inv.Stdout, "/"+id+"/orchestration/"+cmd) {
		t.Errorf("working folder %q is not per instance and command", inv.Stdout)
	}
}

func TestExit194RebootsAndRunsAgain(t *testing.T) {
	e, inst := setup(t)
	boots := inst.Boots()
	script := workflow.RebootScript("tok")
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell(script, "60"), 60, "reboot")
	inv := wait(t, e, cmd)
	if inv.Status != StatusSuccess || inv.Runs != 2 || inst.Boots() != boots+1 {
		t.Errorf("status %s, runs %d, boots %d->%d; want Success after 2 runs and one reboot", inv.Status, inv.Runs, boots, inst.Boots())
	}
	if !strings.Contains(inv.Stdout, "rebooting") || !strings.Contains(inv.Stdout, "back after the reboot") {
		t.Errorf("stdout %q", inv.Stdout)
	}
}

func TestFailuresTimeoutsAndCancel(t *testing.T) {
	e, _ := setup(t)
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"echo broken >&2", "exit 3"}, "60"), 60, "")
	if inv := wait(t, e, cmd); inv.Status != StatusFailed || inv.ResponseCode != 3 || inv.Stderr != "broken\n" {
		t.Errorf("failed command: %+v", inv)
	}
	cmd, _ = e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"sleep 30"}, "5"), 60, "")
	start := time.Now()
	if inv := wait(t, e, cmd); inv.Status != StatusTimedOut || inv.StatusDetails != "Execution Timed Out" {
		t.Errorf("timed out command: %+v", inv)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the timeout did not kill the script (took %v)", time.Since(start))
	}
	cmd, _ = e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"sleep 1000"}, "3600"), 60, "")
	// Cancel a running script, not one still waiting for delivery.
	waitStatus(t, e, cmd, "to be InProgress", func(status string) bool { return status == StatusInProgress })
	if err := e.CancelCommand(cmd, []string{id}); err != nil {
		t.Fatal(err)
	}
	if inv := wait(t, e, cmd); inv.Status != StatusCancelled {
		t.Errorf("cancelled command: %+v", inv)
	}
	e.SetFaults(id, Faults{Hang: true})
	cmd, _ = e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"true"}, "60"), 60, "")
	// Delivered: the agent took the command.
	if inv := waitStatus(t, e, cmd, "to be delivered", func(status string) bool { return status != StatusPending }); inv.Status != StatusInProgress {
		t.Errorf("hung agent, just delivered: %+v, want InProgress", inv)
	}
	// Not a synchronisation: 10 lab seconds pass, far longer than "true" takes, and the
	// hung agent must not have reported anything.
	time.Sleep(e.clock.Seconds(10))
	if inv, _ := e.GetCommandInvocation(cmd, id); inv.Status != StatusInProgress {
		t.Errorf("hung agent: %+v, want InProgress", inv)
	}
	_ = e.CancelCommand(cmd, nil)
	wait(t, e, cmd)
}

func TestDeliveryWaitsForTheAgent(t *testing.T) {
	e, inst := setup(t)
	inst.Stop()
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"true"}, "60"), 3, "")
	if inv := wait(t, e, cmd); inv.Status != StatusTimedOut || inv.StatusDetails != "Delivery Timed Out" {
		t.Errorf("instance down: %+v, want Delivery Timed Out", inv)
	}
}

func TestSendCommandErrors(t *testing.T) {
	e, _ := setup(t)
	for _, tt := range []struct {
		doc    string
		ids    []string
		params map[string][]string
		code   string
	}{
		{"AWS-Nope", []string{id}, nil, "InvalidDocument"},
		{"AWS-RunShellScript", []string{id}, nil, "InvalidParameters"},
		{"AWS-RunShellScript", []string{"i-0000000000000dead"}, shell([]string{"true"}, "60"), "InvalidInstanceId"},
		{"AWS-RunPatchBaseline", []string{id}, map[string][]string{"Operation": {"install"}}, "InvalidParameters"},
	} {
		if _, err := e.SendCommand(tt.doc, tt.ids, tt.params, 60, ""); err == nil || err.(*APIError).Code != tt.code {
			t.Errorf("SendCommand(%s, %v): %v, want %s", tt.doc, tt.params, err, tt.code)
		}
	}
	if err := e.CancelCommand("nope", nil); err == nil {
		t.Error("cancelling an unknown command: no error")
	}
}
