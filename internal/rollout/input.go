package rollout

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Input is the execution input of the fleet state machine.
type Input struct {
	// TargetGroupARNs are the groups whose instances are maintained (required).
	TargetGroupARNs []string `json:"targetGroupArns"`
	// InstanceIDs, when set, narrows the rollout to these instances.
	InstanceIDs []string `json:"instanceIds,omitempty"`
	// Tags, when set, narrows the rollout to instances carrying, for every key, one of
	// the values.
	Tags map[string][]string `json:"tags,omitempty"`
	// Maintenance, HealthCheck, Hooks, Drain, Timeouts and PollSeconds are passed to every
	// instance's execution (see the instance state machine's input).
	Maintenance workflow.Maintenance  `json:"maintenance"`
	HealthCheck *workflow.HealthCheck `json:"healthCheck,omitempty"`
	Hooks       *workflow.Hooks       `json:"hooks,omitempty"`
	Drain       *workflow.Drain       `json:"drain,omitempty"`
	Timeouts    workflow.Timeouts     `json:"timeouts,omitzero"`
	PollSeconds int                   `json:"pollSeconds,omitempty"`
	// MaxConcurrency bounds the instances out of service at once (MaxWaveSize at most).
	// Zero means 1.
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
	// MinHealthyPercent of each group's healthy targets stay in service, rounded up.
	// Absent means DefaultMinHealthyPercent.
	MinHealthyPercent *int `json:"minHealthyPercent,omitempty"`
	// MaxErrors failed instances are tolerated; one more stops the rollout after its wave.
	MaxErrors int `json:"maxErrors,omitempty"`
	// ZoneByZone: no wave mixes Availability Zones, and the zones go one after the other,
	// in name order.
	ZoneByZone bool `json:"zoneByZone,omitempty"`
	// AllowLastTarget and AllowBelowBudget relax the capacity rules (see Budget).
	AllowLastTarget  bool `json:"allowLastTarget,omitempty"`
	AllowBelowBudget bool `json:"allowBelowBudget,omitempty"`
	// AcceptRequestLoss lets the rollout go ahead in groups whose deregistration delay is
	// 0 (see the instance input's field of the same name).
	AcceptRequestLoss bool `json:"acceptRequestLoss,omitempty"`
	// Alarms, when set, gate every wave: no wave starts while one of them is in ALARM, and
	// each instance's execution checks them too.
	Alarms *workflow.Alarms `json:"alarms,omitempty"`
	// BakeSeconds is the wait after each wave before the next; an alarm that went into
	// ALARM during it, even one back to OK since, stops the rollout (AlarmActive).
	BakeSeconds int `json:"bakeSeconds,omitempty"`
	// NotAfter (RFC 3339) is the end of the maintenance window: no wave starts after it.
	NotAfter string `json:"notAfter,omitempty"`
	// SkipIfMaintainedWithin ("7d", "12h", "90m") skips instances whose last successful
	// maintenance, recorded in the catalog.MaintainedTag tag, is that recent.
	SkipIfMaintainedWithin string `json:"skipIfMaintainedWithin,omitempty"`
	// LeaseSeconds is how long the rollout's lock on its groups lasts if it is never
	// released (a crashed run). Zero means DefaultLeaseSeconds.
	LeaseSeconds int `json:"leaseSeconds,omitempty"`
	// CapacityWaitSeconds is how long each instance's execution waits for capacity that
	// another execution (a console one, say) holds in its groups. Absent means
	// DefaultCapacityWaitSeconds; 0 refuses at once, and the instance counts as failed.
	CapacityWaitSeconds *int `json:"capacityWaitSeconds,omitempty"`
	// DryRun plans and reports, changing nothing. (Always written: the state machine's
	// Choice reads it.)
	DryRun bool `json:"dryRun"`
}

// Defaults of the fleet input.
const (
	DefaultMinHealthyPercent = 75
	DefaultLeaseSeconds      = 86400
	// MaxLeaseSeconds bounds a crashed run's lock: a week.
	MaxLeaseSeconds = 604800
	// DefaultCapacityWaitSeconds: an hour for capacity held by other executions.
	DefaultCapacityWaitSeconds = 3600
	// MaxBakeSeconds bounds the bake after each wave: a day.
	MaxBakeSeconds = 86400
)

var (
	durationPattern = regexp.MustCompile(`^([0-9]{1,5})(d|h|m)$`)
)

// DecodeInput parses and validates a fleet input strictly.
func DecodeInput(raw []byte) (Input, error) {
	var in Input
	if err := workflow.DecodeStrict(raw, &in, "fleet input"); err != nil {
		return Input{}, err
	}
	return in, in.Validate()
}

// Validate checks every field; maintenance, health check, timeouts and poll are checked
// as the instance state machine checks them.
func (in Input) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(in.TargetGroupARNs) == 0 {
		add(`"targetGroupArns" is required: the groups whose instances to maintain`)
	}
	seen := map[string]bool{}
	for i, arn := range in.TargetGroupARNs {
		switch {
		case !workflow.IsTargetGroupARN(arn):
			add(`"targetGroupArns[%d]" %q is not a target group ARN`, i, arn)
		case seen[arn]:
			add(`"targetGroupArns[%d]" %q is listed twice`, i, arn)
		}
		seen[arn] = true
	}
	if in.InstanceIDs != nil && len(in.InstanceIDs) == 0 {
		add(`"instanceIds" is an empty list: name the instances, or leave the field out to maintain every instance of the groups`)
	}
	for i, id := range in.InstanceIDs {
		switch {
		case !workflow.IsInstanceID(id):
			add(`"instanceIds[%d]" %q is not an EC2 instance id`, i, id)
		case seen[id]:
			add(`"instanceIds[%d]" %q is listed twice`, i, id)
		}
		seen[id] = true
	}
	if in.Tags != nil && len(in.Tags) == 0 {
		add(`"tags" is an empty object: give tag keys and their values, or leave the field out`)
	}
	for k, vs := range in.Tags {
		if k == "" || len(vs) == 0 || slices.Contains(vs, "") {
			add(`"tags" needs a key and at least one non-empty value, got %q: %q`, k, vs)
		}
	}
	if in.MaxConcurrency < 0 || in.MaxConcurrency > MaxWaveSize {
		add(`"maxConcurrency" must be between 1 and %d (0 or absent for 1): a wave runs in a Step Functions inline Map, which runs at most %d iterations at once; got %d`,
			MaxWaveSize, MaxWaveSize, in.MaxConcurrency)
	}
	if p := in.MinHealthyPercent; p != nil && (*p < 0 || *p > 100) {
		add(`"minHealthyPercent" must be between 0 and 100, got %d`, *p)
	}
	if in.MaxErrors < 0 || in.MaxErrors > math.MaxInt32 {
		add(`"maxErrors" must be between 0 and %d, got %d`, math.MaxInt32, in.MaxErrors)
	}
	if in.NotAfter != "" {
		if _, err := time.Parse(time.RFC3339, in.NotAfter); err != nil {
			add(`"notAfter" %q is not an RFC 3339 time such as 2026-11-22T06:00:00Z`, in.NotAfter)
		}
	}
	if in.SkipIfMaintainedWithin != "" && !durationPattern.MatchString(in.SkipIfMaintainedWithin) {
		add(`"skipIfMaintainedWithin" %q is not a duration such as 7d, 12h or 90m`, in.SkipIfMaintainedWithin)
	}
	if w := in.CapacityWaitSeconds; w != nil && (*w < 0 || *w > workflow.MaxTimeoutSeconds) {
		add(`"capacityWaitSeconds" must be between 0 and %d, got %d`, workflow.MaxTimeoutSeconds, *w)
	}
	if in.BakeSeconds < 0 || in.BakeSeconds > MaxBakeSeconds {
		add(`"bakeSeconds" must be between 0 and %d (a day), got %d`, MaxBakeSeconds, in.BakeSeconds)
	}
	if in.LeaseSeconds < 0 || in.LeaseSeconds > MaxLeaseSeconds {
		add(`"leaseSeconds" must be between 1 and %d (a week; 0 or absent for the default %d), got %d`, MaxLeaseSeconds, DefaultLeaseSeconds, in.LeaseSeconds)
	}
	// The per-instance part, checked as each instance's execution will check it, and its
	// plan on a target group with ALB's default health checks (each instance's own groups
	// are checked again when it starts): the loops must fit in an execution's history.
	child := in.ChildInput("i-00000000", nil, nil)
	err := child.Validate()
	if err == nil {
		nominal := workflow.TargetGroup{ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nominal/0000000000000000",
			DeregistrationDelaySeconds: 300, HealthCheckIntervalSeconds: 30, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 5}
		_, err = workflow.NewPlan(child, []workflow.TargetGroup{nominal}, []workflow.Registration{{TargetGroupARN: nominal.ARN, Port: 80}}, "check")
	}
	var named *faults.Error
	if errors.As(err, &named) {
		problems = append(problems, named.Message)
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return faults.New(faults.InvalidInput, "%s", strings.Join(problems, "; "))
}

// Budget is the input's capacity rules.
func (in Input) Budget() waveplan.Budget {
	p := DefaultMinHealthyPercent
	if in.MinHealthyPercent != nil {
		p = *in.MinHealthyPercent
	}
	return waveplan.Budget{MaxConcurrency: max(1, in.MaxConcurrency), MinHealthyPercent: p, AllowLastTarget: in.AllowLastTarget,
		AllowBelowBudget: in.AllowBelowBudget, ZoneByZone: in.ZoneByZone}
}

// ChildInput is the instance state machine's input for one instance of the rollout: its
// groups, and the floor of each.
func (in Input) ChildInput(instanceID string, groups []string, floors map[string]int) workflow.Input {
	wait := DefaultCapacityWaitSeconds
	if in.CapacityWaitSeconds != nil {
		wait = *in.CapacityWaitSeconds
	}
	return workflow.Input{
		InstanceID: instanceID, TargetGroupARNs: groups, Maintenance: in.Maintenance, HealthCheck: in.HealthCheck, Hooks: in.Hooks, Drain: in.Drain,
		Timeouts: in.Timeouts, PollSeconds: in.PollSeconds, AllowLastTarget: in.AllowLastTarget || in.AllowBelowBudget,
		MinHealthyTargets: floors, CapacityWaitSeconds: wait, AcceptRequestLoss: in.AcceptRequestLoss, Alarms: in.Alarms,
	}
}

// MaintainedWithin is the SkipIfMaintainedWithin duration (0 when unset).
func (in Input) MaintainedWithin() time.Duration {
	m := durationPattern.FindStringSubmatch(in.SkipIfMaintainedWithin)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
	return time.Duration(n) * unit
}

// WindowClosed says whether the maintenance window (NotAfter) has ended at now.
func (in Input) WindowClosed(now time.Time) bool {
	if in.NotAfter == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, in.NotAfter)
	return err == nil && !now.Before(t)
}
