// Package ssm owns the lab's Systems Manager Run Command: commands sent to lab instances
// and their invocations. AWS-RunShellScript runs for real with bash, in a working folder
// per instance and command (as the agent's orchestration folder), honouring exit 194
// (reboot the instance, then run the script again from the start) and executionTimeout,
// with stdout and stderr kept as SSM keeps them. A script runs with a per-instance bin
// folder first on its PATH, holding two commands of the lab: needs-restarting, which
// stands for yum-utils' (with -r or --reboothint it exits 1, "Reboot is required to fully
// utilize these updates.", while the instance's RebootRequired flag is set, and 0, "No core
// libraries or services have been updated since boot-up.", otherwise, reading the flag
// when it runs), and sleep, which sleeps its argument (seconds, fractions allowed, with
// GNU sleep's s, m, h and d suffixes) in lab seconds, at the lab clock's scale, so that
// scripts polling with sleep keep the lab's time.
//
// AWS-RunPatchBaseline is simulated on the instance's patch state (package instance): a
// Scan takes ScanSeconds, changes nothing and reports the missing patches; an Install
// takes PatchSeconds and installs them, then reboots when it installed some or a reboot
// was pending and RebootOption is RebootIfNeeded (the default), or leaves the instance
// requiring a reboot with NoReboot. Either records the instance's patch state as
// DescribeInstancePatchStates reports it (PatchState); an instance never scanned or
// patched has none. An invocation is invisible for
// VisibleAfterSeconds after SendCommand (GetCommandInvocation answers
// InvocationDoesNotExist), as SSM's eventual consistency does.
//
// An instance can stop or be terminated under a command (SetInstanceState): a command
// not yet delivered waits Delayed ("the node was stopped"; GetCommandInvocation's
// StatusDetails reference) until the instance runs again or the delivery timeout passes
// (Delivery Timed Out); a command running there is killed with the instance, and since no
// agent reports it any more its invocation stays InProgress until the command expires
// (ExpiresAfter: "If a command expires, it changes status to DeliveryTimedOut for all
// invocations that have the status InProgress, Pending, or Delayed", the Command
// reference), when it ends TimedOut, "Delivery Timed Out". The lab takes the expiry as the
// delivery timeout plus the execution timeout after SendCommand. A terminated instance is
// not in a valid state for SendCommand or CancelCommand (InvalidInstanceId: "Valid states
// are: Running, Pending, Stopped, Stopping. Invalid states are: Shutting-down and
// Terminated."); a stopped one is.
package ssm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/instance"
)

// Invocation statuses.
const (
	StatusPending    = "Pending"
	StatusInProgress = "InProgress"
	StatusSuccess    = "Success"
	StatusFailed     = "Failed"
	StatusTimedOut   = "TimedOut"
	StatusCancelled  = "Cancelled"
	StatusDelayed    = "Delayed"
	StatusCancelling = "Cancelling"

	detailsDeliveryTimedOut = "Delivery Timed Out"
)

// EC2 instance states, as SetInstanceState takes them.
const (
	InstanceRunning    = "running"
	InstanceStopped    = "stopped"
	InstanceTerminated = "terminated"
)

// Output limits of GetCommandInvocation.
const (
	maxStdout = 24000
	maxStderr = 8000
)

// APIError is an SSM API error with its real code.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Instances finds lab instances by id.
type Instances interface {
	Instance(id string) (*instance.Instance, bool)
}

// Executor runs commands on lab instances.
type Executor struct {
	clock     *clock.Clock
	instances Instances
	dir       string

	// PatchSeconds is how long a simulated AWS-RunPatchBaseline Install takes (lab s).
	PatchSeconds float64
	// ScanSeconds is how long a simulated AWS-RunPatchBaseline Scan takes (lab s).
	ScanSeconds float64
	// PatchNeedsReboot: an Install with RebootIfNeeded reboots the instance.
	PatchNeedsReboot bool
	// VisibleAfterSeconds: GetCommandInvocation answers InvocationDoesNotExist this long
	// after SendCommand (lab s).
	VisibleAfterSeconds float64
	// AlarmState reads a CloudWatch alarm's state (OK, ALARM, INSUFFICIENT_DATA) for a
	// command sent with an AlarmConfiguration; ok is false when it cannot be read.
	AlarmState func(name string) (state string, ok bool)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	invocations map[key]*Invocation
	sent        []*Invocation
	faults      map[string]Faults
	// states are the instances' EC2 states that are not running.
	states map[string]string
	// patches are the instances' patch states, recorded by AWS-RunPatchBaseline.
	patches map[string]*PatchState
	// bins are the instances' bin folders, made on their first script.
	bins map[string]string
}

type key struct{ command, instance string }

// Faults are an instance's agent fault hooks.
type Faults struct {
	// Hang: the agent takes the command and never reports again (InProgress until the
	// command is cancelled), as when it is unreachable.
	Hang bool
	// FailWith makes every command fail with this exit code and stderr, without running.
	FailWith int
	Stderr   string
}

// Invocation is one command on one instance.
type Invocation struct {
	CommandID     string
	InstanceID    string
	DocumentName  string
	Comment       string
	Parameters    map[string][]string
	Status        string
	StatusDetails string
	ResponseCode  int
	Stdout        string
	Stderr        string
	// SentAt, StartedAt and EndedAt are lab times.
	SentAt, StartedAt, EndedAt time.Time
	// Runs counts the script's runs (2 after one exit 194).
	Runs int
	// Alarm is the command's AlarmConfiguration, if any; TriggeredAlarms the alarms
	// that stopped it.
	Alarm           *AlarmConfiguration
	TriggeredAlarms []TriggeredAlarm

	visibleAt time.Time
	cancel    context.CancelFunc
	// kill stops what runs on the instance without cancelling the command (the instance
	// went down); lost: that happened, so no agent will report the invocation again.
	kill      context.CancelFunc
	lost      bool
	expiresAt time.Time
}

// New returns an executor whose working folders live under dir.
func New(c *clock.Clock, instances Instances, dir string) *Executor {
	ctx, cancel := context.WithCancel(context.Background())
	return &Executor{clock: c, instances: instances, dir: dir, PatchSeconds: 60, ScanSeconds: 10, PatchNeedsReboot: true, VisibleAfterSeconds: 2,
		ctx: ctx, cancel: cancel, invocations: map[key]*Invocation{}, faults: map[string]Faults{}, states: map[string]string{},
		patches: map[string]*PatchState{}, bins: map[string]string{}}
}

// Close cancels every running command and waits for it.
func (e *Executor) Close() {
	e.cancel()
	e.wg.Wait()
}

// SetFaults sets an instance's agent faults.
func (e *Executor) SetFaults(instanceID string, f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[instanceID] = f
}

// AlarmConfiguration is SendCommand's: SSM watches the alarm while the command runs and
// stops the command when it is in ALARM, or when its state cannot be read unless
// IgnorePollAlarmFailure.
type AlarmConfiguration struct {
	Alarm                  string
	IgnorePollAlarmFailure bool
}

// TriggeredAlarm is an alarm that stopped a command, and the state it was in (UNKNOWN:
// it could not be read).
type TriggeredAlarm struct{ Name, State string }

// SendCommand starts a document on instances and returns the command id.
func (e *Executor) SendCommand(document string, instanceIDs []string, params map[string][]string, deliverySeconds int, comment string) (string, error) {
	return e.SendCommandWithAlarm(document, instanceIDs, params, deliverySeconds, comment, nil)
}

// SendCommandWithAlarm is SendCommand with an AlarmConfiguration (nil: none).
func (e *Executor) SendCommandWithAlarm(document string, instanceIDs []string, params map[string][]string, deliverySeconds int, comment string, alarm *AlarmConfiguration) (string, error) {
	switch document {
	case "AWS-RunShellScript":
		if len(params["commands"]) == 0 {
			return "", &APIError{Code: "InvalidParameters", Message: "Parameter \"commands\" is required."}
		}
		if t := params["executionTimeout"]; len(t) > 0 {
			if n, err := strconv.Atoi(t[0]); err != nil || n < 1 || n > 172800 {
				return "", &APIError{Code: "InvalidParameters", Message: "executionTimeout must be 1-172800"}
			}
		}
	case "AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks":
		if op := first(params["Operation"]); op != "Install" && op != "Scan" {
			return "", &APIError{Code: "InvalidParameters", Message: "Operation must be Scan or Install"}
		}
		if document == "AWS-RunPatchBaselineWithHooks" {
			for _, p := range []string{"PreInstallHookDocName", "PostInstallHookDocName", "OnExitHookDocName"} {
				if v, ok := params[p]; ok && (len(v) != 1 || v[0] == "") {
					return "", &APIError{Code: "InvalidParameters", Message: "Parameter \"" + p + "\" takes one document name."}
				}
			}
		}
	default:
		return "", &APIError{Code: "InvalidDocument", Message: fmt.Sprintf("Document %s does not exist in your account (the lab knows AWS-RunShellScript, AWS-RunPatchBaseline and AWS-RunPatchBaselineWithHooks)", document)}
	}
	if len(instanceIDs) == 0 {
		return "", &APIError{Code: "InvalidInstanceId", Message: "no instance ids"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.validInstances(instanceIDs); err != nil {
		return "", err
	}
	if deliverySeconds == 0 {
		deliverySeconds = 3600
	}
	execution := 3600.0
	if strings.HasPrefix(document, "AWS-RunPatchBaseline") {
		execution = 7200 // the document's own timeout
	} else if t := first(params["executionTimeout"]); t != "" {
		execution, _ = strconv.ParseFloat(t, 64)
	}
	id := uuid()
	now := e.clock.Now()
	for _, instID := range instanceIDs {
		ctx, cancel := context.WithCancel(e.ctx)
		status := StatusPending
		if e.states[instID] != "" {
			status = StatusDelayed
		}
		inv := &Invocation{CommandID: id, InstanceID: instID, DocumentName: document, Comment: comment, Parameters: params,
			Status: status, StatusDetails: status, ResponseCode: -1, SentAt: now, Alarm: alarm,
			visibleAt: now.Add(time.Duration(e.VisibleAfterSeconds * float64(time.Second))), cancel: cancel,
			expiresAt: now.Add(time.Duration((float64(deliverySeconds) + execution) * float64(time.Second)))}
		e.invocations[key{id, instID}] = inv
		e.sent = append(e.sent, inv)
		inst, _ := e.instances.Instance(instID)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.run(ctx, inv, inst, deliverySeconds)
		}()
		if alarm != nil {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.watchAlarm(ctx, inv)
			}()
		}
	}
	return id, nil
}

// watchAlarm reads the invocation's alarm every lab second until the invocation ends,
// and cancels it, recording the alarm as triggered, when the alarm is in ALARM or (unless
// IgnorePollAlarmFailure) cannot be read. The invocation then ends Cancelled.
func (e *Executor) watchAlarm(ctx context.Context, inv *Invocation) {
	for {
		e.mu.Lock()
		ended := !inv.EndedAt.IsZero()
		e.mu.Unlock()
		if ended {
			return
		}
		state, ok := "", false
		if e.AlarmState != nil {
			state, ok = e.AlarmState(inv.Alarm.Alarm)
		}
		if state == "ALARM" || (!ok && !inv.Alarm.IgnorePollAlarmFailure) {
			if state == "" {
				state = "UNKNOWN"
			}
			// Only a command still running is stopped by its alarm, and listed so.
			e.mu.Lock()
			if inv.EndedAt.IsZero() {
				inv.TriggeredAlarms = append(inv.TriggeredAlarms, TriggeredAlarm{inv.Alarm.Alarm, state})
				inv.cancel()
			}
			e.mu.Unlock()
			return
		}
		if e.clock.Sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// GetCommandInvocation returns a copy of the invocation.
func (e *Executor) GetCommandInvocation(commandID, instanceID string) (Invocation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	inv, ok := e.invocations[key{commandID, instanceID}]
	if !ok || e.clock.Now().Before(inv.visibleAt) {
		return Invocation{}, &APIError{Code: "InvocationDoesNotExist", Message: ""}
	}
	return *inv, nil
}

// CancelCommand cancels the command on the instances (all of its instances when none is
// named). A finished invocation stays as it is. A terminated instance is InvalidInstanceId.
// An invocation whose instance went down while it ran shows Cancelling until the command
// expires (no agent acknowledges it), then Cancelled.
func (e *Executor) CancelCommand(commandID string, instanceIDs []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.validInstances(instanceIDs); err != nil {
		return err
	}
	found := false
	for k, inv := range e.invocations {
		if k.command != commandID || (len(instanceIDs) > 0 && !contains(instanceIDs, k.instance)) {
			continue
		}
		found = true
		switch {
		case !inv.EndedAt.IsZero():
		case inv.lost:
			inv.Status, inv.StatusDetails = StatusCancelling, StatusCancelling
		default:
			inv.cancel()
		}
	}
	if !found {
		return &APIError{Code: "InvalidCommandId", Message: "command " + commandID + " not found"}
	}
	return nil
}

// validInstances: every instance exists and is not terminated. Callers hold e.mu.
func (e *Executor) validInstances(ids []string) error {
	for _, id := range ids {
		if _, ok := e.instances.Instance(id); !ok || e.states[id] == InstanceTerminated {
			return &APIError{Code: "InvalidInstanceId", Message: fmt.Sprintf("Instances [[%s]] not in a valid state for account", id)}
		}
	}
	return nil
}

// SetInstanceState tells the executor an instance's EC2 state (InstanceRunning,
// InstanceStopped, InstanceTerminated). When the instance goes down, a command waiting for
// it is Delayed, and a command running there is killed with it and left InProgress until
// it expires; when a stopped instance runs again, commands still Delayed are delivered.
func (e *Executor) SetInstanceState(id, state string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if state == InstanceRunning {
		delete(e.states, id)
	} else {
		e.states[id] = state
	}
	for _, inv := range e.sent {
		if inv.InstanceID != id || !inv.EndedAt.IsZero() {
			continue
		}
		switch {
		case state == InstanceRunning && inv.Status == StatusDelayed:
			inv.Status, inv.StatusDetails = StatusPending, StatusPending
		case state != InstanceRunning && inv.Status == StatusPending:
			inv.Status, inv.StatusDetails = StatusDelayed, StatusDelayed
		case state != InstanceRunning && !inv.lost && (inv.Status == StatusInProgress || inv.Status == StatusCancelling):
			inv.lost = true
			if inv.kill != nil {
				inv.kill()
			}
		}
	}
}

// Commands lists the invocations on the instance, newest first, as ListCommands sees a
// command sent to one instance.
func (e *Executor) Commands(instanceID string) []Invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Invocation
	for i := len(e.sent) - 1; i >= 0; i-- {
		if inv := e.sent[i]; inv.InstanceID == instanceID {
			out = append(out, *inv)
		}
	}
	return out
}

// Sent lists every invocation sent so far, in order.
func (e *Executor) Sent() []Invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Invocation, len(e.sent))
	for i, inv := range e.sent {
		out[i] = *inv
	}
	return out
}

func (e *Executor) update(inv *Invocation, f func(*Invocation)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(inv)
}

// finish ends the invocation, unless its instance went down under it (then only its
// expiry ends it).
func (e *Executor) finish(inv *Invocation, status, details string, code int) {
	e.update(inv, func(inv *Invocation) {
		if inv.lost || !inv.EndedAt.IsZero() {
			return
		}
		inv.Status, inv.StatusDetails, inv.ResponseCode, inv.EndedAt = status, details, code, e.clock.Now()
	})
}

// expire ends an invocation no agent will report when its command expires.
func (e *Executor) expire(inv *Invocation) {
	e.mu.Lock()
	wait := e.clock.Real(inv.expiresAt.Sub(e.clock.Now()))
	e.mu.Unlock()
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.ctx.Done():
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if inv.Status == StatusCancelling {
		inv.Status, inv.StatusDetails = StatusCancelled, StatusCancelled
	} else {
		inv.Status, inv.StatusDetails = StatusTimedOut, detailsDeliveryTimedOut
	}
	inv.EndedAt = e.clock.Now()
}

// run delivers the command when the agent is online, then runs it. What runs on the
// instance runs under exec, which the instance going down kills.
func (e *Executor) run(ctx context.Context, inv *Invocation, inst *instance.Instance, deliverySeconds int) {
	exec, kill := context.WithCancel(ctx)
	defer kill()
	if err := e.deliver(ctx, inv, inst, deliverySeconds, kill); err != nil {
		if ctx.Err() != nil {
			e.finish(inv, StatusCancelled, StatusCancelled, -1)
		} else {
			e.finish(inv, StatusTimedOut, detailsDeliveryTimedOut, -1)
		}
		return
	}
	e.mu.Lock()
	f := e.faults[inv.InstanceID]
	e.mu.Unlock()
	switch {
	case f.Hang:
		<-exec.Done()
		e.finish(inv, StatusCancelled, StatusCancelled, -1)
	case f.FailWith != 0:
		e.update(inv, func(inv *Invocation) { inv.Stderr = f.Stderr })
		e.finish(inv, StatusFailed, StatusFailed, f.FailWith)
	case strings.HasPrefix(inv.DocumentName, "AWS-RunPatchBaseline"):
		e.patch(exec, inv, inst)
	default:
		e.shell(exec, inv, inst)
	}
	e.mu.Lock()
	lost := inv.lost
	e.mu.Unlock()
	if lost {
		e.expire(inv)
	}
}

// deliver waits until the instance is up and running (EC2's state), then marks the
// invocation InProgress, or fails when ctx ends or the delivery timeout passes.
func (e *Executor) deliver(ctx context.Context, inv *Invocation, inst *instance.Instance, deliverySeconds int, kill context.CancelFunc) error {
	delivery, cancel := context.WithTimeout(ctx, e.clock.Seconds(float64(deliverySeconds)))
	defer cancel()
	for {
		if err := inst.WaitUp(delivery); err != nil {
			return err
		}
		e.mu.Lock()
		if e.states[inv.InstanceID] == "" {
			inv.Status, inv.StatusDetails, inv.StartedAt, inv.kill = StatusInProgress, StatusInProgress, e.clock.Now(), kill
			e.mu.Unlock()
			return nil
		}
		e.mu.Unlock()
		if err := e.clock.Sleep(delivery, time.Second); err != nil {
			return err
		}
	}
}

// shell runs an AWS-RunShellScript, again after each exit 194 and the reboot it asks for.
func (e *Executor) shell(ctx context.Context, inv *Invocation, inst *instance.Instance) {
	timeout := 3600.0
	if t := first(inv.Parameters["executionTimeout"]); t != "" {
		timeout, _ = strconv.ParseFloat(t, 64)
	}
	agent := ctx // ended by CancelCommand, or by the instance going down
	ctx, cancel := context.WithTimeout(ctx, e.clock.Seconds(timeout))
	defer cancel()
	dir := filepath.Join(e.dir, inv.InstanceID, "orchestration", inv.CommandID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		e.update(inv, func(inv *Invocation) { inv.Stderr = err.Error() })
		e.finish(inv, StatusFailed, StatusFailed, 1)
		return
	}
	script := strings.Join(inv.Parameters["commands"], "\n") + "\n"
	for {
		code, stdout, stderr := e.runBash(ctx, dir, script, inst)
		e.update(inv, func(inv *Invocation) {
			inv.Runs++
			inv.Stdout = limit(inv.Stdout+stdout, maxStdout)
			inv.Stderr = limit(inv.Stderr+stderr, maxStderr)
		})
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			e.finish(inv, StatusTimedOut, "Execution Timed Out", 124)
			return
		case ctx.Err() != nil:
			e.finish(inv, StatusCancelled, StatusCancelled, -1)
			return
		case code == 194:
			inst.Reboot()
			// While the instance is down its agent reports nothing: the invocation stays
			// InProgress, whatever the execution timeout, until the instance is back (the
			// agent then applies the timeout) or the command is cancelled.
			if err := inst.WaitUp(agent); err != nil {
				e.finish(inv, StatusCancelled, StatusCancelled, -1)
				return
			}
		case code == 0:
			e.finish(inv, StatusSuccess, StatusSuccess, 0)
			return
		default:
			e.finish(inv, StatusFailed, StatusFailed, code)
			return
		}
	}
}

// runBash runs the script with bash in dir, killing its whole process group when ctx
// ends. INSTANCE_ID and INSTANCE_IP say which lab instance it stands for; the instance's
// bin folder comes first on PATH.
func (e *Executor) runBash(ctx context.Context, dir, script string, inst *instance.Instance) (int, string, string) {
	path := "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	bin, err := e.bin(inst)
	if err != nil {
		return -1, "", err.Error()
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":" + path, "HOME=" + dir, "LANG=C",
		"INSTANCE_ID=" + inst.ID, "INSTANCE_IP=" + inst.IP}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		return -1, stdout.String(), stderr.String() + err.Error()
	}
}

// needsRestarting is the lab's needs-restarting; %[1]q is the reboot-required flag file,
// present while the instance requires a reboot.
const needsRestarting = `#!/bin/bash
# needs-restarting (yum-utils), as the lab has it: -r / --reboothint reports whether the
# instance requires a reboot to finish installing patches.
hint=
for a in "$@"; do
  case "$a" in
    -r|--reboothint) hint=1 ;;
  esac
done
[ -n "$hint" ] || exit 0
if [ -e %[1]q ]; then
  echo "Core libraries or services have been updated since boot-up:"
  echo "  * kernel"
  echo
  echo "Reboot is required to fully utilize these updates."
  echo "More information: https://access.redhat.com/solutions/27943"
  exit 1
fi
echo "No core libraries or services have been updated since boot-up."
echo "Reboot should not be necessary."
`

// sleepShim is the lab's sleep: %[1]s is the scale (real seconds per lab second), %[2]q
// the real sleep. Its arguments are lab seconds, summed as GNU sleep sums them.
const sleepShim = `#!/bin/bash
# sleep at the lab's time scale: each lab second lasts %[1]s real seconds.
[ $# -gt 0 ] || exec %[2]q
real=$(awk -v scale=%[1]s 'BEGIN {
  for (i = 1; i < ARGC; i++) {
    a = ARGV[i]; m = 1; u = substr(a, length(a))
    if (u == "s" || u == "m" || u == "h" || u == "d") {
      a = substr(a, 1, length(a) - 1)
      m = u == "m" ? 60 : u == "h" ? 3600 : u == "d" ? 86400 : 1
    }
    if (a !~ /^([0-9]+\.?[0-9]*|\.[0-9]+)$/) {
      printf "sleep: invalid time interval %%c%%s%%c\n", 39, ARGV[i], 39 > "/dev/stderr"; exit 1
    }
    t += a * m
  }
  printf "%%.6f", t * scale
}' "$@") || exit 1
exec %[2]q "$real"
`

// bin returns the instance's bin folder, made with its commands on its first use; the
// reboot-required flag file follows the instance's flag from then on.
func (e *Executor) bin(inst *instance.Instance) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if bin, ok := e.bins[inst.ID]; ok {
		return bin, nil
	}
	bin := filepath.Join(e.dir, inst.ID, "bin")
	flag := filepath.Join(e.dir, inst.ID, "state", "reboot-required")
	if err := os.MkdirAll(filepath.Dir(flag), 0o700); err != nil {
		return "", err
	}
	if err := os.MkdirAll(bin, 0o700); err != nil {
		return "", err
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return "", err
	}
	scale := strconv.FormatFloat(e.clock.Scale, 'f', -1, 64)
	for name, text := range map[string]string{"needs-restarting": fmt.Sprintf(needsRestarting, flag), "sleep": fmt.Sprintf(sleepShim, scale, sleep)} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o700); err != nil {
			return "", err
		}
	}
	// The flag file is written under the instance's lock, in the order of the changes; a
	// failure (the lab's folder removed at Close) leaves it as it was.
	inst.OnRebootRequired(func(required bool) {
		if required {
			_ = os.WriteFile(flag, nil, 0o600)
		} else {
			_ = os.Remove(flag)
		}
	})
	e.bins[inst.ID] = bin
	return bin, nil
}

// PatchState is an instance's patch state, as Patch Manager records it at the end of an
// AWS-RunPatchBaseline Scan or Install (DescribeInstancePatchStates).
type PatchState struct {
	InstanceID string
	// Operation is the last operation, Scan or Install; RebootOption its RebootOption
	// (RebootIfNeeded or NoReboot).
	Operation    string
	RebootOption string
	// OperationStartTime and OperationEndTime are lab times; LastNoRebootInstallTime, the
	// last Install with NoReboot (zero if none).
	OperationStartTime, OperationEndTime time.Time
	LastNoRebootInstallTime              time.Time
	// MissingCount: patches not installed. InstalledCount: installed and in effect (the
	// lab's installs only). InstalledPendingRebootCount: installed since the last boot and
	// waiting for a reboot (at least 1 while the instance requires one). FailedCount: 0,
	// the lab's installs do not fail.
	MissingCount, InstalledCount, InstalledPendingRebootCount, FailedCount int
}

// PatchState returns the instance's recorded patch state; ok is false when no Scan or
// Install has ended on it.
func (e *Executor) PatchState(instanceID string) (state PatchState, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.patches[instanceID]
	if !ok {
		return PatchState{}, false
	}
	return *p, true
}

// patch simulates AWS-RunPatchBaseline on the instance's patch state (see the package
// comment) and records it.
func (e *Executor) patch(ctx context.Context, inv *Invocation, inst *instance.Instance) {
	op, reboot := first(inv.Parameters["Operation"]), first(inv.Parameters["RebootOption"])
	if reboot == "" {
		reboot = "RebootIfNeeded"
	}
	started, seconds := e.clock.Now(), e.PatchSeconds
	if op == "Scan" {
		seconds = e.ScanSeconds
	}
	if err := e.clock.Sleep(ctx, time.Duration(seconds*float64(time.Second))); err != nil {
		e.finish(inv, StatusCancelled, StatusCancelled, -1)
		return
	}
	// AWS-RunPatchBaselineWithHooks runs its hook documents around an Install: the lab
	// records them in the output, in order, and runs nothing of them.
	hook := func(param string) string {
		if inv.DocumentName != "AWS-RunPatchBaselineWithHooks" || op != "Install" {
			return ""
		}
		return fmt.Sprintf("hook %s: ran %s\n", param, orNoop(first(inv.Parameters[param])))
	}
	state := e.patchCounts(inst)
	var out string
	if op == "Scan" {
		out = fmt.Sprintf("Operation Scan: %d patches missing\n", state.MissingCount)
	} else {
		installed := inst.MissingPatches()
		inst.SetMissingPatches(0)
		state.MissingCount = 0
		out = hook("PreInstallHookDocName") + fmt.Sprintf("Operation Install: %d patches installed\n", installed) + hook("PostInstallHookDocName")
		switch {
		case !e.PatchNeedsReboot:
			state.InstalledCount += installed
		case (installed > 0 || inst.RebootRequired()) && reboot != "NoReboot":
			inst.Reboot()
			if err := inst.WaitUp(ctx); err != nil {
				e.finish(inv, StatusCancelled, StatusCancelled, -1)
				return
			}
			state.InstalledCount += state.InstalledPendingRebootCount + installed
			state.InstalledPendingRebootCount = 0
			out += "Rebooted to complete the installation\n"
		case installed > 0 || inst.RebootRequired():
			inst.SetRebootRequired(true)
			state.InstalledPendingRebootCount += installed
			out += fmt.Sprintf("%d patches InstalledPendingReboot\n", state.InstalledPendingRebootCount)
		}
		if reboot == "NoReboot" {
			state.LastNoRebootInstallTime = started
		}
	}
	out += hook("OnExitHookDocName")
	state.Operation, state.RebootOption, state.OperationStartTime, state.OperationEndTime = op, reboot, started, e.clock.Now()
	if inst.RebootRequired() {
		state.InstalledPendingRebootCount = max(state.InstalledPendingRebootCount, 1)
	}
	e.update(inv, func(inv *Invocation) {
		inv.Stdout, inv.Runs = out, 1
		e.patches[inv.InstanceID] = &state
	})
	e.finish(inv, StatusSuccess, StatusSuccess, 0)
}

// patchCounts is the instance's patch state now: its missing patches, and those pending a
// reboot counted installed once the instance has booted since they were.
func (e *Executor) patchCounts(inst *instance.Instance) PatchState {
	e.mu.Lock()
	state := PatchState{InstanceID: inst.ID}
	if p, ok := e.patches[inst.ID]; ok {
		state = *p
	}
	e.mu.Unlock()
	if !inst.RebootRequired() {
		state.InstalledCount += state.InstalledPendingRebootCount
		state.InstalledPendingRebootCount = 0
	}
	state.MissingCount = inst.MissingPatches()
	return state
}

func orNoop(doc string) string {
	if doc == "" {
		return "AWS-Noop"
	}
	return doc
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// limit keeps the first n bytes, as GetCommandInvocation does.
func limit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// uuid returns a random version 4 UUID, the shape of an SSM command id.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
