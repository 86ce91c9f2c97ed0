// Package workflow owns the data that flows through the instance state machine: the
// execution input an operator pastes in the console, its validation, the plan the first
// step resolves it into, the SSM commands each maintenance action becomes, and the
// summary the execution ends with; and the rules every input and setting shares (target
// group ARNs, instance ids, the actions, target health states). It makes no AWS calls.
package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/drainpipe/drainpipe/internal/faults"
)

// Input is the execution input of the instance state machine.
type Input struct {
	// InstanceID is the EC2 instance to maintain (required).
	InstanceID string `json:"instanceId"`
	// TargetGroupARNs are the groups to take the instance out of. Empty means: discover
	// every instance-type target group in the account and region the instance is in.
	TargetGroupARNs []string `json:"targetGroupArns,omitempty"`
	// Maintenance is what to run on the instance while it is out of rotation (required).
	Maintenance Maintenance `json:"maintenance"`
	// HealthCheck, when set, runs on the instance after the maintenance and before it is
	// registered again; the maintenance fails if it fails.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Hooks, when set, run on the instance at three points of its maintenance.
	Hooks *Hooks `json:"hooks,omitempty"`
	// Drain, when set, ends the drain once the instance is idle instead of waiting out
	// the whole deregistration delay (see Drain).
	Drain *Drain `json:"drain,omitempty"`
	// Timeouts override the deadlines drainpipe derives from the target groups. Zero
	// fields mean "derive".
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// PollSeconds is the longest pause between two checks of a command, the drain or the
	// health (see NextPoll). Zero means DefaultPollSeconds.
	PollSeconds int `json:"pollSeconds,omitempty"`
	// AllowLastTarget allows taking out the last healthy target of a group (an outage
	// of that group while the maintenance runs). Off by default.
	AllowLastTarget bool `json:"allowLastTarget,omitempty"`
	// MinHealthyTargets, set by fleet rollouts, is for each listed group the number of
	// healthy targets that must stay in service. It replaces the rule that every target
	// of that group be healthy (siblings of a wave are out on purpose), before and after
	// the maintenance. Groups not listed keep that rule.
	MinHealthyTargets map[string]int `json:"minHealthyTargets,omitempty"`
	// CapacityWaitSeconds is how long to wait for capacity when another execution's
	// reservation keeps the instance from being taken out now. Zero: refuse at once.
	CapacityWaitSeconds int `json:"capacityWaitSeconds,omitempty"`
	// AcceptRequestLoss lets the maintenance go ahead in a target group whose
	// deregistration delay is 0, where the load balancer cuts every request in flight
	// the moment the instance is deregistered. Off by default: such a group is refused.
	AcceptRequestLoss bool `json:"acceptRequestLoss,omitempty"`
	// Alarms, when set, are CloudWatch alarms that must not be in ALARM: the instance is
	// not taken out while one is.
	Alarms *Alarms `json:"alarms,omitempty"`
	// DryRun runs every check and reports what would be done, changing nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// Alarms names CloudWatch alarms (metric or composite) by name, by prefix, or both.
type Alarms struct {
	Names      []string `json:"names,omitempty"`
	NamePrefix string   `json:"namePrefix,omitempty"`
	// CommandAlarm is one alarm SSM itself watches while the maintenance command runs
	// (SendCommand's AlarmConfiguration takes exactly one): in ALARM, SSM stops the
	// command. It gates the start like the others.
	CommandAlarm string `json:"commandAlarm,omitempty"`
}

// Gated are the alarms named one by one: Names, and CommandAlarm when it is not among
// them.
func (a Alarms) Gated() []string {
	if a.CommandAlarm == "" || slices.Contains(a.Names, a.CommandAlarm) {
		return a.Names
	}
	return append(slices.Clone(a.Names), a.CommandAlarm)
}

// Limits of Alarms, CloudWatch's own: an alarm name is 1 to 255 characters, and
// DescribeAlarms takes at most 100 names a call (drainpipe makes one call).
const (
	MaxAlarmNames      = 100
	MaxAlarmNameLength = 255
)

// AlarmsProblems says what is wrong with alarms named in an input (nil: none).
func AlarmsProblems(a *Alarms) []string {
	if a == nil {
		return nil
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case a.Names != nil && len(a.Names) == 0:
		add(`"alarms.names" is an empty list: name the alarms, or leave the field out`)
	case len(a.Names) == 0 && a.NamePrefix == "" && a.CommandAlarm == "":
		add(`"alarms" names no alarm: give "names", "namePrefix", "commandAlarm", or leave it out`)
	}
	if a.CommandAlarm != "" && (strings.TrimSpace(a.CommandAlarm) == "" || len([]rune(a.CommandAlarm)) > MaxAlarmNameLength) {
		add(`"alarms.commandAlarm" must be an alarm's name, 1 to %d characters and not blank`, MaxAlarmNameLength)
	}
	if n := len(a.Gated()); n > MaxAlarmNames {
		add(`"alarms.names" and "alarms.commandAlarm" name %d alarms; at most %d (a composite alarm can combine more)`, n, MaxAlarmNames)
	}
	seen := map[string]bool{}
	for i, n := range a.Names {
		switch {
		case n == "" || len([]rune(n)) > MaxAlarmNameLength:
			add(`"alarms.names[%d]" is %d characters: an alarm name is 1 to %d`, i, len([]rune(n)), MaxAlarmNameLength)
		case seen[n]:
			add(`"alarms.names[%d]" %q is listed twice`, i, n)
		}
		seen[n] = true
	}
	if len([]rune(a.NamePrefix)) > MaxAlarmNameLength {
		add(`"alarms.namePrefix" is longer than %d characters`, MaxAlarmNameLength)
	}
	return problems
}

// Maintenance selects a maintenance action and its parameters.
type Maintenance struct {
	// Action is one of reboot, patch, commands, document.
	Action string `json:"action"`
	// Commands are the shell commands of the "commands" action (bash, run as root by the
	// SSM agent; exit 194 reboots the instance and runs them again from the start).
	Commands []string `json:"commands,omitempty"`
	// Operation is AWS-RunPatchBaseline's Operation for "patch": Install (default) or Scan.
	Operation string `json:"operation,omitempty"`
	// RebootOption is AWS-RunPatchBaseline's RebootOption for "patch": RebootIfNeeded
	// (default) or NoReboot.
	RebootOption string `json:"rebootOption,omitempty"`
	// PatchHooks, for "patch", runs AWS-RunPatchBaselineWithHooks instead of
	// AWS-RunPatchBaseline, with these SSM documents as its lifecycle hooks.
	PatchHooks *PatchHooks `json:"patchHooks,omitempty"`
	// DocumentName is the SSM document of the "document" action.
	DocumentName string `json:"documentName,omitempty"`
	// Parameters are the document's parameters for the "document" action.
	Parameters map[string][]string `json:"parameters,omitempty"`
	// TimeoutSeconds bounds the maintenance command. Zero means the action's default
	// (DefaultTimeouts); for shell scripts it is also SSM's executionTimeout.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
	// ExpectedSeconds is how long the maintenance usually takes: the first check of the
	// command waits that long, later ones back off from it. Zero means the action's
	// default (DefaultExpectedSeconds). Longer than the timeout counts as the timeout.
	ExpectedSeconds int `json:"expectedSeconds,omitempty"`
	// OnlyIfRequired checks first, while the instance still serves, whether the
	// maintenance has anything to do, and leaves the instance alone (outcome
	// "nothing-to-do": no reservation, no drain) when it has not. For patch (default true
	// with operation Install) the check is an AWS-RunPatchBaseline Scan and the patch
	// state it reports; for reboot (default false) it is RequiredCheck, or
	// DefaultRebootCheck. Other actions cannot tell.
	OnlyIfRequired *bool `json:"onlyIfRequired,omitempty"`
	// RequiredCheck, for reboot with onlyIfRequired, replaces DefaultRebootCheck: shell
	// commands whose last line of output is "required" or "not-required".
	RequiredCheck []string `json:"requiredCheck,omitempty"`
}

// Checked says whether the maintenance is checked for anything to do before it runs
// (OnlyIfRequired, with its per-action default).
func (m Maintenance) Checked() bool {
	switch {
	case m.OnlyIfRequired != nil:
		return *m.OnlyIfRequired
	case m.Action == ActionPatch:
		return m.Operation != "Scan"
	}
	return false
}

// PatchHooks are AWS-RunPatchBaselineWithHooks' lifecycle hooks, each an SSM document
// run on the instance: PreInstall before the installation, PostInstall after it and
// before the reboot, OnExit after the reboot. An unset one is AWS-Noop, the document's
// own default.
type PatchHooks struct {
	PreInstall  string `json:"preInstall,omitempty"`
	PostInstall string `json:"postInstall,omitempty"`
	OnExit      string `json:"onExit,omitempty"`
}

// HealthCheck is a set of shell commands that must exit 0 on the instance after the
// maintenance, for example ["curl -fsS http://localhost:8080/"].
type HealthCheck struct {
	Commands []string `json:"commands"`
	// TimeoutSeconds bounds the health check. Zero means DefaultHealthCheckSeconds.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// Hooks are shell commands run on the instance at three points, each with its own
// timeout (the health check's shape; 0 means DefaultHookSeconds):
//   - PreDrain, once the capacity is reserved and before anything is taken out, while the
//     instance still serves: its failure refuses (HookFailed) with nothing taken out;
//   - PostMaintenance, after the maintenance and before the health check: its failure
//     puts the instance back, as a failed maintenance does;
//   - PostReturn, once the instance is back in service and its reservation given back
//     (to warm caches, say): its failure is reported, the execution failing with
//     HookFailed while the instance stays in service.
type Hooks struct {
	PreDrain        *HealthCheck `json:"preDrain,omitempty"`
	PostMaintenance *HealthCheck `json:"postMaintenance,omitempty"`
	PostReturn      *HealthCheck `json:"postReturn,omitempty"`
}

// named lists the hooks set, with their input names.
func (h *Hooks) named() []namedHook {
	if h == nil {
		return nil
	}
	var out []namedHook
	for _, n := range []namedHook{{"preDrain", h.PreDrain}, {"postMaintenance", h.PostMaintenance}, {"postReturn", h.PostReturn}} {
		if n.hook != nil {
			out = append(out, n)
		}
	}
	return out
}

// Drain is the idle drain: after the deregistration and a propagation wait, drainpipe
// runs IdleCheck on the instance through SSM every IntervalSeconds, and the drain ends
// once it has passed IdleChecks times in a row, or when the deregistration delay ends,
// whichever comes first. It assumes what the idle check says: that the instance has no
// request from the load balancer in flight when it exits 0. The load balancer still shows
// the targets draining until the delay ends; it closes their connections then, and the
// maintenance (a reboot, say) has cut them before that. Not for Auto Scaling instances
// (they leave Standby only once their drain has ended; drainpipe waits the delay there).
type Drain struct {
	// IdleCheck: shell commands that exit 0 when the instance has no request in flight,
	// for example an application's in-flight gauge read with curl, nginx's stub_status
	// or Apache's server-status. Any other exit means busy.
	IdleCheck []string `json:"idleCheck"`
	// PropagationSeconds is how long after DeregisterTargets the load balancer may still
	// send new requests (its nodes learn of the deregistration one by one): no idle
	// check counts before it. Zero means DefaultPropagationSeconds.
	PropagationSeconds int `json:"propagationSeconds,omitempty"`
	// IdleChecks is how many passes in a row make the instance idle. Zero means
	// DefaultIdleChecks.
	IdleChecks int `json:"idleChecks,omitempty"`
	// IntervalSeconds is the pause between two idle checks. Zero means
	// DefaultIdleIntervalSeconds.
	IntervalSeconds int `json:"intervalSeconds,omitempty"`
}

// Defaults and bounds of Drain. AWS does not document how long the load balancer's
// nodes take to stop sending new requests to a deregistered target; 15 s is well past
// the few seconds observed, and small against the default 300 s delay.
const (
	DefaultPropagationSeconds  = 15
	DefaultIdleChecks          = 3
	DefaultIdleIntervalSeconds = 1
	MaxIdleChecks              = 100
	MaxIdleIntervalSeconds     = 60
	// MaxDeregistrationDelay is the longest deregistration delay a target group takes.
	MaxDeregistrationDelay = 3600
)

// DrainProblems says what is wrong with an input's drain (nil: none).
func DrainProblems(d *Drain) []string {
	if d == nil {
		return nil
	}
	problems := commandProblems("drain.idleCheck", d.IdleCheck)
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.PropagationSeconds < 0 || d.PropagationSeconds > MaxDeregistrationDelay {
		add(`"drain.propagationSeconds" must be between 1 and %d (0 or absent for the default %d), got %d`, MaxDeregistrationDelay, DefaultPropagationSeconds, d.PropagationSeconds)
	}
	if d.IdleChecks < 0 || d.IdleChecks > MaxIdleChecks {
		add(`"drain.idleChecks" must be between 1 and %d (0 or absent for the default %d), got %d`, MaxIdleChecks, DefaultIdleChecks, d.IdleChecks)
	}
	if d.IntervalSeconds < 0 || d.IntervalSeconds > MaxIdleIntervalSeconds {
		add(`"drain.intervalSeconds" must be between 1 and %d (0 or absent for the default %d), got %d`, MaxIdleIntervalSeconds, DefaultIdleIntervalSeconds, d.IntervalSeconds)
	}
	return problems
}

type namedHook struct {
	name string
	hook *HealthCheck
}

// Timeouts are deadline overrides, in seconds. Zero means derived from the target groups.
type Timeouts struct {
	// DrainSeconds: from deregistration until every registration is unused. Derived:
	// the longest deregistration_delay.timeout_seconds of the groups plus DrainMargin.
	DrainSeconds int `json:"drainSeconds,omitempty"`
	// HealthySeconds: from registration until the instance and its groups are healthy.
	// Derived: (healthy threshold + 1) x interval + timeout of the slowest group, plus
	// HealthyMargin.
	HealthySeconds int `json:"healthySeconds,omitempty"`
}

// The maintenance actions.
const (
	ActionReboot   = "reboot"
	ActionPatch    = "patch"
	ActionCommands = "commands"
	ActionDocument = "document"
)

// Actions lists the maintenance actions: the one list the instance input, the fleet
// input and the deployment's settings check against.
var Actions = []string{ActionReboot, ActionPatch, ActionCommands, ActionDocument}

// IsInstanceID says whether s is an EC2 instance id.
func IsInstanceID(s string) bool { return instanceIDPattern.MatchString(s) }

// IsTargetGroupARN says whether s is an ELBv2 target group ARN, in any partition.
func IsTargetGroupARN(s string) bool { return targetGroupARNPattern.MatchString(s) }

// Defaults and bounds of the input.
const (
	DefaultPollSeconds        = 10
	MaxPollSeconds            = 300
	DefaultHealthCheckSeconds = 300
	DefaultHookSeconds        = 300
	// MaxTimeoutSeconds is SSM's own upper bound for executionTimeout (48 hours).
	MaxTimeoutSeconds = 172800
	MaxCommands       = 100
	// MaxInputBytes is Step Functions' limit on an execution's input (256 KiB): a larger
	// one cannot start, or, for a fleet's child, fails its Map iteration uncaught.
	MaxInputBytes = 256 * 1024
	// MaxScriptBytes bounds the commands and document parameters of one input together.
	// The plan carries them through every state of the execution and a fleet stores them
	// in its DynamoDB record (400 KB an item), both far below their limits at this size;
	// a longer script belongs in an SSM document or on the instance.
	MaxScriptBytes = 32 * 1024
)

// DefaultExpectedSeconds are the maintenance's usual durations per action, in seconds:
// the first check of the command waits that long. A reboot of an EC2 instance, until its
// SSM agent has run the script again, takes about a minute; so does a small patch
// installation; commands and documents are unknown, so they are checked as soon as SSM
// shows them (InvisibleSeconds). Set maintenance.expectedSeconds to your fleet's own: a
// guess too short costs checks (transitions), one too long costs time out of service.
var DefaultExpectedSeconds = map[string]int{
	ActionReboot: 60,
	ActionPatch:  60,
}

// DefaultTimeouts are the default maintenance timeouts per action, in seconds.
var DefaultTimeouts = map[string]int{
	ActionReboot:   900,
	ActionPatch:    7200,
	ActionCommands: 3600,
	ActionDocument: 3600,
}

var (
	instanceIDPattern     = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	targetGroupARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
	documentNamePattern   = regexp.MustCompile(`^([a-zA-Z0-9_\-.]{3,128}|arn:aws(-[a-z]+)*:ssm:[a-z0-9-]+:[0-9]{12}:document/[a-zA-Z0-9_\-.]{3,128})$`)
	parameterNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,128}$`)
)

// DecodeInput parses and validates an execution input strictly: unknown fields, trailing
// data and every invalid value are an InvalidInput error whose message says what to fix.
func DecodeInput(raw []byte) (Input, error) {
	var in Input
	if err := DecodeStrict(raw, &in, "input"); err != nil {
		return Input{}, err
	}
	if err := in.Validate(); err != nil {
		return Input{}, err
	}
	return in, nil
}

// DecodeStrict decodes one JSON object into v, refusing unknown fields and trailing data,
// with an InvalidInput error that names the field at fault. what names the input in it.
func DecodeStrict(raw []byte, v any, what string) error {
	if len(raw) > MaxInputBytes {
		return faults.New(faults.InvalidInput, "%s is %d bytes; Step Functions takes at most %d (256 KiB) as an execution's input", what, len(raw), MaxInputBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return faults.New(faults.InvalidInput, "%s is not valid: %s", what, describeJSONError(err, what, reflect.TypeOf(v)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return faults.New(faults.InvalidInput, "%s has data after the JSON object", what)
	}
	var doc any
	_ = json.Unmarshal(raw, &doc) // it decoded above
	if problem := exactFields(doc, reflect.TypeOf(v), ""); problem != "" {
		return faults.New(faults.InvalidInput, "%s is not valid: %s", what, problem)
	}
	return nil
}

// exactFields finds what encoding/json lets through and the input's schema does not: a
// key that names a field only when case is ignored ("InstanceID"), and null or "" for a
// field, which it would read as absent. It returns the first such problem, or "".
func exactFields(doc any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return ""
		}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			at := strings.TrimPrefix(path+"."+key, ".")
			var field *reflect.StructField
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == key {
					field = &f
				} else if field == nil && strings.EqualFold(name, key) {
					return fmt.Sprintf("unknown field %q: field names are case-sensitive, this one is %q (see the README)", at, strings.TrimPrefix(path+"."+name, "."))
				}
			}
			if field == nil {
				continue // DisallowUnknownFields has refused it already
			}
			if obj[key] == nil {
				return fmt.Sprintf("%q is null: give it a value, or leave the field out", at)
			}
			if obj[key] == "" && field.Type.Kind() == reflect.String {
				return fmt.Sprintf("%q is empty: give it a value, or leave the field out", at)
			}
			if problem := exactFields(obj[key], field.Type, at); problem != "" {
				return problem
			}
		}
	case reflect.Slice:
		list, _ := doc.([]any)
		for i, item := range list {
			if problem := exactFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); problem != "" {
				return problem
			}
		}
	case reflect.Map:
		obj, _ := doc.(map[string]any)
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			if obj[key] == nil {
				return fmt.Sprintf("%q has a null value for %q", path, key)
			}
			if problem := exactFields(obj[key], t.Elem(), path+"."+key); problem != "" {
				return problem
			}
		}
	}
	return ""
}

func describeJSONError(err error, what string, into reflect.Type) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := `"` + typeErr.Field + `"`
		if typeErr.Field == "" {
			field = "the " + what
		}
		// encoding/json names a map by its own field, though the value at fault is one of
		// the map's: say so.
		if t := fieldType(into, typeErr.Field); t != nil && t.Kind() == reflect.Map && t.Elem() == typeErr.Type {
			return fmt.Sprintf("each value in %s must be %s, but one is %s", field, describeType(typeErr.Type), describeValue(typeErr.Value))
		}
		return fmt.Sprintf("%s must be %s, but it is %s", field, describeType(typeErr.Type), describeValue(typeErr.Value))
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("it is not JSON: %s (at byte %d)", strings.TrimPrefix(syntaxErr.Error(), "json: "), syntaxErr.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "it is empty or cut short: give one JSON object"
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + rest + " (see the README for the " + what + " fields)"
	}
	return msg
}

// fieldType is the type of the field at a dotted JSON path in t, or nil.
func fieldType(t reflect.Type, path string) reflect.Type {
	for name := range strings.SplitSeq(path, ".") {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return nil
		}
		var next reflect.Type
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
				next = f.Type
			}
		}
		t = next
	}
	return t
}

// describeType names a Go type the way the input's reader knows JSON.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + plural(t.Elem())
	case reflect.Map:
		return "an object whose values are " + plural(t.Elem())
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

func plural(t reflect.Type) string {
	switch d := describeType(t); {
	case strings.HasPrefix(d, "an array of "), strings.HasPrefix(d, "an object whose"):
		return strings.TrimPrefix(strings.TrimPrefix(d, "a "), "an ") // "array of strings"
	case d == "true or false":
		return "true or false values"
	default:
		return strings.TrimPrefix(strings.TrimPrefix(d, "a "), "an ") + "s"
	}
}

// describeValue names what encoding/json found: "array", "number 1.5", "string".
func describeValue(v string) string {
	kind, literal, _ := strings.Cut(v, " ")
	article := map[string]string{"array": "an array", "object": "an object", "string": "a string", "number": "a number", "bool": "true or false"}[kind]
	switch {
	case article == "":
		return v
	case literal != "":
		return article + " (" + literal + ")"
	}
	return article
}

// Validate checks every field and returns the first problem as an InvalidInput error.
func (in Input) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case in.InstanceID == "":
		add(`"instanceId" is required, for example "i-0123456789abcdef0"`)
	case !instanceIDPattern.MatchString(in.InstanceID):
		add(`"instanceId" %q is not an EC2 instance id (i- followed by 8 or 17 lowercase hex digits)`, in.InstanceID)
	}
	if in.TargetGroupARNs != nil && len(in.TargetGroupARNs) == 0 {
		add(`"targetGroupArns" is an empty list: name the groups, or leave the field out to take the instance out of every group it is registered in`)
	}
	seen := map[string]bool{}
	for i, arn := range in.TargetGroupARNs {
		switch {
		case !targetGroupARNPattern.MatchString(arn):
			add(`"targetGroupArns[%d]" %q is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)`, i, arn)
		case seen[arn]:
			add(`"targetGroupArns[%d]" %q is listed twice`, i, arn)
		}
		seen[arn] = true
	}
	problems = append(problems, in.Maintenance.problems()...)
	problems = append(problems, AlarmsProblems(in.Alarms)...)
	problems = append(problems, DrainProblems(in.Drain)...)
	if hc := in.HealthCheck; hc != nil {
		problems = append(problems, commandProblems("healthCheck.commands", hc.Commands)...)
		if hc.TimeoutSeconds < 0 || hc.TimeoutSeconds > MaxTimeoutSeconds {
			add(`"healthCheck.timeoutSeconds" must be between 1 and %d (0 or absent for the default %d), got %d`, MaxTimeoutSeconds, DefaultHealthCheckSeconds, hc.TimeoutSeconds)
		}
	}
	for _, h := range in.Hooks.named() {
		problems = append(problems, commandProblems("hooks."+h.name+".commands", h.hook.Commands)...)
		if h.hook.TimeoutSeconds < 0 || h.hook.TimeoutSeconds > MaxTimeoutSeconds {
			add(`"hooks.%s.timeoutSeconds" must be between 1 and %d (0 or absent for the default %d), got %d`, h.name, MaxTimeoutSeconds, DefaultHookSeconds, h.hook.TimeoutSeconds)
		}
	}
	if in.Hooks != nil && len(in.Hooks.named()) == 0 {
		add(`"hooks" names no hook: give "preDrain", "postMaintenance" or "postReturn", or leave it out`)
	}
	for name, v := range map[string]int{"timeouts.drainSeconds": in.Timeouts.DrainSeconds, "timeouts.healthySeconds": in.Timeouts.HealthySeconds} {
		if v < 0 || v > MaxTimeoutSeconds {
			add(`%q must be between 1 and %d seconds (0 or absent to derive it from the target group), got %d`, name, MaxTimeoutSeconds, v)
		}
	}
	for arn, n := range in.MinHealthyTargets {
		if !targetGroupARNPattern.MatchString(arn) || n < 0 {
			add(`"minHealthyTargets" needs target group ARNs and counts of 0 or more, got %q: %d`, arn, n)
		}
	}
	if in.CapacityWaitSeconds < 0 || in.CapacityWaitSeconds > MaxTimeoutSeconds {
		add(`"capacityWaitSeconds" must be between 0 and %d, got %d`, MaxTimeoutSeconds, in.CapacityWaitSeconds)
	}
	scripts := []*HealthCheck{in.HealthCheck}
	if in.Drain != nil {
		scripts = append(scripts, &HealthCheck{Commands: in.Drain.IdleCheck})
	}
	for _, h := range in.Hooks.named() {
		scripts = append(scripts, h.hook)
	}
	if n := ScriptBytes(in.Maintenance, scripts...); n > MaxScriptBytes {
		add(`"maintenance", "healthCheck", "hooks" and "drain" carry %d bytes of commands and parameters, over drainpipe's %d: put a long script in an SSM document (action "document") or on the instance, and call it`, n, MaxScriptBytes)
	}
	if in.PollSeconds < 0 || in.PollSeconds > MaxPollSeconds {
		add(`"pollSeconds" must be between 1 and %d (0 or absent for the default %d), got %d`, MaxPollSeconds, DefaultPollSeconds, in.PollSeconds)
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems) // some come from map iteration; a stable message reads and tests better
	return faults.New(faults.InvalidInput, "%s", strings.Join(problems, "; "))
}

func (m Maintenance) problems() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	only := func(action string, fields map[string]bool) {
		for name, set := range fields {
			if set {
				add(`"maintenance.%s" is not used by action %q: remove it`, name, action)
			}
		}
	}
	switch m.Action {
	case ActionReboot:
		if m.RequiredCheck != nil {
			problems = append(problems, commandProblems("maintenance.requiredCheck", m.RequiredCheck)...)
			if !m.Checked() {
				add(`"maintenance.requiredCheck" runs only with "onlyIfRequired": true`)
			}
		}
		only(m.Action, map[string]bool{"commands": m.Commands != nil, "operation": m.Operation != "", "rebootOption": m.RebootOption != "", "documentName": m.DocumentName != "", "parameters": m.Parameters != nil, "patchHooks": m.PatchHooks != nil})
	case ActionPatch:
		if m.Operation != "" && m.Operation != "Install" && m.Operation != "Scan" {
			add(`"maintenance.operation" must be "Install" or "Scan", got %q`, m.Operation)
		}
		if m.RebootOption != "" && m.RebootOption != "RebootIfNeeded" && m.RebootOption != "NoReboot" {
			add(`"maintenance.rebootOption" must be "RebootIfNeeded" or "NoReboot", got %q`, m.RebootOption)
		}
		only(m.Action, map[string]bool{"commands": m.Commands != nil, "documentName": m.DocumentName != "", "parameters": m.Parameters != nil, "requiredCheck": m.RequiredCheck != nil})
		if m.Operation == "Scan" && m.Checked() {
			add(`"maintenance.onlyIfRequired" checks what an Install would do; operation "Scan" installs nothing: leave it out`)
		}
		if h := m.PatchHooks; h != nil {
			if h.PreInstall == "" && h.PostInstall == "" && h.OnExit == "" {
				add(`"maintenance.patchHooks" names no hook: give "preInstall", "postInstall" or "onExit", or leave it out`)
			}
			if m.Operation == "Scan" {
				add(`"maintenance.patchHooks" run only with operation "Install" (AWS-RunPatchBaselineWithHooks runs no hook on a Scan)`)
			}
			for name, doc := range map[string]string{"preInstall": h.PreInstall, "postInstall": h.PostInstall, "onExit": h.OnExit} {
				if doc != "" && !documentNamePattern.MatchString(doc) {
					add(`"maintenance.patchHooks.%s" must name an SSM document (3-128 characters of letters, digits, _ - .), got %q`, name, doc)
				}
			}
		}
	case ActionCommands:
		problems = append(problems, commandProblems("maintenance.commands", m.Commands)...)
		only(m.Action, map[string]bool{"operation": m.Operation != "", "rebootOption": m.RebootOption != "", "documentName": m.DocumentName != "", "parameters": m.Parameters != nil, "patchHooks": m.PatchHooks != nil,
			"onlyIfRequired": m.OnlyIfRequired != nil, "requiredCheck": m.RequiredCheck != nil})
	case ActionDocument:
		if !documentNamePattern.MatchString(m.DocumentName) {
			add(`"maintenance.documentName" must name an SSM document (3-128 characters of letters, digits, _ - .), got %q`, m.DocumentName)
		}
		for name := range m.Parameters {
			if !parameterNamePattern.MatchString(name) {
				add(`"maintenance.parameters" has an invalid parameter name %q`, name)
			}
		}
		only(m.Action, map[string]bool{"commands": m.Commands != nil, "operation": m.Operation != "", "rebootOption": m.RebootOption != "", "patchHooks": m.PatchHooks != nil,
			"onlyIfRequired": m.OnlyIfRequired != nil, "requiredCheck": m.RequiredCheck != nil})
	case "":
		add(`"maintenance.action" is required: one of %s`, strings.Join(Actions, ", "))
	default:
		add(`"maintenance.action" %q is unknown: use one of %s`, m.Action, strings.Join(Actions, ", "))
	}
	if m.TimeoutSeconds < 0 || m.TimeoutSeconds > MaxTimeoutSeconds {
		add(`"maintenance.timeoutSeconds" must be between 1 and %d (0 or absent for the action's default), got %d`, MaxTimeoutSeconds, m.TimeoutSeconds)
	}
	if m.ExpectedSeconds < 0 || m.ExpectedSeconds > MaxTimeoutSeconds {
		add(`"maintenance.expectedSeconds" must be between 1 and %d (0 or absent for the action's default), got %d`, MaxTimeoutSeconds, m.ExpectedSeconds)
	}
	return problems
}

// ScriptBytes is the size of what an input asks SSM to run: the commands and document
// parameters of the maintenance, and the commands of the health check and the hooks.
func ScriptBytes(m Maintenance, scripts ...*HealthCheck) int {
	n := 0
	for _, c := range append(slices.Clone(m.Commands), m.RequiredCheck...) {
		n += len(c)
	}
	for k, vs := range m.Parameters {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	for _, s := range scripts {
		if s != nil {
			for _, c := range s.Commands {
				n += len(c)
			}
		}
	}
	return n
}

func commandProblems(field string, commands []string) []string {
	if len(commands) == 0 {
		return []string{fmt.Sprintf(`%q needs at least one shell command`, field)}
	}
	if len(commands) > MaxCommands {
		return []string{fmt.Sprintf(`%q has %d commands; at most %d`, field, len(commands), MaxCommands)}
	}
	for i, c := range commands {
		if strings.Trim(c, " \t\n\f\r") == "" { // as the schema's pattern \S: some character other than ASCII white space
			return []string{fmt.Sprintf(`"%s[%d]" is empty`, field, i)}
		}
	}
	return nil
}
