// Package elb owns the lab's load balancer: a real HTTP reverse proxy in front of target
// groups that behave as ALB target groups do (see shared/reference/aws-facts.md): health
// checks with interval, timeout, thresholds and matcher; the target states and reason
// codes; initial targets get no traffic until they pass one check; deregistration drains
// (no new requests, in-flight ones may finish, shown as draining until the delay ends,
// then cut), after a propagation time (SetPropagation) during which the load balancer's
// nodes, not yet told, still send the target its share of new requests; fail-open when every target is unhealthy; 502 when a target refuses or drops
// the connection, 504 when it does not answer in time. It also answers the ELBv2 API
// operations drainpipe calls, in Go; package awsapi puts them on the wire.
package elb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
)

// Target health states and reason codes, as ALB reports them.
const (
	StateInitial   = "initial"
	StateHealthy   = "healthy"
	StateUnhealthy = "unhealthy"
	StateUnused    = "unused"
	StateDraining  = "draining"

	ReasonRegistrationInProgress  = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking   = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch    = "Target.ResponseCodeMismatch"
	ReasonTimeout                 = "Target.Timeout"
	ReasonFailedHealthChecks      = "Target.FailedHealthChecks"
	ReasonNotRegistered           = "Target.NotRegistered"
	ReasonDeregistrationInProcess = "Target.DeregistrationInProgress"
	ReasonNotInUse                = "Target.NotInUse"
	ReasonInvalidState            = "Target.InvalidState"
)

// EC2 instance states, as SetInstanceState takes them.
const (
	InstanceRunning    = "running"
	InstanceStopped    = "stopped"
	InstanceTerminated = "terminated"
)

// IdleTimeoutSeconds is ALB's default idle timeout: a target that sends nothing back for
// this long gets the client a 504.
const IdleTimeoutSeconds = 60

// HealthCheck holds a group's health check settings, in lab seconds.
type HealthCheck struct {
	Path               string
	IntervalSeconds    int
	TimeoutSeconds     int
	HealthyThreshold   int
	UnhealthyThreshold int
	// Matcher is the success codes: "200", "200-299" or "200,302".
	Matcher string
}

// GroupConfig describes a target group.
type GroupConfig struct {
	Name string
	// Port is the group's traffic port, used for targets registered without one.
	Port int32
	// TargetType is "instance" (the default), "ip" or "lambda".
	TargetType                 string
	HealthCheck                HealthCheck
	DeregistrationDelaySeconds int
	// Protocol is the group's protocol: HTTP (the default) or HTTPS for an Application
	// Load Balancer's group; TCP, UDP, TCP_UDP, TLS or GENEVE for a Network or Gateway Load
	// Balancer's. The lab's group behaves as an ALB's whatever it says.
	Protocol string
	// Unattached: no load balancer uses the group. As ELB does, DescribeTargetHealth then
	// reports every registered target unused, with Target.NotInUse.
	Unattached bool
	// Threshold is the group's target_group_health.unhealthy_state_routing minimum healthy
	// targets: below it, the load balancer routes to every target, unhealthy ones too
	// (fails open). Zero is ALB's default, a count of 1; Percent, 0 for off.
	Threshold ThresholdConfig
	// CrossZoneOff turns the group's cross-zone load balancing off
	// (load_balancing.cross_zone.enabled false; otherwise use_load_balancer_configuration,
	// which is on for an ALB). The group's record then counts the serving targets of each
	// zone (Sample.ServingByZone); the lab still routes as one node.
	CrossZoneOff bool
}

// ThresholdConfig is a minimum of healthy targets, as a count and as a percentage.
type ThresholdConfig struct{ Count, Percent int }

// floor is the fewest healthy targets of n the threshold accepts.
func (t ThresholdConfig) floor(n int) int {
	count := t.Count
	if count == 0 {
		count = 1
	}
	return max(count, (t.Percent*n+99)/100)
}

// Addresser is EC2's view of the instances: an instance id's private address.
type Addresser interface {
	Address(id string) (ip string, ok bool)
}

// Zoner, when the Addresser is one too, gives an instance's Availability Zone.
type Zoner interface {
	Zone(id string) string
}

// Prober answers the health check of an instance that has no service to check (a
// simulated one): ok false means check it over HTTP.
type Prober interface {
	Probe(id string) (up, ok bool)
}

// APIError is an ELBv2 API error with its real code.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Sample is one point of a group's health history.
type Sample struct {
	// At is lab seconds since the lab started.
	At      float64
	Healthy int
	// Serving counts the healthy targets that take their share of the traffic: no zonal
	// shift away from their instance, not found anomalous.
	Serving    int
	Registered int
	// ServingByZone, for a group with cross-zone load balancing off, counts the serving
	// targets of each Availability Zone.
	ServingByZone map[string]int
}

// TargetHealth is one target as DescribeTargetHealth reports it.
type TargetHealth struct {
	ID     string
	Port   int32
	State  string
	Reason string
	// Override is the administrative override in effect ("" for none, reported as
	// no_override); Anomalous is anomaly detection's verdict.
	Override  string
	Anomalous bool
}

// LoadBalancer holds the target groups.
type LoadBalancer struct {
	clock     *clock.Clock
	ec2       Addresser
	arnPrefix string
	transport *http.Transport
	checker   *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	groups  []*Group
	created int
	// drainLag keeps targets draining this many lab seconds past the delay.
	drainLag float64
	// propagation is how long (lab seconds) a deregistered target still gets new requests.
	propagation float64
	// states are the instances' EC2 states that are not running (stopped, terminated).
	states map[string]string
	// overrides are the administrative overrides in effect on instances' targets (a zonal
	// shift away from their zone: zonal_shift_active).
	overrides map[string]string
}

// SetOverride puts an administrative override on every target of the instance, as a
// zonal shift away from its zone does: state zonal_shift_active (or
// zonal_shift_delegated_to_dns); "" lifts it. Its targets get no traffic while another
// healthy target can take it.
func (lb *LoadBalancer) SetOverride(instanceID, state string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.overrides == nil {
		lb.overrides = map[string]string{}
	}
	if state == "" {
		delete(lb.overrides, instanceID)
	} else {
		lb.overrides[instanceID] = state
	}
	for _, g := range lb.groups {
		g.sample()
	}
}

// SetAnomalous sets anomaly detection's verdict on the instance's targets in the group.
func (lb *LoadBalancer) SetAnomalous(arn, instanceID string, anomalous bool) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return err
	}
	for _, t := range g.targets {
		if t.id == instanceID {
			t.anomalous = anomalous
		}
	}
	g.sample()
	return nil
}

// serving reports whether a target takes its share of the traffic. Callers hold lb.mu.
func (lb *LoadBalancer) serving(t *target) bool {
	return t.state == StateHealthy && lb.overrides[t.id] == "" && !t.anomalous
}

// SetDrainLag is a fault hook: deregistered targets stay draining for this many lab
// seconds past the deregistration delay, as when the ALB's view lags.
func (lb *LoadBalancer) SetDrainLag(labSeconds float64) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.drainLag = labSeconds
}

// SetPropagation sets how long, in lab seconds, the load balancer's nodes take to stop
// sending new requests to a target after DeregisterTargets: meanwhile the target, already
// draining in DescribeTargetHealth, is routed to as it was before (a healthy one takes
// its share). Zero (the default) stops them at once. It applies to later
// deregistrations.
func (lb *LoadBalancer) SetPropagation(labSeconds float64) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.propagation = labSeconds
}

// New returns a load balancer for the account and region.
func New(c *clock.Clock, ec2 Addresser, region, account string) *LoadBalancer {
	ctx, cancel := context.WithCancel(context.Background())
	return &LoadBalancer{
		clock: c, ec2: ec2,
		arnPrefix: fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/", region, account),
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: c.Seconds(10)}).DialContext,
			ResponseHeaderTimeout: c.Seconds(IdleTimeoutSeconds),
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       c.Seconds(IdleTimeoutSeconds),
		},
		checker: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		ctx:     ctx, cancel: cancel, states: map[string]string{},
	}
}

// Close stops every health check and drain timer.
func (lb *LoadBalancer) Close() {
	lb.cancel()
	lb.wg.Wait()
	lb.transport.CloseIdleConnections()
}

// Group is a target group.
type Group struct {
	ARN string
	cfg GroupConfig
	lb  *LoadBalancer

	targets []*target // in registration order
	next    int       // round robin
	history []Sample
	deleted bool
}

type target struct {
	id     string
	port   int32
	addr   string
	state  string
	reason string
	ok     int // consecutive passed checks
	fail   int // consecutive failed checks
	// anomalous: anomaly detection's verdict on the target.
	anomalous bool

	stopChecks context.CancelFunc
	// cut is cancelled when the deregistration delay ends: requests still in flight fail.
	cut      context.Context
	cutNow   context.CancelFunc
	inflight int
	// routedAs is the state a draining target is routed as until routedUntil (real time):
	// its state before DeregisterTargets, while the deregistration propagates.
	routedAs    string
	routedUntil time.Time
}

// CreateTargetGroup adds a group and returns it.
func (lb *LoadBalancer) CreateTargetGroup(cfg GroupConfig) *Group {
	if cfg.TargetType == "" {
		cfg.TargetType = "instance"
	}
	if cfg.Protocol == "" {
		cfg.Protocol = "HTTP"
	}
	if cfg.HealthCheck.Path == "" {
		cfg.HealthCheck.Path = "/"
	}
	if cfg.HealthCheck.Matcher == "" {
		cfg.HealthCheck.Matcher = "200"
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g := &Group{ARN: fmt.Sprintf("%s%s/%016x", lb.arnPrefix, cfg.Name, 0xd7a1000000000000+uint64(lb.created)), cfg: cfg, lb: lb}
	lb.created++
	g.history = []Sample{{At: lb.clock.Since()}}
	lb.groups = append(lb.groups, g)
	return g
}

// Config returns the group's settings.
func (g *Group) Config() GroupConfig { return g.cfg }

func (lb *LoadBalancer) group(arn string) (*Group, error) {
	for _, g := range lb.groups {
		if g.ARN == arn {
			return g, nil
		}
	}
	return nil, &APIError{Code: "TargetGroupNotFound", Message: fmt.Sprintf("Target groups '%s' not found", arn)}
}

// Groups lists the groups, in creation order.
func (lb *LoadBalancer) Groups() []*Group {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.groups)
}

// DescribeTargetGroups returns the named groups (all when arns is empty), a page at a
// time: marker is where the page starts ("" for the first), and the returned marker is ""
// on the last page.
func (lb *LoadBalancer) DescribeTargetGroups(arns []string, marker string, pageSize int) ([]GroupDescription, string, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if len(arns) > 0 {
		var out []GroupDescription
		var missing []string
		for _, arn := range arns {
			g, err := lb.group(arn)
			if err != nil {
				missing = append(missing, arn)
				continue
			}
			out = append(out, g.describe())
		}
		if len(missing) > 0 {
			return nil, "", &APIError{Code: "TargetGroupNotFound", Message: fmt.Sprintf("Target groups '%s' not found", strings.Join(missing, "', '"))}
		}
		return out, "", nil
	}
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(lb.groups) {
			return nil, "", &APIError{Code: "ValidationError", Message: "Invalid marker"}
		}
		start = n
	}
	if pageSize <= 0 || pageSize > 400 {
		pageSize = 400
	}
	end := min(start+pageSize, len(lb.groups))
	var out []GroupDescription
	for _, g := range lb.groups[start:end] {
		out = append(out, g.describe())
	}
	next := ""
	if end < len(lb.groups) {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}

// GroupDescription is what DescribeTargetGroups says of a group.
type GroupDescription struct {
	ARN    string
	Config GroupConfig
}

func (g *Group) describe() GroupDescription { return GroupDescription{ARN: g.ARN, Config: g.cfg} }

// Attributes returns the group's attributes.
func (lb *LoadBalancer) Attributes(arn string) (map[string]string, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return nil, err
	}
	t := g.cfg.Threshold
	crossZone := "use_load_balancer_configuration"
	if g.cfg.CrossZoneOff {
		crossZone = "false"
	}
	percent := "off"
	if t.Percent > 0 {
		percent = strconv.Itoa(t.Percent)
	}
	return map[string]string{
		"deregistration_delay.timeout_seconds": strconv.Itoa(g.cfg.DeregistrationDelaySeconds),
		"stickiness.enabled":                   "false",
		"slow_start.duration_seconds":          "0",
		"load_balancing.algorithm.type":        "round_robin",
		"load_balancing.cross_zone.enabled":    crossZone,
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      strconv.Itoa(max(t.Count, 1)),
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": percent,
		"target_group_health.dns_failover.minimum_healthy_targets.count":                 "1",
		"target_group_health.dns_failover.minimum_healthy_targets.percentage":            "off",
	}, nil
}

// TargetRef names a target; Port 0 means the group's port.
type TargetRef struct {
	ID   string
	Port int32
}

func (g *Group) port(p int32) int32 {
	if p == 0 {
		return g.cfg.Port
	}
	return p
}

func (g *Group) find(id string, port int32) *target {
	for _, t := range g.targets {
		if t.id == id && t.port == port {
			return t
		}
	}
	return nil
}

// DescribeTargetHealth reports every registered target (draining ones included) when refs
// is empty, or exactly the named ones, an unregistered one as unused/Target.NotRegistered.
// A named id that is not an instance EC2 knows is InvalidTarget (the API reference: "The
// specified target does not exist, is not in the same VPC as the target group, or has an
// unsupported instance type"); a registered target whose instance is stopped or terminated
// is unused/Target.InvalidState ("The target is in the stopped or terminated state", the
// TargetHealth reference).
func (lb *LoadBalancer) DescribeTargetHealth(arn string, refs []TargetRef) ([]TargetHealth, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return nil, err
	}
	var out []TargetHealth
	report := func(t *target) TargetHealth {
		if g.cfg.Unattached && t.state != StateDraining && t.reason != ReasonInvalidState {
			return TargetHealth{ID: t.id, Port: t.port, State: StateUnused, Reason: ReasonNotInUse}
		}
		return TargetHealth{ID: t.id, Port: t.port, State: t.state, Reason: t.reason, Override: lb.overrides[t.id], Anomalous: t.anomalous}
	}
	if len(refs) == 0 {
		for _, t := range g.targets {
			out = append(out, report(t))
		}
		return out, nil
	}
	for _, r := range refs {
		if _, ok := lb.ec2.Address(r.ID); !ok {
			return nil, &APIError{Code: "InvalidTarget", Message: fmt.Sprintf("The following targets are not valid instances: '%s'", r.ID)}
		}
		port := g.port(r.Port)
		if t := g.find(r.ID, port); t != nil {
			out = append(out, report(t))
		} else {
			out = append(out, TargetHealth{ID: r.ID, Port: port, State: StateUnused, Reason: ReasonNotRegistered})
		}
	}
	return out, nil
}

// RegisterTargets registers targets: each starts initial and gets no traffic until it
// passes a health check. Registering a registered target changes nothing; registering a
// draining one stops its drain. As the API reference says ("If the target is an EC2
// instance, it must be in the running state when you register it"; InvalidTarget: "The
// specified target does not exist ..."), an unknown id, or an instance that is stopped or
// terminated, is InvalidTarget and nothing is registered.
func (lb *LoadBalancer) RegisterTargets(arn string, refs []TargetRef) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return err
	}
	if g.cfg.TargetType != "instance" {
		return &APIError{Code: "ValidationError", Message: "the lab registers instance targets only"}
	}
	addrs := make([]string, len(refs))
	for i, r := range refs {
		ip, ok := lb.ec2.Address(r.ID)
		if !ok {
			return &APIError{Code: "InvalidTarget", Message: fmt.Sprintf("The following targets are not valid instances: '%s'", r.ID)}
		}
		if _, down := lb.states[r.ID]; down {
			return &APIError{Code: "InvalidTarget", Message: fmt.Sprintf("The following targets are not in a running state and cannot be registered: '%s'", r.ID)}
		}
		addrs[i] = net.JoinHostPort(ip, strconv.Itoa(int(g.port(r.Port))))
	}
	for i, r := range refs {
		port := g.port(r.Port)
		if t := g.find(r.ID, port); t != nil {
			if t.state != StateDraining {
				continue
			}
			g.remove(t) // a drained target registered again starts over
		}
		t := &target{id: r.ID, port: port, addr: addrs[i], state: StateInitial, reason: ReasonRegistrationInProgress}
		t.cut, t.cutNow = context.WithCancel(lb.ctx)
		g.targets = append(g.targets, t)
		g.startChecks(t)
	}
	g.sample()
	return nil
}

// DeregisterTargets starts draining the targets. A target that is not registered, whatever
// its id (an instance that does not exist or was terminated included), is ignored without
// an error: the API reference says "If the specified target does not exist, the action
// returns successfully."
func (lb *LoadBalancer) DeregisterTargets(arn string, refs []TargetRef) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return err
	}
	for _, r := range refs {
		t := g.find(r.ID, g.port(r.Port))
		if t == nil || t.state == StateDraining {
			continue
		}
		t.stopChecks()
		t.routedAs, t.routedUntil = t.state, time.Now().Add(lb.clock.Seconds(lb.propagation))
		t.state, t.reason = StateDraining, ReasonDeregistrationInProcess
		delay := lb.clock.Seconds(float64(g.cfg.DeregistrationDelaySeconds) + lb.drainLag)
		lb.wg.Add(1)
		go func() {
			defer lb.wg.Done()
			timer := time.NewTimer(delay)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-t.cut.Done(): // registered again, or the lab is closing
				return
			}
			lb.mu.Lock()
			defer lb.mu.Unlock()
			if g.find(t.id, t.port) == t && t.state == StateDraining {
				g.remove(t)
				g.sample()
			}
		}()
	}
	g.sample()
	return nil
}

// SetInstanceState tells the load balancer an instance's EC2 state. A registered target
// whose instance stops or is terminated gets no more traffic or health checks and is
// reported unused with Target.InvalidState ("The target is in the stopped or terminated
// state", the TargetHealth reference); it stays registered, and a draining one goes on
// draining. When a stopped instance runs again its targets are checked again from initial
// (Elb.InitialHealthChecking). ELB's own documentation does not say when it drops the
// registration of a terminated instance: the lab keeps it until it is deregistered.
func (lb *LoadBalancer) SetInstanceState(id, state string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if state == InstanceRunning {
		delete(lb.states, id)
	} else {
		lb.states[id] = state
	}
	for _, g := range lb.groups {
		for _, t := range g.targets {
			if t.id != id || t.state == StateDraining {
				continue
			}
			switch {
			case state != InstanceRunning && t.state != StateUnused:
				t.stopChecks()
				t.state, t.reason, t.ok, t.fail = StateUnused, ReasonInvalidState, 0, 0
			case state == InstanceRunning && t.state == StateUnused:
				t.state, t.reason = StateInitial, ReasonInitialHealthChecking
				g.startChecks(t)
			}
		}
		g.sample()
	}
}

// DeleteTargetGroup deletes a group, as DeleteTargetGroup does once no listener uses it:
// its targets are gone at once (their requests in flight are cut, nothing drains), every
// call naming it answers TargetGroupNotFound, and its listener, left with no target,
// answers 503.
func (lb *LoadBalancer) DeleteTargetGroup(arn string) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	g, err := lb.group(arn)
	if err != nil {
		return err
	}
	for _, t := range slices.Clone(g.targets) {
		g.remove(t)
	}
	g.deleted = true
	g.sample()
	lb.groups = slices.DeleteFunc(lb.groups, func(x *Group) bool { return x == g })
	return nil
}

// remove drops a target and cuts what it still has in flight. Callers hold lb.mu.
func (g *Group) remove(t *target) {
	t.stopChecks()
	t.cutNow()
	g.targets = slices.DeleteFunc(g.targets, func(x *target) bool { return x == t })
}

// sample records the group's health counts if they changed. Callers hold lb.mu.
func (g *Group) sample() {
	healthy, serving := 0, 0
	var byZone map[string]int
	zoner, zonal := g.lb.ec2.(Zoner)
	if zonal = zonal && g.cfg.CrossZoneOff; zonal {
		byZone = map[string]int{}
	}
	for _, t := range g.targets {
		if t.state == StateHealthy {
			healthy++
		}
		if zonal {
			byZone[zoner.Zone(t.id)] += 0 // a zone with no serving target counts 0
		}
		if g.lb.serving(t) {
			serving++
			if zonal {
				byZone[zoner.Zone(t.id)]++
			}
		}
	}
	last := g.history[len(g.history)-1]
	if last.Healthy == healthy && last.Serving == serving && last.Registered == len(g.targets) && maps.Equal(last.ServingByZone, byZone) {
		return
	}
	g.history = append(g.history, Sample{At: g.lb.clock.Since(), Healthy: healthy, Serving: serving, Registered: len(g.targets), ServingByZone: byZone})
}

// History returns the group's healthy and registered counts over time.
func (g *Group) History() []Sample {
	g.lb.mu.Lock()
	defer g.lb.mu.Unlock()
	return slices.Clone(g.history)
}

// startChecks runs the target's health checks every interval until it is deregistered.
// Callers hold lb.mu.
func (g *Group) startChecks(t *target) {
	ctx, stop := context.WithCancel(g.lb.ctx)
	t.stopChecks = stop
	hc := g.cfg.HealthCheck
	interval := g.lb.clock.Seconds(float64(hc.IntervalSeconds))
	g.lb.wg.Add(1)
	go func() {
		defer g.lb.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			passed, reason := g.check(ctx, t.id, t.addr)
			if ctx.Err() != nil {
				return
			}
			g.lb.mu.Lock()
			g.observe(t, passed, reason)
			g.lb.mu.Unlock()
		}
	}()
}

// check sends one health check request (or probes a simulated instance).
func (g *Group) check(ctx context.Context, id, addr string) (bool, string) {
	if p, ok := g.lb.ec2.(Prober); ok {
		if up, simulated := p.Probe(id); simulated {
			if up {
				return true, ""
			}
			return false, ReasonFailedHealthChecks
		}
	}
	hc := g.cfg.HealthCheck
	ctx, cancel := context.WithTimeout(ctx, g.lb.clock.Seconds(float64(hc.TimeoutSeconds)))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+hc.Path, nil)
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := g.lb.checker.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return false, ReasonTimeout
		}
		return false, ReasonFailedHealthChecks
	}
	_ = resp.Body.Close()
	if !matches(hc.Matcher, resp.StatusCode) {
		return false, ReasonResponseCodeMismatch
	}
	return true, ""
}

// observe applies one health check result. Callers hold lb.mu.
func (g *Group) observe(t *target, passed bool, reason string) {
	if g.find(t.id, t.port) != t || t.state == StateDraining || t.state == StateUnused {
		return
	}
	hc := g.cfg.HealthCheck
	if passed {
		t.ok++
		t.fail = 0
		// ALB: a newly registered target must pass one health check to be healthy; an
		// unhealthy one needs HealthyThreshold in a row.
		if t.state == StateInitial || (t.state == StateUnhealthy && t.ok >= hc.HealthyThreshold) {
			t.state, t.reason = StateHealthy, ""
		}
	} else {
		t.fail++
		t.ok = 0
		switch {
		case t.state != StateUnhealthy && t.fail >= hc.UnhealthyThreshold:
			t.state, t.reason = StateUnhealthy, reason
		case t.state == StateUnhealthy:
			t.reason = reason
		case t.state == StateInitial:
			t.reason = ReasonInitialHealthChecking
		}
	}
	g.sample()
}

// matches reports whether code is in an ALB matcher ("200", "200-299", "200,302").
func matches(matcher string, code int) bool {
	for _, part := range strings.Split(matcher, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		l, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		h := l
		if isRange {
			if h, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if code >= l && code <= h {
			return true
		}
	}
	return false
}

// pick chooses the target for a new request: round robin over healthy targets, or over
// every unhealthy target when none is healthy (fail-open). Initial and draining targets
// get no new requests, except a draining one while its deregistration propagates, routed
// as it was before.
func (g *Group) pick() *target {
	g.lb.mu.Lock()
	defer g.lb.mu.Unlock()
	if g.deleted {
		return nil
	}
	// Healthy targets take the traffic, but not those of a zone shifted away while
	// another healthy target can take it. Below the group's unhealthy-state routing
	// threshold, ALB fails open: it routes to every target, the unhealthy ones too.
	healthy := g.eligible(StateHealthy)
	eligible := slices.DeleteFunc(slices.Clone(healthy), func(t *target) bool { return g.lb.overrides[t.id] != "" })
	if len(eligible) == 0 {
		eligible = healthy
	}
	if len(healthy) < g.cfg.Threshold.floor(len(g.targets)) {
		eligible = append(slices.Clone(healthy), g.eligible(StateUnhealthy)...)
	}
	if len(eligible) == 0 {
		return nil
	}
	t := eligible[g.next%len(eligible)]
	g.next++
	t.inflight++
	return t
}

// eligible lists the targets routed as in the state. Callers hold lb.mu.
func (g *Group) eligible(state string) []*target {
	var out []*target
	now := time.Now()
	for _, t := range g.targets {
		propagating := t.state == StateDraining && t.routedAs == state && now.Before(t.routedUntil) && g.lb.states[t.id] == ""
		if t.state == state || propagating {
			out = append(out, t)
		}
	}
	return out
}

type targetKey struct{}

// ServeHTTP proxies one client request to a target of the group.
func (g *Group) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.pick()
	if t == nil {
		http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	defer func() {
		g.lb.mu.Lock()
		t.inflight--
		g.lb.mu.Unlock()
	}()
	// The request ends when the client goes, or when the target's deregistration delay
	// ends while it is still in flight.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(t.cut, cancel)
	defer stop()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = t.addr
			pr.SetXForwarded()
		},
		Transport: g.lb.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				http.Error(w, "504 Gateway Time-out", http.StatusGatewayTimeout)
				return
			}
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, targetKey{}, t)))
}

// Listen serves the group on a new loopback listener, as an ALB listener forwarding to
// it, and returns its URL. The server stops when the load balancer closes.
func (g *Group) Listen() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-g.lb.ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/", nil
}
