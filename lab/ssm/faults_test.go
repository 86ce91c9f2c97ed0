package ssm

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitEnd waits for the invocation to reach a final status.
func waitEnd(t *testing.T, e *Executor, cmd string) Invocation {
	t.Helper()
	return waitStatus(t, e, cmd, "to end", func(s string) bool {
		return s != StatusPending && s != StatusInProgress && s != StatusDelayed && s != StatusCancelling
	})
}

func stop(e *Executor, inst interface{ PowerOff() }, state string) {
	e.SetInstanceState(id, state)
	inst.PowerOff()
}

// TestStoppedBeforeDelivery: a command sent to a stopped instance is accepted and waits
// Delayed; once the instance runs again it is delivered and runs. Left stopped, it ends
// at the delivery timeout as Delivery Timed Out.
func TestStoppedBeforeDelivery(t *testing.T) {
	e, inst := setup(t)
	stop(e, inst, InstanceStopped)
	cmd, err := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"echo ran"}, "60"), 600, "")
	if err != nil {
		t.Fatalf("SendCommand to a stopped instance: %v", err)
	}
	if inv := waitStatus(t, e, cmd, "visible", func(string) bool { return true }); inv.Status != StatusDelayed || inv.StatusDetails != StatusDelayed {
		t.Fatalf("sent to a stopped instance: %+v, want Delayed", inv)
	}
	e.SetInstanceState(id, InstanceRunning)
	if err := inst.PowerOn(); err != nil {
		t.Fatal(err)
	}
	if inv := wait(t, e, cmd); inv.Status != StatusSuccess || inv.Stdout != "ran\n" {
		t.Errorf("after the start: %+v", inv)
	}

	stop(e, inst, InstanceStopped)
	cmd, _ = e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"true"}, "60"), 3, "")
	if inv := waitEnd(t, e, cmd); inv.Status != StatusTimedOut || inv.StatusDetails != "Delivery Timed Out" {
		t.Errorf("left stopped: %+v, want Delivery Timed Out", inv)
	}
}

// TestStoppedWhileRunning: a command running when its instance stops is killed with it
// (the script does not go on), and stays InProgress, since no agent reports it, until the
// command expires (delivery timeout plus execution timeout after SendCommand): then
// TimedOut, Delivery Timed Out. CancelCommand meanwhile makes it Cancelling, then
// Cancelled at the expiry.
func TestStoppedWhileRunning(t *testing.T) {
	e, inst := setup(t)
	marker := filepath.Join(t.TempDir(), "finished")
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"sleep 30", "touch " + marker}, "100"), 100, "")
	waitStatus(t, e, cmd, "to be InProgress", func(status string) bool { return status == StatusInProgress })
	sent := time.Now()
	stop(e, inst, InstanceStopped)
	time.Sleep(e.clock.Seconds(50)) // past the script's own end, had it not been killed
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script went on after its instance stopped")
	}
	inv, _ := e.GetCommandInvocation(cmd, id)
	if inv.Status != StatusInProgress {
		t.Errorf("right after the stop: %+v, want InProgress", inv)
	}
	inv = wait(t, e, cmd)
	if inv.Status != StatusTimedOut || inv.StatusDetails != "Delivery Timed Out" {
		t.Errorf("at the expiry: %+v", inv)
	}
	if took, want := time.Since(sent), e.clock.Seconds(150); took < want {
		t.Errorf("expired after %v, before the command's 200 lab seconds", took)
	}

	e.SetInstanceState(id, InstanceRunning)
	if err := inst.PowerOn(); err != nil {
		t.Fatal(err)
	}
	cmd, _ = e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"sleep 1000"}, "100"), 100, "")
	waitStatus(t, e, cmd, "to be InProgress", func(status string) bool { return status == StatusInProgress })
	stop(e, inst, InstanceStopped)
	if err := e.CancelCommand(cmd, []string{id}); err != nil {
		t.Fatalf("cancelling on a stopped instance: %v", err)
	}
	if inv, _ := e.GetCommandInvocation(cmd, id); inv.Status != StatusCancelling {
		t.Errorf("cancelled, agent gone: %+v, want Cancelling", inv)
	}
	if inv := waitEnd(t, e, cmd); inv.Status != StatusCancelled {
		t.Errorf("at the expiry: %+v, want Cancelled", inv)
	}
}

// TestTerminatedInstance: SendCommand and CancelCommand naming a terminated instance are
// InvalidInstanceId; its invocations can still be read and listed.
func TestTerminatedInstance(t *testing.T) {
	e, inst := setup(t)
	cmd, _ := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"sleep 1000"}, "100"), 100, "")
	waitStatus(t, e, cmd, "to be InProgress", func(status string) bool { return status == StatusInProgress })
	stop(e, inst, InstanceTerminated)
	if _, err := e.SendCommand("AWS-RunShellScript", []string{id}, shell([]string{"true"}, "60"), 60, ""); err == nil || err.(*APIError).Code != "InvalidInstanceId" {
		t.Errorf("SendCommand to a terminated instance: %v", err)
	}
	if err := e.CancelCommand(cmd, []string{id}); err == nil || err.(*APIError).Code != "InvalidInstanceId" {
		t.Errorf("CancelCommand naming a terminated instance: %v", err)
	}
	if inv, err := e.GetCommandInvocation(cmd, id); err != nil || inv.Status != StatusInProgress {
		t.Errorf("its running command: %+v, %v", inv, err)
	}
	if list := e.Commands(id); len(list) != 1 || list[0].Status != StatusInProgress {
		t.Errorf("listed: %+v", list)
	}
	if inv := wait(t, e, cmd); inv.Status != StatusTimedOut || inv.StatusDetails != "Delivery Timed Out" {
		t.Errorf("at the expiry: %+v", inv)
	}
}
