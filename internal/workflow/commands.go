package workflow

import (
	"fmt"

	"slices"
	"strconv"
	"strings"
)

// SSM documents drainpipe sends.
const (
	DocumentShellScript   = "AWS-RunShellScript"
	DocumentPatchBaseline = "AWS-RunPatchBaseline"
	// DocumentPatchBaselineWithHooks is the patch action's document with patchHooks.
	DocumentPatchBaselineWithHooks = "AWS-RunPatchBaselineWithHooks"
	// ActionHealthCheck is the Action of the health check command.
	ActionHealthCheck = "healthCheck"
)

// HookAction is the Action of a hook's command: "preDrainHook", ...
func HookAction(name string) string { return name + "Hook" }

// RebootScript is the reboot action's script. SSM runs an AWS-RunShellScript again from
// the start after exit 194 reboots the instance, so the script must be idempotent: the
// flag file records that the reboot was asked for. The flag's name carries a token unique
// to the execution, so a flag left behind by an earlier, interrupted run can never make
// this run skip its reboot. The path is relative to the command's working directory
// (on EC2, the SSM agent's per-command orchestration folder, which survives the reboot).
func RebootScript(token string) []string {
	flag := "drainpipe-reboot-" + token + ".flag"
	return []string{
		"flag=" + flag,
		`if [ ! -f "$flag" ]; then`,
		`  echo "drainpipe: flag $PWD/$flag written, rebooting"`,
		`  touch "$flag"`,
		`  exit 194`,
		`fi`,
		`rm -f "$flag"`,
		`echo "drainpipe: instance is back after the reboot"`,
	}
}

// MaintenanceCommand turns a validated maintenance input into the SSM command to send.
func MaintenanceCommand(m Maintenance, token string) Command {
	c := Command{Action: m.Action, TimeoutSeconds: orDefault(m.TimeoutSeconds, DefaultTimeouts[m.Action]),
		ExpectedSeconds: min(orDefault(m.ExpectedSeconds, DefaultExpectedSeconds[m.Action]), orDefault(m.TimeoutSeconds, DefaultTimeouts[m.Action]))}
	switch m.Action {
	case ActionReboot:
		c.DocumentName = DocumentShellScript
		c.Parameters = shellParameters(RebootScript(token), c.TimeoutSeconds)
	case ActionCommands:
		c.DocumentName = DocumentShellScript
		c.Parameters = shellParameters(m.Commands, c.TimeoutSeconds)
	case ActionPatch:
		c.DocumentName = DocumentPatchBaseline
		c.Parameters = map[string][]string{
			"Operation":    {orDefaultString(m.Operation, "Install")},
			"RebootOption": {orDefaultString(m.RebootOption, "RebootIfNeeded")},
		}
		if h := m.PatchHooks; h != nil {
			c.DocumentName = DocumentPatchBaselineWithHooks
			c.Parameters["PreInstallHookDocName"] = []string{orDefaultString(h.PreInstall, "AWS-Noop")}
			c.Parameters["PostInstallHookDocName"] = []string{orDefaultString(h.PostInstall, "AWS-Noop")}
			c.Parameters["OnExitHookDocName"] = []string{orDefaultString(h.OnExit, "AWS-Noop")}
		}
	case ActionDocument:
		c.DocumentName = m.DocumentName
		c.Parameters = m.Parameters
	}
	return c
}

// HealthCheckCommand turns the health check input into the SSM command to send.
func HealthCheckCommand(h HealthCheck) Command {
	timeout := orDefault(h.TimeoutSeconds, DefaultHealthCheckSeconds)
	return Command{
		Action:         ActionHealthCheck,
		DocumentName:   DocumentShellScript,
		Parameters:     shellParameters(h.Commands, timeout),
		TimeoutSeconds: timeout,
	}
}

// HookCommand turns a validated hook into the SSM command to send (nil for no hook).
func HookCommand(name string, h *HealthCheck) *Command {
	if h == nil {
		return nil
	}
	timeout := orDefault(h.TimeoutSeconds, DefaultHookSeconds)
	return &Command{Action: HookAction(name), DocumentName: DocumentShellScript, Parameters: shellParameters(h.Commands, timeout), TimeoutSeconds: timeout}
}

func shellParameters(commands []string, timeout int) map[string][]string {
	return map[string][]string{
		"commands":         append([]string(nil), commands...),
		"executionTimeout": {strconv.Itoa(timeout)},
	}
}

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Describe is a one-line, human description of a command, for dry runs and logs.
func (c Command) Describe() string {
	if cmds, ok := c.Parameters["commands"]; ok && c.DocumentName == DocumentShellScript {
		return fmt.Sprintf("%s: %s with %d command line(s), timeout %ds", c.Action, c.DocumentName, len(cmds), c.TimeoutSeconds)
	}
	var params []string
	for k, v := range c.Parameters {
		params = append(params, k+"="+strings.Join(v, ","))
	}
	slices.Sort(params)
	return fmt.Sprintf("%s: %s %s, timeout %ds", c.Action, c.DocumentName, strings.Join(params, " "), c.TimeoutSeconds)
}

// How a required check's verdict is read (Command.Verdict).
const (
	// VerdictOutput: the last line of the command's output, "required" or "not-required".
	VerdictOutput = "output"
	// VerdictPatchState: the instance's patch state, as the Scan reported it to Patch
	// Manager (DescribeInstancePatchStates); VerdictPatchStateNoReboot the same for an
	// installation with RebootOption NoReboot, for which patches pending a reboot are not
	// work.
	VerdictPatchState         = "patchState"
	VerdictPatchStateNoReboot = "patchStateNoReboot"
	// ActionRequiredCheck is the Action of the required check's command.
	ActionRequiredCheck = "requiredCheck"
	// RequiredCheckSeconds bounds the required check; a patch Scan takes minutes at most.
	RequiredCheckSeconds = 900
	// ScanExpectedSeconds is how long a patch Scan usually takes.
	ScanExpectedSeconds = 20
)

// Verdicts lists the ways a verdict is read.
var Verdicts = []string{VerdictOutput, VerdictPatchState, VerdictPatchStateNoReboot}

// The verdicts a required check's output ends with.
const (
	Required    = "required"
	NotRequired = "not-required"
)

// DefaultRebootCheck is reboot's required check when the input gives none: Amazon Linux
// and RHEL's needs-restarting -r (exit 1: a reboot is required), Debian and Ubuntu's
// /var/run/reboot-required (present: required). Where it can tell neither way, it says
// required: a reboot too many costs minutes, a reboot skipped leaves a kernel unpatched.
var DefaultRebootCheck = []string{
	`if command -v needs-restarting >/dev/null 2>&1; then`,
	`  needs-restarting -r >&2; rc=$?`,
	`  case $rc in 0) echo ` + NotRequired + ` ;; 1) echo ` + Required + ` ;; *) echo "drainpipe: needs-restarting -r exited $rc" >&2; echo ` + Required + ` ;; esac`,
	`elif [ -f /etc/debian_version ]; then`,
	`  if [ -e /var/run/reboot-required ]; then echo ` + Required + `; else echo ` + NotRequired + `; fi`,
	`else`,
	`  echo "drainpipe: neither needs-restarting nor Debian's /var/run/reboot-required: cannot tell" >&2`,
	`  echo ` + Required,
	`fi`,
}

// RequiredCheckCommand is the command that tells whether a validated maintenance has
// anything to do (nil when the input does not ask: Maintenance.Checked).
func RequiredCheckCommand(m Maintenance) *Command {
	if !m.Checked() {
		return nil
	}
	c := &Command{Action: ActionRequiredCheck, TimeoutSeconds: RequiredCheckSeconds}
	switch m.Action {
	case ActionPatch:
		c.DocumentName, c.Verdict, c.ExpectedSeconds = DocumentPatchBaseline, VerdictPatchState, ScanExpectedSeconds
		if m.RebootOption == "NoReboot" {
			c.Verdict = VerdictPatchStateNoReboot
		}
		c.Parameters = map[string][]string{"Operation": {"Scan"}, "RebootOption": {"NoReboot"}}
	default:
		script := m.RequiredCheck
		if script == nil {
			script = DefaultRebootCheck
		}
		c.DocumentName, c.Verdict = DocumentShellScript, VerdictOutput
		c.Parameters = shellParameters(script, c.TimeoutSeconds)
	}
	return c
}

// ActionIdleCheck is the Action of the idle drain's command.
const ActionIdleCheck = "idleCheck"

// IdleDrain is the idle drain as the plan carries it: the command that watches the
// instance, and the wait before it is sent.
type IdleDrain struct {
	Command            Command `json:"command"`
	PropagationSeconds int     `json:"propagationSeconds"`
}

// IdleDrainPlan turns a validated drain into the plan's idle drain, for groups whose
// longest deregistration delay is delay: the command runs the idle check every interval
// until it has passed idleChecks times in a row (it then exits 0), and SSM stops it when
// the delay ends (its executionTimeout), when draining ends anyway. A delay that leaves
// no time for the checks after the propagation wait gains nothing from an idle drain: it
// is waited out (nil), in a fleet as for one instance.
func IdleDrainPlan(d *Drain, delay int) *IdleDrain {
	if d == nil {
		return nil
	}
	propagation := orDefault(d.PropagationSeconds, DefaultPropagationSeconds)
	checks, every := orDefault(d.IdleChecks, DefaultIdleChecks), orDefault(d.IntervalSeconds, DefaultIdleIntervalSeconds)
	timeout := delay - propagation
	if timeout < checks*every {
		return nil
	}
	script := append([]string{"drainpipe_idle() {"}, d.IdleCheck...)
	script = append(script,
		"}",
		fmt.Sprintf("need=%d every=%d seen=0 checks=0", checks, every),
		"while :; do",
		`  checks=$((checks+1))`,
		`  if ( drainpipe_idle ) >/dev/null 2>&1; then seen=$((seen+1)); else seen=0; fi`,
		`  if [ "$seen" -ge "$need" ]; then echo "drainpipe: idle for $seen checks in a row ($checks checks)"; exit 0; fi`,
		`  sleep "$every"`,
		"done")
	return &IdleDrain{PropagationSeconds: propagation, Command: Command{Action: ActionIdleCheck, DocumentName: DocumentShellScript,
		Parameters: shellParameters(script, timeout), TimeoutSeconds: timeout, ExpectedSeconds: checks * every}}
}
