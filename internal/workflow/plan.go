package workflow

import (
	"fmt"
	"slices"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
)

// Registration is one registration of the instance: a target group and the exact port.
// Deregistration and registration always name both.
type Registration struct {
	TargetGroupARN string `json:"targetGroupArn"`
	Port           int32  `json:"port"`
}

// TargetGroup holds the settings of a group that drive drainpipe's waits and deadlines.
type TargetGroup struct {
	ARN                        string `json:"targetGroupArn"`
	Name                       string `json:"name"`
	DeregistrationDelaySeconds int    `json:"deregistrationDelaySeconds"`
	HealthCheckIntervalSeconds int    `json:"healthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int    `json:"healthCheckTimeoutSeconds"`
	HealthyThresholdCount      int    `json:"healthyThresholdCount"`
	// ThresholdCount and ThresholdPercent are the group's own target_group_health
	// settings, the higher of unhealthy_state_routing's and dns_failover's (0: off): below
	// that many healthy targets, or that percentage of its targets, ALB routes to the
	// unhealthy targets too (fails open) or takes the zone out of DNS.
	ThresholdCount   int `json:"thresholdCount,omitempty"`
	ThresholdPercent int `json:"thresholdPercent,omitempty"`
	// CrossZoneOff: the group turns cross-zone load balancing off
	// (load_balancing.cross_zone.enabled false), so each load balancer node routes only to
	// its own zone's targets, and the thresholds hold in each zone. An Application Load
	// Balancer's own setting is always on, so a group that does not turn it off has it.
	CrossZoneOff bool `json:"crossZoneOff,omitempty"`
}

// OwnFloor is the fewest healthy targets the group's own thresholds accept, for a group
// of that many targets.
func (g TargetGroup) OwnFloor(targets int) int {
	return max(g.ThresholdCount, (g.ThresholdPercent*targets+99)/100)
}

// Command is an SSM Run Command to send to the instance.
type Command struct {
	// Action is the maintenance action it implements, or "healthCheck".
	Action       string              `json:"action"`
	DocumentName string              `json:"documentName"`
	Parameters   map[string][]string `json:"parameters,omitempty"`
	// TimeoutSeconds bounds the whole command, from SendCommand to a final status.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Alarm, for a maintenance command, is the alarm SSM watches while it runs
	// (Alarms.CommandAlarm): in ALARM, SSM stops it.
	Alarm string `json:"alarm,omitempty"`
	// ExpectedSeconds is how long it usually takes: its first check waits that long
	// (see FirstPoll).
	ExpectedSeconds int `json:"expectedSeconds,omitempty"`
	// Verdict, for a required check, is how its verdict is read (VerdictOutput,
	// VerdictPatchState).
	Verdict string `json:"verdict,omitempty"`
}

// Waits are the pauses of the state machine's Wait states, in seconds.
type Waits struct {
	// DeregistrationDelaySeconds is the groups' longest deregistration delay.
	DeregistrationDelaySeconds int `json:"deregistrationDelaySeconds"`
	// FirstDrainSeconds: the first pause after deregistration: the delay (ALB reports a
	// target as draining until it ends, so checking earlier only costs transitions), or,
	// with an idle drain, its propagation wait.
	FirstDrainSeconds int `json:"firstDrainSeconds"`
	// HealthySeconds: the first pause after registration: one health check interval of
	// the slowest group. ALB's guide says a newly registered target must pass one health
	// check to be healthy; the deadline also covers the older threshold x interval rule.
	HealthySeconds int `json:"healthySeconds"`
	// PollSeconds: the longest pause between two later checks (see NextPoll).
	PollSeconds int `json:"pollSeconds"`
	// CapacitySeconds: the pause between two requests for capacity held by others:
	// PollSeconds, or longer so that a long wait asks at most MaxCapacityPolls times.
	CapacitySeconds int `json:"capacitySeconds"`
}

// MaxCapacityPolls bounds the requests for capacity a wait makes (see Waits).
const MaxCapacityPolls = 500

// Deadlines, derived or overridden, in seconds.
type Deadlines struct {
	DrainSeconds   int `json:"drainSeconds"`
	HealthySeconds int `json:"healthySeconds"`
}

// Margins added to derived deadlines: API and health-check jitter, not the normal path.
const (
	DrainMargin   = 60
	HealthyMargin = 60
)

// DeliverySeconds is SendCommand's TimeoutSeconds: how long the instance has to pick a
// command up before SSM gives up on it (the command then never starts). A command's
// deadline is this plus its own timeout.
const DeliverySeconds = 120

// The instance state machine's history, as Step Functions counts it: about
// historyFixedEvents on the way through, pollEvents per check of a polling loop (its Wait,
// Task and Choice), capacityPollEvents per check while waiting for capacity. HistoryBudget
// is what the plan may take of the 25,000 events an execution may record, leaving the rest
// to retries.
const (
	historyFixedEvents = 120
	pollEvents         = 9
	capacityPollEvents = 11
	HistoryBudget      = 20000
)

// HistoryEstimate is the most history events the execution records when every loop runs
// to its deadline, retries aside.
func (p Plan) HistoryEstimate() int {
	most := p.Waits.PollSeconds
	n := historyFixedEvents
	n += pollEvents * Checks(p.Waits.FirstDrainSeconds, p.Deadlines.DrainSeconds, most)
	for _, c := range append([]*Command{&p.Maintenance, p.RequiredCheck, p.HealthCheck}, p.Hooks.all()...) {
		if c != nil {
			n += pollEvents * Checks(FirstPoll(*c), DeliverySeconds+c.TimeoutSeconds, most)
		}
	}
	n += pollEvents * Checks(p.Waits.HealthySeconds, p.Deadlines.HealthySeconds, most)
	if p.CapacityWaitSeconds > 0 {
		n += capacityPollEvents * (p.CapacityWaitSeconds/max(p.Waits.CapacitySeconds, 1) + 1)
	}
	return n
}

// Checks is how many checks a loop makes at most when its first check is at first
// seconds, later ones pace by NextPoll bounded by most, and it ends at deadline: those of
// the ramp up to most, counted one by one, then one every most seconds.
func Checks(first, deadline, most int) int {
	most = max(most, MinPollSeconds)
	first = max(first, 0)
	n, at := 1, first
	for at < deadline {
		wait := NextPoll(time.Duration(at-first)*time.Second, most)
		if wait == most {
			return n + (deadline-at+most-1)/most
		}
		at += wait
		n++
	}
	return n
}

// Plan is what the first step resolves the input into; it is the state machine's state
// from then on, and every later step reads from it.
type Plan struct {
	InstanceID    string         `json:"instanceId"`
	Registrations []Registration `json:"registrations"`
	TargetGroups  []TargetGroup  `json:"targetGroups"`
	Maintenance   Command        `json:"maintenance"`
	// RequiredCheck, when set, runs before anything else is done and tells whether the
	// maintenance has anything to do (Maintenance.OnlyIfRequired).
	RequiredCheck *Command `json:"requiredCheck,omitempty"`
	HealthCheck   *Command `json:"healthCheck,omitempty"`
	// IdleDrain, when set, ends the drain once the instance is idle (Input.Drain).
	IdleDrain *IdleDrain `json:"idleDrain,omitempty"`
	// Hooks are the input's hooks as commands (see Hooks); the state machine runs each
	// one present.
	Hooks           *HookCommands `json:"hooks,omitempty"`
	Waits           Waits         `json:"waits"`
	Deadlines       Deadlines     `json:"deadlines"`
	AllowLastTarget bool          `json:"allowLastTarget"`
	// MinHealthyTargets: see Input.MinHealthyTargets.
	MinHealthyTargets map[string]int `json:"minHealthyTargets,omitempty"`
	// CapacityWaitSeconds: see Input.CapacityWaitSeconds.
	CapacityWaitSeconds int `json:"capacityWaitSeconds,omitempty"`
	// Alarms: see Input.Alarms.
	Alarms *Alarms `json:"alarms,omitempty"`
	DryRun bool    `json:"dryRun"`
}

// HookCommands are the hooks' commands, by the input's names.
type HookCommands struct {
	PreDrain        *Command `json:"preDrain,omitempty"`
	PostMaintenance *Command `json:"postMaintenance,omitempty"`
	PostReturn      *Command `json:"postReturn,omitempty"`
}

// all lists the hooks' commands present.
func (h *HookCommands) all() []*Command {
	if h == nil {
		return nil
	}
	var out []*Command
	for _, c := range []*Command{h.PreDrain, h.PostMaintenance, h.PostReturn} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// ReservationSeconds bounds how long the execution keeps its instance out: the drain,
// the commands and the return to healthy, each to its deadline, with a poll interval of
// slack for each. A reservation lasts this long (and a margin) if nobody releases it.
func (p Plan) ReservationSeconds() int {
	n := p.Deadlines.DrainSeconds + p.Maintenance.TimeoutSeconds + p.Deadlines.HealthySeconds + 4*p.Waits.PollSeconds
	if p.HealthCheck != nil {
		n += p.HealthCheck.TimeoutSeconds
	}
	// The hooks that run while the reservation is held: the post-return hook runs after
	// it is given back.
	if p.Hooks != nil {
		for _, c := range []*Command{p.Hooks.PreDrain, p.Hooks.PostMaintenance} {
			if c != nil {
				n += c.TimeoutSeconds + p.Waits.PollSeconds
			}
		}
	}
	return n
}

// MinHealthy returns the group's capacity floor and whether the input set one.
func (p Plan) MinHealthy(arn string) (int, bool) {
	n, ok := p.MinHealthyTargets[arn]
	return n, ok
}

// NewPlan combines a validated input with what the target groups say. token makes the
// reboot script's flag file unique to this execution.
func NewPlan(in Input, groups []TargetGroup, regs []Registration, token string) (Plan, error) {
	if len(regs) == 0 || len(groups) == 0 {
		return Plan{}, fmt.Errorf("plan for %s: no registrations", in.InstanceID)
	}
	p := Plan{
		InstanceID:          in.InstanceID,
		Registrations:       regs,
		TargetGroups:        groups,
		Maintenance:         MaintenanceCommand(in.Maintenance, token),
		RequiredCheck:       RequiredCheckCommand(in.Maintenance),
		AllowLastTarget:     in.AllowLastTarget,
		MinHealthyTargets:   in.MinHealthyTargets,
		CapacityWaitSeconds: in.CapacityWaitSeconds,
		Alarms:              in.Alarms,
		DryRun:              in.DryRun,
	}
	if in.Alarms != nil {
		p.Maintenance.Alarm = in.Alarms.CommandAlarm
	}
	for arn := range in.MinHealthyTargets {
		if !slices.ContainsFunc(groups, func(g TargetGroup) bool { return g.ARN == arn }) {
			return Plan{}, faults.New(faults.InvalidInput, `"minHealthyTargets" names %s, which is not one of the instance's target groups`, arn)
		}
	}
	if h := in.Hooks; h != nil {
		p.Hooks = &HookCommands{PreDrain: HookCommand("preDrain", h.PreDrain), PostMaintenance: HookCommand("postMaintenance", h.PostMaintenance),
			PostReturn: HookCommand("postReturn", h.PostReturn)}
	}
	if in.HealthCheck != nil {
		hc := HealthCheckCommand(*in.HealthCheck)
		p.HealthCheck = &hc
	}
	if err := CheckDeregistrationDelays(groups, in.AcceptRequestLoss); err != nil {
		return Plan{}, err
	}
	var maxDelay, maxInterval, maxToHealthy int
	for _, g := range groups {
		maxDelay = max(maxDelay, g.DeregistrationDelaySeconds)
		maxInterval = max(maxInterval, g.HealthCheckIntervalSeconds)
		maxToHealthy = max(maxToHealthy, (g.HealthyThresholdCount+1)*g.HealthCheckIntervalSeconds+g.HealthCheckTimeoutSeconds)
	}
	p.Waits = Waits{
		DeregistrationDelaySeconds: maxDelay,
		HealthySeconds:             maxInterval,
		PollSeconds:                orDefault(in.PollSeconds, DefaultPollSeconds),
	}
	p.IdleDrain = IdleDrainPlan(in.Drain, maxDelay)
	if p.IdleDrain != nil {
		p.Waits.FirstDrainSeconds = p.IdleDrain.PropagationSeconds
	} else {
		p.Waits.FirstDrainSeconds = maxDelay
	}
	p.Waits.CapacitySeconds = max(p.Waits.PollSeconds, (in.CapacityWaitSeconds+MaxCapacityPolls-1)/MaxCapacityPolls)
	p.Deadlines = Deadlines{
		DrainSeconds:   orDefault(in.Timeouts.DrainSeconds, maxDelay+DrainMargin),
		HealthySeconds: orDefault(in.Timeouts.HealthySeconds, maxToHealthy+HealthyMargin),
	}
	// ALB shows a deregistered target as draining for the whole delay, and a new target
	// cannot be healthy before its first check: shorter deadlines can never be met.
	if p.Deadlines.DrainSeconds < maxDelay {
		return Plan{}, faults.New(faults.InvalidInput, `"timeouts.drainSeconds" is %d, shorter than the deregistration delay of the target groups (%d s): draining cannot end before it; raise it or lower the groups' deregistration_delay.timeout_seconds`, p.Deadlines.DrainSeconds, maxDelay)
	}
	if p.Deadlines.HealthySeconds < maxInterval {
		return Plan{}, faults.New(faults.InvalidInput, `"timeouts.healthySeconds" is %d, shorter than one health check interval of the target groups (%d s): the instance cannot be healthy before it`, p.Deadlines.HealthySeconds, maxInterval)
	}
	// Step Functions ends an execution at 25,000 history events, whatever it holds out of
	// service: the loops must fit, polled at pollSeconds, up to their deadlines.
	if n := p.HistoryEstimate(); n > HistoryBudget {
		least := p.Waits.PollSeconds
		for q := p; q.HistoryEstimate() > HistoryBudget && least < MaxPollSeconds; {
			least++
			q.Waits.PollSeconds = least
		}
		return Plan{}, faults.New(faults.InvalidInput, `with "pollSeconds" %d, the timeouts and the capacity wait need up to %d checks' worth of history events (%d), over the %d this execution may use of Step Functions' 25,000: raise "pollSeconds" to at least %d, or lower the timeouts`,
			p.Waits.PollSeconds, (n-historyFixedEvents)/pollEvents, n, HistoryBudget, least)
	}
	return p, nil
}

// CheckDeregistrationDelays refuses a group whose deregistration delay is 0 unless the
// input accepts the loss: ALB then ends the drain at once and cuts every request in
// flight, so no maintenance there can be free of lost requests. A delay shorter than the
// service's longest request cuts that request too; only the operator knows that length.
func CheckDeregistrationDelays(groups []TargetGroup, acceptLoss bool) error {
	if acceptLoss {
		return nil
	}
	for _, g := range groups {
		if g.DeregistrationDelaySeconds == 0 {
			return faults.New(faults.DeregistrationDelayTooShort,
				`target group %s has deregistration_delay.timeout_seconds 0: the load balancer cuts every request in flight the moment the instance is deregistered. Set the attribute to at least your longest request (AWS's default is 300 s), or set "acceptRequestLoss": true to go ahead anyway`,
				GroupName(g.ARN))
		}
	}
	return nil
}

// orDefault returns v, or def when v is zero (unset).
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Deadline is a point in time after a start, as the RFC 3339 text the state carries.
func Deadline(start time.Time, seconds int) string {
	return start.Add(time.Duration(seconds) * time.Second).UTC().Format(time.RFC3339Nano)
}

// ParseTime reads a time the state carries, naming the field when it is malformed.
func ParseTime(field, value string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, value)
	}
	return t, nil
}
