package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// State is the instance state machine's state after the first step: the plan, plus the
// result of each step under its own key (the ResultPath of its Task state). Functions
// that act on the instance's registrations take the whole State.
type State struct {
	Plan
	InstanceCheck      *TargetsReport  `json:"instanceCheck,omitempty"`
	RequiredCommand    *CommandSent    `json:"requiredCommand,omitempty"`
	RequiredResult     *CommandReport  `json:"requiredResult,omitempty"`
	Reservation        *Reservation    `json:"reservation,omitempty"`
	Standby            *Standby        `json:"standby,omitempty"`
	Deregistration     *Deregistration `json:"deregistration,omitempty"`
	Drain              *TargetsReport  `json:"drain,omitempty"`
	MaintenanceCommand *CommandSent    `json:"maintenanceCommand,omitempty"`
	MaintenanceResult  *CommandReport  `json:"maintenanceResult,omitempty"`
	HealthCheckCommand *CommandSent    `json:"healthCheckCommand,omitempty"`
	HealthCheckResult  *CommandReport  `json:"healthCheckResult,omitempty"`
	Registration       *Registered     `json:"registration,omitempty"`
	Health             *TargetsReport  `json:"health,omitempty"`
	Release            *Released       `json:"release,omitempty"`
}

// AuditExecution is the execution that holds the state's reservation: every change
// after it (deregistration, registration) is made for that execution.
func (s State) AuditExecution() string {
	if s.Reservation == nil {
		return ""
	}
	return s.Reservation.Holder
}

// HealthState is a target's state as DescribeTargetHealth reports it.
type HealthState string

// The target health states of Elastic Load Balancing v2.
const (
	Healthy     HealthState = "healthy"
	Initial     HealthState = "initial"
	Unhealthy   HealthState = "unhealthy"
	Unused      HealthState = "unused"
	Draining    HealthState = "draining"
	Unavailable HealthState = "unavailable"
)

// TargetState is one registration's health as DescribeTargetHealth reports it.
type TargetState struct {
	TargetGroupARN string      `json:"targetGroupArn"`
	ID             string      `json:"id"`
	Port           int32       `json:"port"`
	State          HealthState `json:"state"`
	Reason         string      `json:"reason,omitempty"`
	// NotServing says why a target gets no traffic, or less, whatever its health: an
	// administrative override in effect (a zonal shift: zonal_shift_active) or anomaly
	// detection finding it anomalous. Such a target is not capacity.
	NotServing string `json:"notServing,omitempty"`
}

// Serving reports whether the target counts as capacity: healthy, and taking its share of
// the traffic.
func (t TargetState) Serving() bool { return t.State == Healthy && t.NotServing == "" }

func (t TargetState) String() string {
	s := fmt.Sprintf("%s:%d in %s is %s", t.ID, t.Port, GroupName(t.TargetGroupARN), t.State)
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	if t.NotServing != "" {
		s += " but not serving (" + t.NotServing + ")"
	}
	return s
}

// Reservation is the result of reserving the instance's capacity (see package capacity).
type Reservation struct {
	// Holder is the execution that asked for the reservation (and holds it once granted).
	Holder string `json:"holder,omitempty"`
	// Reserved: the instance is reserved in every group; it may be taken out.
	Reserved bool `json:"reserved"`
	// FirstTriedAt is when the execution first asked; a wait for capacity counts from it.
	FirstTriedAt string `json:"firstTriedAt"`
	ReservedAt   string `json:"reservedAt,omitempty"`
	// ExpiresAt is when the reservation lapses if nobody releases it.
	ExpiresAt string `json:"expiresAt,omitempty"`
	// Waiting says why the execution waits for capacity, when it does.
	Waiting string `json:"waiting,omitempty"`
	// Groups are the verdicts, group by group.
	Groups []GroupCapacity `json:"groups"`
}

// GroupCapacity is one group's capacity as the reservation judged it.
type GroupCapacity struct {
	TargetGroupARN string `json:"targetGroupArn"`
	Targets        int    `json:"targets"`
	Healthy        int    `json:"healthy"`
	// Remaining is the healthy targets that stay in service once this instance and those
	// other executions hold are out.
	Remaining int `json:"remaining"`
	// Floor is the highest floor of the group's holders, this execution included.
	Floor int `json:"floor"`
	// HeldBy lists the other executions' reservations in the group.
	HeldBy []string `json:"heldBy,omitempty"`
}

// Released is the result of releasing the reservation.
type Released struct {
	At string `json:"at"`
	// Groups released and whether the instance's reservation itself was.
	Groups   []string `json:"groups,omitempty"`
	Instance bool     `json:"instance"`
}

// TargetsReport is the result of a check of the instance's registrations.
type TargetsReport struct {
	// Done: the condition checked for holds (healthy, drained).
	Done      bool          `json:"done"`
	CheckedAt string        `json:"checkedAt"`
	Targets   []TargetState `json:"targets"`
	// PollSeconds is the wait before the next check, when it is not done (NextPoll).
	PollSeconds int `json:"pollSeconds,omitempty"`
	// Idle, for a drain with an idle drain, is where its idle check stands.
	Idle *IdleReport `json:"idle,omitempty"`
}

// The states of an idle drain (IdleReport.Status).
const (
	// IdlePropagating: the deregistration may not have reached every node of the load
	// balancer yet; no check counts.
	IdlePropagating = "propagating"
	// IdleChecking: the idle check runs on the instance.
	IdleChecking = "checking"
	// IdleReached: it passed the checks in a row it needs: the drain is done.
	IdleReached = "idle"
	// IdleGaveUp: it failed or ran out of time (requests still in flight, or the check
	// broken): the drain waits for the deregistration delay, as without an idle drain.
	IdleGaveUp = "gave-up"
	// IdleNotUsed: the instance is in an Auto Scaling group, which keeps it
	// EnteringStandby until the delay ends: the drain waits for it.
	IdleNotUsed = "not-used"
)

// IdleReport is where an idle drain stands.
type IdleReport struct {
	Status  string       `json:"status"`
	Command *CommandSent `json:"command,omitempty"`
	// Detail says why it gave up, or what the check printed once idle.
	Detail string `json:"detail,omitempty"`
}

// Standby is where the instance stands in its Auto Scaling group (package standby).
type Standby struct {
	// Group is its Auto Scaling group ("" when it is in none).
	Group string `json:"group,omitempty"`
	// LifecycleState is its state in the group after the step: EnteringStandby after
	// entering (Standby once its group's target groups have drained), InService after
	// exiting.
	LifecycleState string `json:"lifecycleState,omitempty"`
	// Changed: this step moved it (false when it was already there, or in no group).
	Changed bool   `json:"changed"`
	At      string `json:"at"`
}

// Deregistration is the result of deregistering the instance.
type Deregistration struct {
	DeregisteredAt string `json:"deregisteredAt"`
	DrainDeadline  string `json:"drainDeadline"`
}

// After is the moment seconds after the deregistration (its delay's end, say).
func (d Deregistration) After(seconds int) (time.Time, error) {
	from, err := ParseTime("deregistration.deregisteredAt", d.DeregisteredAt)
	return from.Add(time.Duration(seconds) * time.Second), err
}

// Registered is the result of registering the instance again.
type Registered struct {
	RegisteredAt    string `json:"registeredAt"`
	HealthyDeadline string `json:"healthyDeadline"`
}

// CommandSent is the result of sending an SSM command.
type CommandSent struct {
	CommandID string `json:"commandId"`
	SentAt    string `json:"sentAt"`
	Deadline  string `json:"deadline"`
	// PollSeconds is the wait before the first check (FirstPoll).
	PollSeconds int `json:"pollSeconds"`
}

// CommandReport is the result of one check of an SSM command invocation.
type CommandReport struct {
	Done          bool   `json:"done"`
	Status        string `json:"status"`
	StatusDetails string `json:"statusDetails,omitempty"`
	CheckedAt     string `json:"checkedAt"`
	// OutputTail is the end of the command's standard output, once it is done.
	OutputTail string `json:"outputTail,omitempty"`
	// PollSeconds is the wait before the next check, when it is not done (NextPoll).
	PollSeconds int `json:"pollSeconds,omitempty"`
	// Required, for a required check that is done, says whether the maintenance has
	// anything to do, and Reason why.
	Required *bool  `json:"required,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// GroupName is the name part of a target group ARN, for messages ("web" for
// arn:...:targetgroup/web/0123456789abcdef); the ARN itself when it has none.
func GroupName(arn string) string {
	_, rest, ok := strings.Cut(arn, ":targetgroup/")
	if !ok {
		return arn
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// Summary is the execution's output.
type Summary struct {
	InstanceID    string         `json:"instanceId"`
	Outcome       string         `json:"outcome"`
	Maintenance   string         `json:"maintenance"`
	Registrations []Registration `json:"registrations"`
	// CommandIDs are the SSM command ids, by purpose ("maintenance", "healthCheck").
	CommandIDs map[string]string `json:"commandIds,omitempty"`
	// PhaseSeconds are the seconds spent in each phase: drain (deregistration until every
	// registration is unused), maintenance, healthCheck, returnToHealthy (registration
	// until healthy) and outOfService (deregistration until healthy again).
	PhaseSeconds map[string]float64 `json:"phaseSeconds,omitempty"`
	// WouldDo lists, for a dry run, the changes a real run would make, in order.
	WouldDo []string `json:"wouldDo,omitempty"`
	// Reason, for nothing-to-do, is what the required check found.
	Reason string `json:"reason,omitempty"`
}

// Outcomes of a successful execution.
const (
	OutcomeMaintained = "maintained"
	OutcomeDryRun     = "dry-run"
	// OutcomeNothingToDo: the required check found nothing to do; the instance was left
	// alone, in service, without a reservation.
	OutcomeNothingToDo = "nothing-to-do"
)

// Summarize is the summarize function: the execution's output, built from the final
// state.
func Summarize(_ context.Context, s State) (Summary, error) {
	sum := Summary{
		InstanceID:    s.InstanceID,
		Maintenance:   s.Maintenance.Describe(),
		Registrations: s.Registrations,
	}
	if r := s.RequiredResult; r != nil && r.Required != nil && !*r.Required {
		sum.Outcome, sum.Reason = OutcomeNothingToDo, r.Reason
		if s.DryRun {
			sum.WouldDo = []string{"nothing: " + r.Reason}
		}
		return sum, nil
	}
	if s.DryRun {
		sum.Outcome = OutcomeDryRun
		sum.WouldDo = wouldDo(s.Plan)
		return sum, nil
	}
	sum.Outcome = OutcomeMaintained
	if s.Deregistration == nil || s.Drain == nil || s.MaintenanceCommand == nil || s.MaintenanceResult == nil || s.Registration == nil || s.Health == nil {
		return Summary{}, fmt.Errorf("summary of %s: the state lacks a step's result (deregistration, drain, maintenance, registration and health are all required)", s.InstanceID)
	}
	sum.CommandIDs = map[string]string{"maintenance": s.MaintenanceCommand.CommandID}
	spans := []struct {
		name, from, to string
	}{
		{"drain", s.Deregistration.DeregisteredAt, s.Drain.CheckedAt},
		{"maintenance", s.MaintenanceCommand.SentAt, s.MaintenanceResult.CheckedAt},
		{"returnToHealthy", s.Registration.RegisteredAt, s.Health.CheckedAt},
		{"outOfService", s.Deregistration.DeregisteredAt, s.Health.CheckedAt},
	}
	if s.HealthCheckCommand != nil && s.HealthCheckResult != nil {
		sum.CommandIDs["healthCheck"] = s.HealthCheckCommand.CommandID
		spans = append(spans, struct{ name, from, to string }{"healthCheck", s.HealthCheckCommand.SentAt, s.HealthCheckResult.CheckedAt})
	}
	sum.PhaseSeconds = map[string]float64{}
	for _, sp := range spans {
		from, err := ParseTime(sp.name+" start", sp.from)
		if err != nil {
			return Summary{}, err
		}
		to, err := ParseTime(sp.name+" end", sp.to)
		if err != nil {
			return Summary{}, err
		}
		sum.PhaseSeconds[sp.name] = roundSeconds(to.Sub(from))
	}
	return sum, nil
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond).Milliseconds()) / 1000
}

func wouldDo(p Plan) []string {
	var steps []string
	if c := p.RequiredCheck; c != nil {
		steps = append(steps, "ask the instance, still in service, whether the maintenance has anything to do ("+c.Describe()+"), and stop there if it has not")
	}
	for _, r := range p.Registrations {
		steps = append(steps, fmt.Sprintf("deregister %s port %d from %s", p.InstanceID, r.Port, GroupName(r.TargetGroupARN)))
	}
	steps = append(steps, fmt.Sprintf("wait up to %ds for draining (deregistration delay %ds)", p.Deadlines.DrainSeconds, p.Waits.DeregistrationDelaySeconds))
	steps = append(steps, "run "+p.Maintenance.Describe())
	if p.HealthCheck != nil {
		steps = append(steps, "run "+p.HealthCheck.Describe())
	}
	for _, r := range p.Registrations {
		steps = append(steps, fmt.Sprintf("register %s port %d in %s", p.InstanceID, r.Port, GroupName(r.TargetGroupARN)))
	}
	steps = append(steps, fmt.Sprintf("wait up to %ds for the instance and its groups to be healthy", p.Deadlines.HealthySeconds))
	return steps
}

// Tag is an EC2 tag: the deployment's instanceTag, which marks the instances its functions
// may send commands to.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// String is the tag as key=value.
func (t Tag) String() string { return t.Key + "=" + t.Value }
