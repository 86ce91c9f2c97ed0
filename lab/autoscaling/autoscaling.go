// Package autoscaling owns the lab's EC2 Auto Scaling groups: which instances belong to
// which group, their lifecycle state (InService, EnteringStandby, Standby, Terminated) and
// health status, the group's minimum, maximum and desired capacity, the target groups
// attached to it, and the group's health checks, which replace an instance that stays
// unhealthy too long. It serves what drainpipe needs of Auto Scaling: EnterStandby,
// ExitStandby, DescribeAutoScalingInstances and DescribeAutoScalingGroups, with AWS's
// rules and ValidationError answers (the wire protocol is package awsapi's). The
// instances, the load balancer and termination are the lab's: the service reaches them
// through Instances and Targets.
//
// As on AWS, EnterStandby leaves an instance EnteringStandby while it drains from the
// group's attached target groups, and Standby only once none of its targets there is
// draining (see Service.EnterStandby); meanwhile it cannot exit Standby and is not
// health-checked.
//
// Differences from AWS, because the lab cannot launch instances or has no need to:
//   - the group never launches an instance. Where AWS would launch one (an instance put in
//     Standby without decrementing the desired capacity; an unhealthy instance replaced),
//     the lab records the launch it did not make (Launches) and the group stays smaller;
//   - ExitStandby takes effect at once: the instance is InService when the call returns,
//     where AWS passes through Pending first;
//   - the activities EnterStandby and ExitStandby return say what AWS's say when the call
//     returns (InProgress 50, PreInService 30); the lab keeps no activity history;
//   - the health check grace period (see Service.check) is the time an InService instance
//     may stay unhealthy before the group acts, not a period after launch;
//   - no scaling policies, lifecycle hooks, warm pools, instance protection, launch
//     templates or capacity rebalancing.
package autoscaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/elb"
)

// Lifecycle states, as AWS names them (the lab uses these four of AWS's).
const (
	InService       = "InService"
	EnteringStandby = "EnteringStandby"
	Standby         = "Standby"
	Terminated      = "Terminated"
)

// Health statuses, as DescribeAutoScalingGroups spells them (DescribeAutoScalingInstances
// answers them in capitals on the wire, HEALTHY and UNHEALTHY, as AWS does).
const (
	Healthy   = "Healthy"
	Unhealthy = "Unhealthy"
)

// Health check types.
const (
	HealthCheckEC2 = "EC2"
	HealthCheckELB = "ELB"
)

// Limits of the API reference: EnterStandby and ExitStandby take up to 20 instance ids,
// DescribeAutoScalingInstances up to 50.
const (
	MaxStandbyIDs  = 20
	MaxDescribeIDs = 50
)

// ValidationError is the code of Auto Scaling's answers to a request it refuses (HTTP
// 400, Type Sender).
const ValidationError = "ValidationError"

// Error is an Auto Scaling API error: a caller's (Sender) error with its code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func validation(format string, args ...any) error {
	return &Error{Code: ValidationError, Message: fmt.Sprintf(format, args...)}
}

// Instances is EC2's side of the group's instances.
type Instances interface {
	// Up reports whether the instance is running and booted: false while it is stopped,
	// terminated or rebooting. It stands for EC2's status checks.
	Up(id string) bool
	// Zone is the instance's Availability Zone.
	Zone(id string) string
	// Terminate terminates the instance, as TerminateInstances does.
	Terminate(id string) error
}

// Targets is the load balancer's side: *elb.LoadBalancer is one.
type Targets interface {
	RegisterTargets(arn string, refs []elb.TargetRef) error
	DeregisterTargets(arn string, refs []elb.TargetRef) error
	DescribeTargetHealth(arn string, refs []elb.TargetRef) ([]elb.TargetHealth, error)
}

// GroupSpec is an Auto Scaling group to create. Its desired capacity is its number of
// instances.
type GroupSpec struct {
	Name             string
	MinSize, MaxSize int
	// Instances are the ids of its members, all InService and Healthy at the start.
	Instances []string
	// HealthCheckType is EC2 (the default, when empty) or ELB.
	HealthCheckType string
	// HealthCheckGracePeriod is in lab seconds: how long an InService instance may stay
	// unhealthy before the group replaces it (see Service.check).
	HealthCheckGracePeriod int
	// TargetGroupARNs are the target groups attached to the group: an instance entering
	// Standby is deregistered from each (on the group's port) and is EnteringStandby until
	// it has drained from them; one leaving Standby is registered in each again.
	TargetGroupARNs []string
}

// Activity is a scaling activity, as EnterStandby and ExitStandby return them.
type Activity struct {
	ID, Group, Description, Cause string
	// Details is the activity's JSON details (the instance's Availability Zone).
	Details    string
	StatusCode string
	Progress   int
	// Start is the lab time the activity started.
	Start time.Time
}

// InstanceDetails is one instance as DescribeAutoScalingInstances describes it.
type InstanceDetails struct {
	ID, Group, Zone string
	LifecycleState  string
	HealthStatus    string
	// ProtectedFromScaleIn is always false: the lab has no instance protection.
	ProtectedFromScaleIn bool
}

// GroupInstance is one member as DescribeAutoScalingGroups lists it.
type GroupInstance struct {
	ID, Zone, LifecycleState, HealthStatus string
	ProtectedFromScaleIn                   bool
}

// Group is a group as DescribeAutoScalingGroups describes it.
type Group struct {
	Name, ARN                         string
	MinSize, MaxSize, DesiredCapacity int
	Instances                         []GroupInstance
	TargetGroupARNs                   []string
	HealthCheckType                   string
	HealthCheckGracePeriod            int
	// Zones are the Availability Zones of its instances when it was created.
	Zones []string
	// Created is the lab time the group was created.
	Created time.Time
}

// Replacement is an instance the group's health check replaced: found unhealthy for
// longer than the grace period, deregistered from the group's target groups, terminated
// and removed from the group.
type Replacement struct {
	Group, InstanceID string
	// Cause is AWS's wording of why the instance was taken out of service.
	Cause string
	// At is the lab time of the replacement; Since is lab seconds since the lab started.
	At    time.Time
	Since float64
	// UnhealthySince is when the group first found it unhealthy (lab time).
	UnhealthySince time.Time
}

// Launch is a launch AWS would have made and the lab did not.
type Launch struct {
	Group string
	// For is the instance the launch would have replaced.
	For string
	// Reason is LaunchForStandby or LaunchForUnhealthy.
	Reason string
	At     time.Time
}

// Reasons of a Launch.
const (
	// LaunchForStandby: the instance entered Standby without decrementing the desired
	// capacity, and AWS "launches new instances to replace the instances on standby".
	LaunchForStandby = "standby"
	// LaunchForUnhealthy: the instance was replaced by a health check.
	LaunchForUnhealthy = "unhealthy"
)

type member struct {
	id     string
	state  string
	health string
	// unhealthySince: when the health check first found it unhealthy, zero while healthy.
	unhealthySince time.Time
	cause          string
}

type group struct {
	spec    GroupSpec
	arn     string
	desired int
	members []*member // in the order they joined
	zones   []string
	created time.Time
}

func (g *group) find(id string) *member {
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// Service is the lab's Auto Scaling. It is safe for concurrent use.
type Service struct {
	clock     *clock.Clock
	targets   Targets
	instances Instances
	region    string
	account   string

	mu       sync.Mutex
	groups   map[string]*group
	replaced []Replacement
	launches []Launch
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New returns a service with no group. Start runs its health checks.
func New(c *clock.Clock, targets Targets, instances Instances, region, account string) *Service {
	return &Service{clock: c, targets: targets, instances: instances, region: region, account: account, groups: map[string]*group{}}
}

// CreateGroup creates a group of instances that are in no other group, each InService and
// Healthy, its desired capacity their number, which must lie between MinSize and MaxSize.
func (s *Service) CreateGroup(spec GroupSpec) error {
	switch spec.HealthCheckType {
	case "":
		spec.HealthCheckType = HealthCheckEC2
	case HealthCheckEC2, HealthCheckELB:
	default:
		return validation("Invalid HealthCheckType %q: EC2 or ELB", spec.HealthCheckType)
	}
	n := len(spec.Instances)
	if spec.Name == "" || spec.MinSize < 0 || spec.MinSize > spec.MaxSize || n < spec.MinSize || n > spec.MaxSize || spec.HealthCheckGracePeriod < 0 {
		return validation("group %q: want 0 <= MinSize <= instances (%d) <= MaxSize, MinSize %d, MaxSize %d, a grace period not negative",
			spec.Name, n, spec.MinSize, spec.MaxSize)
	}
	spec.Instances = slices.Clone(spec.Instances)
	spec.TargetGroupARNs = slices.Clone(spec.TargetGroupARNs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[spec.Name]; ok {
		return &Error{Code: "AlreadyExists", Message: fmt.Sprintf("AutoScalingGroup by this name already exists - A group with the name %s already exists", spec.Name)}
	}
	g := &group{spec: spec, desired: n, created: s.clock.Now(),
		arn: fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", s.region, s.account, uuid(), spec.Name)}
	for _, id := range spec.Instances {
		if other, _ := s.groupOf(id); other != nil || g.find(id) != nil {
			return validation("instance %s is already in an Auto Scaling group", id)
		}
		g.members = append(g.members, &member{id: id, state: InService, health: Healthy})
		if z := s.instances.Zone(id); z != "" && !slices.Contains(g.zones, z) {
			g.zones = append(g.zones, z)
		}
	}
	slices.Sort(g.zones)
	s.groups[spec.Name] = g
	return nil
}

// groupOf finds an instance's group. Callers hold s.mu.
func (s *Service) groupOf(id string) (*group, *member) {
	for _, g := range s.groups {
		if m := g.find(id); m != nil {
			return g, m
		}
	}
	return nil, nil
}

// lookup finds a group by name, or answers as AWS does for a name it does not know.
// Callers hold s.mu.
func (s *Service) lookup(name string) (*group, error) {
	g, ok := s.groups[name]
	if !ok {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	return g, nil
}

// resolve resolves ids to the group's members, each in the state want, refusing the call
// as AWS does: more than 20 ids, an instance not in the group, one not in that state.
// Repeated ids count once. Callers hold s.mu.
func (g *group) resolve(ids []string, want string) ([]*member, error) {
	if len(ids) > MaxStandbyIDs {
		return nil, tooMany(ids, MaxStandbyIDs)
	}
	var out []*member
	for _, id := range ids {
		m := g.find(id)
		if m == nil {
			return nil, validation("The instance %s is not part of Auto Scaling group %s.", id, g.spec.Name)
		}
		if m.state != want {
			return nil, validation("The instance %s is not in %s.", id, want)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// tooMany is the answer to a list of ids longer than the operation takes (the limit is
// AWS's; the wording is the lab's, in the form of AWS's parameter validation messages).
func tooMany(ids []string, limit int) error {
	return validation("1 validation error detected: Value '[%s]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to %d",
		strings.Join(ids, ", "), limit)
}

// EnterStandby moves InService instances of the group toward Standby, as AWS does: with
// shouldDecrement the desired capacity drops by their number at once, which AWS allows
// only while it stays at or above the minimum; without, the desired capacity stays and
// AWS launches replacements (recorded in Launches, not made). Each instance is
// deregistered from every target group attached to the group, on the group's port, and is
// EnteringStandby until none of its targets in those groups, on any port, is draining any
// more (the groups' deregistration delay): a target that is gone, in another state, or in
// a target group that no longer exists counts as drained. Then it is Standby. The service
// looks at the drain at every health-check round (each lab second, see Start) and
// whenever a call depends on the state (the two Describe calls, ExitStandby), so what
// they report is the load balancer's state at that moment. An instance of a group with no
// target group attached is Standby when the call returns. An instance EnteringStandby is
// not health-checked, as one in Standby is not, and cannot exit Standby yet
// (ValidationError). Errors (ValidationError): an unknown group, more than 20 ids, an
// instance not in the group or not InService, a desired capacity that would fall below
// the minimum; then nothing changes. A load balancer error (a target group deleted) does
// not fail the call: AWS deregisters after answering.
func (s *Service) EnterStandby(name string, ids []string, shouldDecrement bool) ([]Activity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	ms, err := g.resolve(ids, InService)
	if err != nil {
		return nil, err
	}
	if n := len(ms); shouldDecrement && g.desired-n < g.spec.MinSize {
		return nil, validation("AutoScalingGroup %s has min-size=%d, max-size=%d, and desired-size=%d. To place into standby %d %s, please update the AutoScalingGroup sizes appropriately.",
			g.spec.Name, g.spec.MinSize, g.spec.MaxSize, g.desired, n, plural(n, "instance"))
	}
	now := s.clock.Now()
	var acts []Activity
	for _, m := range ms {
		m.state, m.unhealthySince = EnteringStandby, time.Time{}
		cause := fmt.Sprintf("At %s instance %s was moved to standby in response to a user request", stamp(now), m.id)
		if shouldDecrement {
			cause += fmt.Sprintf(", shrinking the capacity from %d to %d", g.desired, g.desired-1)
			g.desired--
		} else {
			s.launches = append(s.launches, Launch{Group: g.spec.Name, For: m.id, Reason: LaunchForStandby, At: now})
		}
		acts = append(acts, s.activity(g, m.id, "Moving EC2 instance to Standby: "+m.id, cause+".", "InProgress", 50, now))
		for _, arn := range g.spec.TargetGroupARNs {
			_ = s.targets.DeregisterTargets(arn, []elb.TargetRef{{ID: m.id}})
		}
	}
	s.settle() // no target group attached, or a deregistration that drained at once
	return acts, nil
}

// settle moves every instance that is EnteringStandby to Standby once none of its targets
// in its group's attached target groups is draining: one DescribeTargetHealth per target
// group that has an instance entering Standby. A target group the load balancer does not
// know (deleted) has nothing draining. Callers hold s.mu (the load balancer's lock is
// taken under it, as EnterStandby's deregistrations do): an instance leaves
// EnteringStandby only here, so what a caller then reads is the load balancer's state of
// this moment.
func (s *Service) settle() {
	draining := map[string]map[string]bool{} // target group -> instances with a draining target
	for _, g := range s.groups {
		for _, m := range g.members {
			if m.state != EnteringStandby {
				continue
			}
			done := true
			for _, arn := range g.spec.TargetGroupARNs {
				ids, ok := draining[arn]
				if !ok {
					ids = map[string]bool{}
					health, _ := s.targets.DescribeTargetHealth(arn, nil) // every target, draining ones included
					for _, h := range health {
						if h.State == elb.StateDraining {
							ids[h.ID] = true
						}
					}
					draining[arn] = ids
				}
				done = done && !ids[m.id]
			}
			if done {
				m.state = Standby
			}
		}
	}
}

// ExitStandby moves Standby instances of the group back to InService and increments the
// desired capacity by their number (AWS: "After you put the instances back in service, the
// desired capacity is incremented"), which may not exceed the maximum. Each instance is
// registered in every target group attached to the group, on the group's port. Errors
// (ValidationError): an unknown group, more than 20 ids, an instance not in the group or
// not in Standby (one still EnteringStandby included: "The instance ... is not in
// Standby."), a desired capacity that would exceed the maximum (the lab's wording).
func (s *Service) ExitStandby(name string, ids []string) ([]Activity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	s.settle()
	ms, err := g.resolve(ids, Standby)
	if err != nil {
		return nil, err
	}
	if n := len(ms); g.desired+n > g.spec.MaxSize {
		return nil, validation("AutoScalingGroup %s has min-size=%d, max-size=%d, and desired-size=%d. To move out of standby %d %s, please update the AutoScalingGroup sizes appropriately.",
			g.spec.Name, g.spec.MinSize, g.spec.MaxSize, g.desired, n, plural(n, "instance"))
	}
	now := s.clock.Now()
	var acts []Activity
	for _, m := range ms {
		m.state, m.unhealthySince = InService, time.Time{}
		cause := fmt.Sprintf("At %s instance %s was moved out of standby in response to a user request, increasing the capacity from %d to %d.",
			stamp(now), m.id, g.desired, g.desired+1)
		g.desired++
		acts = append(acts, s.activity(g, m.id, "Moving EC2 instance out of Standby: "+m.id, cause, "PreInService", 30, now))
		for _, arn := range g.spec.TargetGroupARNs {
			_ = s.targets.RegisterTargets(arn, []elb.TargetRef{{ID: m.id}})
		}
	}
	return acts, nil
}

func (s *Service) activity(g *group, id, description, cause, status string, progress int, now time.Time) Activity {
	return Activity{ID: uuid(), Group: g.spec.Name, Description: description, Cause: cause, StatusCode: status, Progress: progress, Start: now,
		Details: fmt.Sprintf(`{"Availability Zone":%q}`, s.instances.Zone(id))}
}

// DescribeAutoScalingInstances describes the named instances that are in a group, in id
// order; an id in no group is left out without an error, as AWS does. No ids: every
// instance of every group. More than 50 ids is a ValidationError.
func (s *Service) DescribeAutoScalingInstances(ids []string) ([]InstanceDetails, error) {
	if len(ids) > MaxDescribeIDs {
		return nil, tooMany(ids, MaxDescribeIDs)
	}
	s.mu.Lock()
	s.settle()
	var out []InstanceDetails
	for _, g := range s.groups {
		for _, m := range g.members {
			if len(ids) == 0 || slices.Contains(ids, m.id) {
				out = append(out, InstanceDetails{ID: m.id, Group: g.spec.Name, LifecycleState: m.state, HealthStatus: m.health})
			}
		}
	}
	s.mu.Unlock()
	for i := range out {
		out[i].Zone = s.instances.Zone(out[i].ID)
	}
	slices.SortFunc(out, func(a, b InstanceDetails) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DescribeAutoScalingGroups describes the named groups (every group when names is
// empty), in name order; a name the lab does not know is left out, as AWS does.
func (s *Service) DescribeAutoScalingGroups(names []string) []Group {
	s.mu.Lock()
	s.settle()
	var out []Group
	for _, g := range s.groups {
		if len(names) > 0 && !slices.Contains(names, g.spec.Name) {
			continue
		}
		d := Group{Name: g.spec.Name, ARN: g.arn, MinSize: g.spec.MinSize, MaxSize: g.spec.MaxSize, DesiredCapacity: g.desired,
			TargetGroupARNs: slices.Clone(g.spec.TargetGroupARNs), HealthCheckType: g.spec.HealthCheckType,
			HealthCheckGracePeriod: g.spec.HealthCheckGracePeriod, Zones: slices.Clone(g.zones), Created: g.created}
		for _, m := range g.members {
			d.Instances = append(d.Instances, GroupInstance{ID: m.id, LifecycleState: m.state, HealthStatus: m.health})
		}
		out = append(out, d)
	}
	s.mu.Unlock()
	for _, d := range out {
		for i := range d.Instances {
			d.Instances[i].Zone = s.instances.Zone(d.Instances[i].ID)
		}
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Replaced lists the instances the health checks replaced, in order.
func (s *Service) Replaced() []Replacement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.replaced)
}

// Launches lists the launches AWS would have made and the lab did not, in order.
func (s *Service) Launches() []Launch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.launches)
}

// Start runs the groups' health checks, every lab second, until ctx ends or Close; each
// round also moves the instances whose drain has ended from EnteringStandby to Standby.
// Starting twice does nothing.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for s.clock.Sleep(ctx, time.Second) == nil {
			s.check(s.clock.Now())
		}
	}()
}

// Close stops the health checks and waits for the one under way.
func (s *Service) Close() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// check is one round of the groups' health checks, at lab time now. It first moves the
// instances whose drain has ended from EnteringStandby to Standby (settle).
//
// The health model. An InService instance is unhealthy when it is down (Instances.Up
// false: stopped, terminated or rebooting), which stands for EC2's status checks, or, in a
// group whose HealthCheckType is ELB, when one of its targets in a target group attached to
// the group is unhealthy. An instance in Standby, or EnteringStandby, is never checked:
// that is what Standby is for. When an instance has been unhealthy, at every check, for
// longer than HealthCheckGracePeriod, the group marks it Unhealthy and replaces it: it is
// deregistered from the attached target groups, terminated (Instances.Terminate),
// Terminated and removed from the group, and the replacement is recorded (Replaced) with
// the launch AWS would make (Launches); the lab launches nothing, so the group keeps its
// desired capacity with one instance fewer.
//
// On AWS the grace period starts when an instance comes into service after launch, and
// health checks act on the first failure once it is over; a failed instance is noticed
// after EC2's status checks or the load balancer's health checks have reported it, which
// takes a while. The lab's instances are not launched by the group, so it uses the grace
// period as that while: how long an InService instance may be unhealthy before the group
// acts. A reboot shorter than the grace period is survived; a longer one, or a stopped
// instance, is replaced unless it was put in Standby first.
func (s *Service) check(now time.Time) {
	type probe struct {
		group, id string
		elb       []string // the attached target groups, for an ELB health check
	}
	s.mu.Lock()
	s.settle()
	var probes []probe
	for _, g := range s.groups {
		for _, m := range g.members {
			if m.state != InService {
				continue
			}
			p := probe{group: g.spec.Name, id: m.id}
			if g.spec.HealthCheckType == HealthCheckELB {
				p.elb = g.spec.TargetGroupARNs
			}
			probes = append(probes, p)
		}
	}
	s.mu.Unlock()

	// Ask the world without holding the lock: one DescribeTargetHealth per target group.
	unhealthyTargets := map[string]map[string]bool{}
	causes := make([]string, len(probes))
	for i, p := range probes {
		if !s.instances.Up(p.id) {
			causes[i] = "an EC2 instance status checks failure"
			continue
		}
		for _, arn := range p.elb {
			bad, ok := unhealthyTargets[arn]
			if !ok {
				bad = map[string]bool{}
				health, _ := s.targets.DescribeTargetHealth(arn, nil) // a deleted group reports nothing
				for _, h := range health {
					if h.State == elb.StateUnhealthy {
						bad[h.ID] = true
					}
				}
				unhealthyTargets[arn] = bad
			}
			if bad[p.id] {
				causes[i] = "an ELB system health check failure"
			}
		}
	}

	type doomed struct {
		g *group
		m *member
	}
	var replace []doomed
	s.mu.Lock()
	for i, p := range probes {
		g := s.groups[p.group]
		m := g.find(p.id)
		if m == nil || m.state != InService { // it moved while the world was asked
			continue
		}
		if causes[i] == "" {
			m.unhealthySince = time.Time{}
			continue
		}
		if m.unhealthySince.IsZero() {
			m.unhealthySince = now
		}
		if now.Sub(m.unhealthySince) > time.Duration(g.spec.HealthCheckGracePeriod)*time.Second {
			m.health, m.state, m.cause = Unhealthy, Terminated, causes[i]
			g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
			replace = append(replace, doomed{g, m})
		}
	}
	s.mu.Unlock()

	for _, d := range replace {
		for _, arn := range d.g.spec.TargetGroupARNs {
			_ = s.targets.DeregisterTargets(arn, []elb.TargetRef{{ID: d.m.id}})
		}
		_ = s.instances.Terminate(d.m.id) // one terminated already stays so
		at := s.clock.Now()
		s.mu.Lock()
		s.replaced = append(s.replaced, Replacement{Group: d.g.spec.Name, InstanceID: d.m.id, At: at, Since: s.clock.Since(), UnhealthySince: d.m.unhealthySince,
			Cause: fmt.Sprintf("At %s an instance was taken out of service in response to %s.", stamp(now), d.m.cause)})
		s.launches = append(s.launches, Launch{Group: d.g.spec.Name, For: d.m.id, Reason: LaunchForUnhealthy, At: at})
		s.mu.Unlock()
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// uuid is a random version 4 UUID, as AWS's activity ids are.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
