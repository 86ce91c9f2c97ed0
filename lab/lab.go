// Package lab assembles drainpipe's lab: a fleet of real HTTP instances on loopback
// addresses behind an ALB-faithful load balancer, an AWS endpoint that speaks the real
// wire protocols (ELBv2, EC2, EC2 Auto Scaling, SSM, SNS, Lambda Invoke, Step Functions,
// DynamoDB through dynalite), Auto Scaling groups whose health checks replace an
// unhealthy instance that is not in Standby, an SSM executor that runs commands with bash,
// and a Step Functions service that runs the real state machines in an independent engine
// under AWS's quotas.
// Everything runs at one time scale. The lab listens on loopback only and removes what
// it started on Close. It is driven from Go tests and from cmd/drainpipe-lab (make demo).
package lab

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/autoscaling"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/dynamodb"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Config describes a lab. Durations are in lab seconds, as AWS counts them.
type Config struct {
	// Scale is real seconds per lab second (0.05: twenty times faster than AWS).
	Scale float64
	// Instances is the number of instances.
	Instances int
	// ServicePort is the port every instance serves on.
	ServicePort int
	// Groups are the target groups; each lists its members.
	Groups []GroupSpec
	// RebootSeconds is how long a reboot keeps an instance down.
	RebootSeconds float64
	// PatchSeconds is how long a simulated AWS-RunPatchBaseline Install takes.
	PatchSeconds float64
	// DeregistrationPropagationSeconds is how long the load balancer's nodes still send a
	// deregistered target new requests (see elb.LoadBalancer.SetPropagation); 0 stops
	// them at once.
	DeregistrationPropagationSeconds float64
	// Tools is the folder with the Node tools; "" finds .tools upwards from the working
	// directory.
	Tools string
	// Simulated instances have no service (see instance.Instance.Simulated): for fleets of
	// thousands, with no client traffic.
	Simulated bool
	// Zones are the Availability Zones instances are placed in, in turn (instance k in
	// Zones[k % len]); empty means DefaultZones.
	Zones []string
	// AutoScaling are the EC2 Auto Scaling groups (package autoscaling), served by the
	// endpoint and exposed as Lab.ASG. Each names its member instances and attached target
	// groups by index; its desired capacity is its number of members. As on AWS, where an
	// attached target group gets the group's instances, each member is registered in each
	// attached group on the group's port (besides the group's own Members). An InService
	// member that stays down (stopped, terminated, rebooting) or, with HealthCheckType ELB,
	// unhealthy in an attached group for longer than its grace period is deregistered,
	// terminated and removed from its group, and no instance replaces it; one in Standby is
	// never checked. An instance in no group is not checked, as before.
	AutoScaling []ASGSpec
}

// asgMembers are the instances (indexes) of the Auto Scaling groups that attach target
// group gi.
func (c Config) asgMembers(gi int) []int {
	var out []int
	for _, a := range c.AutoScaling {
		if slices.Contains(a.TargetGroups, gi) {
			for _, k := range a.Instances {
				if k >= 0 && k < c.Instances && !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// ASGSpec is an Auto Scaling group of the lab.
type ASGSpec struct {
	Name             string
	MinSize, MaxSize int
	// HealthCheckType is EC2 (when empty) or ELB.
	HealthCheckType string
	// HealthCheckGracePeriodSeconds is how long (lab seconds) an InService member may stay
	// unhealthy before the group replaces it.
	HealthCheckGracePeriodSeconds int
	// Instances are the members, as instance indexes.
	Instances []int
	// TargetGroups are the attached target groups, as indexes into Config.Groups.
	TargetGroups []int
}

// DefaultZones are three Availability Zones of the lab's region.
var DefaultZones = []string{awsapi.Region + "a", awsapi.Region + "b", awsapi.Region + "c"}

// Zone is the Availability Zone of the k-th instance.
func (c Config) Zone(k int) string {
	zones := c.Zones
	if len(zones) == 0 {
		zones = DefaultZones
	}
	return zones[k%len(zones)]
}

// GroupSpec is a target group and its registrations.
type GroupSpec struct {
	Name                       string
	Port                       int
	HealthCheck                elb.HealthCheck
	DeregistrationDelaySeconds int
	// Protocol is the group's protocol; empty means HTTP (an Application Load Balancer's).
	// Another (TCP, GENEVE) only changes what DescribeTargetGroups says.
	Protocol string
	// Unattached: no load balancer uses the group; its targets are unused (Target.NotInUse).
	Unattached bool
	// Threshold is its target_group_health unhealthy-state routing minimum (zero: ALB's
	// default, 1 target): below it the load balancer fails open.
	Threshold elb.ThresholdConfig
	// CrossZoneOff turns its cross-zone load balancing off (see elb.GroupConfig).
	CrossZoneOff bool
	// Members are the registrations: instance index and port (0: the group's port).
	Members []Member
}

// Member is one registration of an instance in a group.
type Member struct {
	Instance int
	Port     int
}

// PostHealthCheck is the post's target group health check: interval 6 s, thresholds 2
// and 2, on the service's root path.
var PostHealthCheck = elb.HealthCheck{Path: "/", IntervalSeconds: 6, TimeoutSeconds: 5, HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"}

// Demo is the default profile: the post's fleet (three hello-world instances behind one
// group on port 8080 with the post's health check), a 30 s deregistration delay, 30 s
// reboots, at twenty times AWS speed.
func Demo() Config {
	return Config{
		Scale: 0.05, Instances: 3, ServicePort: 8080, RebootSeconds: 30, PatchSeconds: 60,
		Groups: []GroupSpec{{Name: "hello-world", Port: 8080, HealthCheck: PostHealthCheck, DeregistrationDelaySeconds: 30,
			Members: []Member{{0, 0}, {1, 0}, {2, 0}}}},
	}
}

// Realistic is the demo at AWS speed with AWS's default deregistration delay (300 s).
func Realistic() Config {
	c := Demo()
	c.Scale = 1
	c.Groups[0].DeregistrationDelaySeconds = 300
	return c
}

// Names of the lab's deployment resources.
const (
	// CapacityTable holds the reservations and the rollouts' leases (package capacity);
	// RolloutTable the rollouts' plans and results (package rollout).
	CapacityTable           = "drainpipe-capacity"
	RolloutTable            = "drainpipe-rollouts"
	TopicARN                = "arn:aws:sns:" + awsapi.Region + ":" + awsapi.Account + ":drainpipe"
	InstanceStateMachineARN = "arn:aws:states:" + awsapi.Region + ":" + awsapi.Account + ":stateMachine:drainpipe-maintain-instance"
	FleetStateMachineARN    = "arn:aws:states:" + awsapi.Region + ":" + awsapi.Account + ":stateMachine:drainpipe-maintain-fleet"
	RestoreStateMachineARN  = "arn:aws:states:" + awsapi.Region + ":" + awsapi.Account + ":stateMachine:drainpipe-restore-execution"
)

// InstanceTag is the lab deployment's instanceTag (the stack's default): every instance
// carries it unless a test removes it.
var InstanceTag = workflow.Tag{Key: "drainpipe", Value: "enabled"}

// Lab is a running lab.
type Lab struct {
	Config    Config
	Clock     *clock.Clock
	Instances []*instance.Instance
	LB        *elb.LoadBalancer
	Groups    []*elb.Group
	// URLs are the listeners, one per group, in order.
	URLs []string
	SSM  *ssm.Executor
	API  *awsapi.Server
	// DynamoDB is the lab's DynamoDB (dynalite), behind API.
	DynamoDB *dynamodb.Server
	// SFN is the lab's Step Functions, with drainpipe's state machines registered.
	SFN *sfn.Service
	// ASG is the lab's EC2 Auto Scaling, with Config.AutoScaling's groups (none when it is
	// empty), behind API.
	ASG *autoscaling.Service

	dir  string
	byID map[string]*instance.Instance

	mu          sync.Mutex
	tags        map[string]map[string]string
	unmanaged   map[string]bool
	undelivered []error
	// states are the instances that are not running: stopped or terminated, and when.
	states map[string]lifecycle
	// terminatedVisible is how long (lab seconds) EC2 still shows a terminated instance.
	terminatedVisible float64
}

// Start builds and starts a lab. Close it when done.
func Start(cfg Config) (_ *Lab, err error) {
	if cfg.Instances < 1 || cfg.Instances > 250*250 {
		return nil, fmt.Errorf("lab: %d instances; 1 to 62500", cfg.Instances)
	}
	tools := cfg.Tools
	if tools == "" {
		wd, _ := os.Getwd()
		if tools, err = sfn.FindTools(wd); err != nil {
			return nil, err
		}
	}
	l := &Lab{Config: cfg, Clock: clock.New(cfg.Scale), byID: map[string]*instance.Instance{},
		tags: map[string]map[string]string{}, unmanaged: map[string]bool{}, states: map[string]lifecycle{},
		terminatedVisible: 3600}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.dir, err = os.MkdirTemp("", "drainpipe-lab-"); err != nil {
		return nil, err
	}
	if err = l.startInstances(); err != nil {
		return nil, err
	}
	l.LB = elb.New(l.Clock, l, awsapi.Region, awsapi.Account)
	l.LB.SetPropagation(cfg.DeregistrationPropagationSeconds)
	for gi, spec := range cfg.Groups {
		g := l.LB.CreateTargetGroup(elb.GroupConfig{Name: spec.Name, Port: int32(spec.Port), HealthCheck: spec.HealthCheck,
			DeregistrationDelaySeconds: spec.DeregistrationDelaySeconds, Protocol: spec.Protocol, Unattached: spec.Unattached,
			Threshold: spec.Threshold, CrossZoneOff: spec.CrossZoneOff})
		url, err := g.Listen()
		if err != nil {
			return nil, err
		}
		var refs []elb.TargetRef
		for _, m := range spec.Members {
			refs = append(refs, elb.TargetRef{ID: l.Instances[m.Instance].ID, Port: int32(m.Port)})
		}
		for _, k := range cfg.asgMembers(gi) {
			id := l.Instances[k].ID
			if !slices.ContainsFunc(refs, func(r elb.TargetRef) bool { return r.ID == id && (r.Port == 0 || r.Port == int32(spec.Port)) }) {
				refs = append(refs, elb.TargetRef{ID: id})
			}
		}
		if err := l.LB.RegisterTargets(g.ARN, refs); err != nil {
			return nil, err
		}
		l.Groups, l.URLs = append(l.Groups, g), append(l.URLs, url)
	}
	if l.ASG, err = l.createAutoScaling(); err != nil {
		return nil, err
	}
	l.SSM = ssm.New(l.Clock, l, l.dir)
	l.SSM.PatchSeconds = cfg.PatchSeconds
	if l.DynamoDB, err = dynamodb.Start(tools); err != nil {
		return nil, err
	}
	l.SFN = &sfn.Service{Tools: tools, Scale: cfg.Scale, Region: awsapi.Region, Account: awsapi.Account, Values: map[string]string{
		catalog.MaintainInstanceStateMachineArn: InstanceStateMachineARN,
		catalog.CapacityTableName:               CapacityTable,
		catalog.RolloutTableName:                RolloutTable,
		catalog.NotificationTopicArn:            TopicARN,
		catalog.InstanceTagKey:                  InstanceTag.Key,
		catalog.InstanceTagValue:                InstanceTag.Value,
	}}
	for _, f := range catalog.All {
		l.SFN.Values[f.Placeholder()] = awsapi.FunctionARN(f.Name)
	}
	if l.API, err = awsapi.Start(awsapi.Backends{ELB: l.LB, SSM: l.SSM, EC2: l, DynamoDB: l.DynamoDB, SFN: l.SFN, AutoScaling: l.ASG}, l.Clock); err != nil {
		return nil, err
	}
	// The health checks terminate through the lab, which records it with the endpoint:
	// they start once it is up.
	l.ASG.Start(context.Background())
	l.SFN.Env = l.API.Env()
	l.SSM.AlarmState = l.API.Alarms.State
	if err = l.createTables(); err != nil {
		return nil, err
	}
	for _, file := range []string{statemachine.MaintainInstance, statemachine.MaintainFleet, statemachine.RestoreExecution} {
		def, err := statemachine.Definition(file)
		if err != nil {
			return nil, err
		}
		if _, err := l.SFN.CreateStateMachine(statemachine.Name(file), def); err != nil {
			return nil, err
		}
	}
	l.SFN.OnStatusChange(l.restoreOnEnd)
	if err := l.SFN.Start(); err != nil {
		return nil, err
	}
	return l, nil
}

// restoreOnEnd is the deployment's EventBridge rule: an execution of the instance or the
// fleet state machine that ends in a status of statemachine.RestoreOn starts the restore
// state machine with the event. EventBridge delivers at least once, so the lab delivers
// every such event twice: the restore must act once.
func (l *Lab) restoreOnEnd(c sfn.StatusChange) {
	d := c.Detail
	if d.StateMachineARN != InstanceStateMachineARN && d.StateMachineARN != FleetStateMachineARN || !slices.Contains(statemachine.RestoreOn, d.Status) {
		return
	}
	for range 2 {
		if _, err := l.SFN.StartExecution(RestoreStateMachineARN, "", c.JSON(), ""); err != nil {
			l.mu.Lock()
			l.undelivered = append(l.undelivered, fmt.Errorf("restoring after %s: %w", d.ExecutionARN, err))
			l.mu.Unlock()
		}
	}
}

// Undelivered lists the status change events the lab could not deliver to the restore
// state machine (none, unless the lab is closing).
func (l *Lab) Undelivered() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.undelivered)
}

// startInstances starts the instances on a /16 of loopback addresses picked at random,
// 127.X.Y.Z, so that labs running side by side (parallel tests) do not collide.
func (l *Lab) startInstances() error {
	var err error
	for range 8 { // another lab may hold the /16 picked: pick again
		if err = l.startInstancesOn(); err == nil {
			return nil
		}
		for _, inst := range l.Instances {
			inst.Stop()
		}
		l.Instances, l.byID = nil, map[string]*instance.Instance{}
	}
	return err
}

func (l *Lab) startInstancesOn() error {
	var b [10]byte
	_, _ = rand.Read(b[:])
	x := 1 + int(b[0])%250
	base := binary.BigEndian.Uint64(b[2:]) &^ 0xffff
	for k := range l.Config.Instances {
		ports := []int{l.Config.ServicePort}
		for gi, g := range l.Config.Groups {
			for _, m := range g.Members {
				if p := m.Port; m.Instance == k && p != 0 && !slices.Contains(ports, p) {
					ports = append(ports, p)
				}
			}
			onPort := slices.ContainsFunc(g.Members, func(m Member) bool { return m.Instance == k && m.Port == 0 }) ||
				slices.Contains(l.Config.asgMembers(gi), k)
			if p := g.Port; onPort && !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
		id := fmt.Sprintf("i-0%016x", base+uint64(k))
		ip := fmt.Sprintf("127.%d.%d.%d", x, 1+k/250, 1+k%250)
		inst := instance.New(id, ip, ports, l.Config.RebootSeconds, l.Clock)
		inst.Simulated = l.Config.Simulated
		if err := inst.Start(); err != nil {
			return err
		}
		l.Instances = append(l.Instances, inst)
		l.byID[id] = inst
	}
	return nil
}

// Probe is the load balancer's health check of a simulated instance.
func (l *Lab) Probe(id string) (up, ok bool) {
	inst, found := l.byID[id]
	if !found {
		return false, false
	}
	return inst.Probe()
}

// Zone is an instance's Availability Zone ("" for an id the lab does not have).
func (l *Lab) Zone(id string) string {
	for k, inst := range l.Instances {
		if inst.ID == id {
			return l.Config.Zone(k)
		}
	}
	return ""
}

// Address is EC2's view of an instance: its private address. An instance EC2 no longer
// shows (terminated long enough ago) does not exist.
func (l *Lab) Address(id string) (string, bool) {
	inst, ok := l.byID[id]
	if !ok {
		return "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone(id) {
		return "", false
	}
	return inst.IP, true
}

// Describe is EC2's (and SSM's) view of the instances: every instance carries the tag
// drainpipe=enabled unless a test changes it; its SSM agent is online while it is up. A
// stopped instance keeps its address; a terminated one has none and is shown for an hour
// (SetTerminatedVisibleSeconds).
func (l *Lab) Describe(ids []string) []awsapi.Instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []awsapi.Instance
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for k, inst := range l.Instances {
		if len(ids) > 0 && !want[inst.ID] || l.gone(inst.ID) {
			continue
		}
		tags := map[string]string{InstanceTag.Key: InstanceTag.Value, "Name": "hello-world"}
		for k, v := range l.tags[inst.ID] {
			tags[k] = v
		}
		state, ip := l.states[inst.ID].state, inst.IP
		if state == "" {
			state = elb.InstanceRunning
		}
		if state == elb.InstanceTerminated {
			ip = ""
		}
		out = append(out, awsapi.Instance{ID: inst.ID, PrivateIP: ip, State: state, Tags: tags, Zone: l.Config.Zone(k),
			SSMManaged: !l.unmanaged[inst.ID], SSMOnline: !l.unmanaged[inst.ID] && inst.Up()})
	}
	return out
}

// CreateTags adds or replaces tags on instances.
func (l *Lab) CreateTags(ids []string, tags map[string]string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if _, ok := l.byID[id]; !ok {
			return fmt.Errorf("the instance ID '%s' does not exist", id)
		}
		if l.tags[id] == nil {
			l.tags[id] = map[string]string{}
		}
		for k, v := range tags {
			l.tags[id][k] = v
		}
	}
	return nil
}

// SetUnmanaged is a fault hook: the instance's SSM agent is not registered.
func (l *Lab) SetUnmanaged(id string, unmanaged bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unmanaged[id] = unmanaged
}

// Instance finds an instance by id.
func (l *Lab) Instance(id string) (*instance.Instance, bool) {
	inst, ok := l.byID[id]
	return inst, ok
}

// createAutoScaling creates the Auto Scaling groups of the configuration.
func (l *Lab) createAutoScaling() (*autoscaling.Service, error) {
	svc := autoscaling.New(l.Clock, l.LB, asgInstances{l}, awsapi.Region, awsapi.Account)
	for _, spec := range l.Config.AutoScaling {
		gs := autoscaling.GroupSpec{Name: spec.Name, MinSize: spec.MinSize, MaxSize: spec.MaxSize, HealthCheckType: spec.HealthCheckType,
			HealthCheckGracePeriod: spec.HealthCheckGracePeriodSeconds}
		for _, k := range spec.Instances {
			if k < 0 || k >= len(l.Instances) {
				return nil, fmt.Errorf("lab: Auto Scaling group %s: no instance %d", spec.Name, k)
			}
			gs.Instances = append(gs.Instances, l.Instances[k].ID)
		}
		for _, k := range spec.TargetGroups {
			if k < 0 || k >= len(l.Groups) {
				return nil, fmt.Errorf("lab: Auto Scaling group %s: no target group %d", spec.Name, k)
			}
			gs.TargetGroupARNs = append(gs.TargetGroupARNs, l.Groups[k].ARN)
		}
		if err := svc.CreateGroup(gs); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	return svc, nil
}

// asgInstances is EC2 as the Auto Scaling groups see it.
type asgInstances struct{ l *Lab }

// Up: running and booted (not stopped, terminated or rebooting).
func (a asgInstances) Up(id string) bool {
	inst, ok := a.l.byID[id]
	return ok && inst.Up()
}

func (a asgInstances) Zone(id string) string { return a.l.Zone(id) }

// Terminate terminates the instance as TerminateInstance does, recorded as the group's
// doing (AutoScalingTerminate) rather than a fault a test injected.
func (a asgInstances) Terminate(id string) error {
	return a.l.powerOff(id, elb.InstanceTerminated, "AutoScalingTerminate")
}

// Close stops everything the lab started and removes its files.
func (l *Lab) Close() {
	if l.ASG != nil { // first: its health checks terminate through the others
		l.ASG.Close()
	}
	if l.SFN != nil {
		l.SFN.Close()
	}
	if l.API != nil {
		l.API.Close()
	}
	if l.DynamoDB != nil {
		l.DynamoDB.Close()
	}
	if l.SSM != nil {
		l.SSM.Close()
	}
	if l.LB != nil {
		l.LB.Close()
	}
	for _, inst := range l.Instances {
		inst.Stop()
	}
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}

// MaintainFleet runs the fleet state machine with the input.
func (l *Lab) MaintainFleet(ctx context.Context, name string, input any, onEvent func(sfn.Event)) (sfn.Result, error) {
	return l.SFN.Run(ctx, FleetStateMachineARN, name, input, onEvent)
}

// MaintainInstance runs the instance state machine with the input.
func (l *Lab) MaintainInstance(ctx context.Context, name string, input any, onEvent func(sfn.Event)) (sfn.Result, error) {
	return l.SFN.Run(ctx, InstanceStateMachineARN, name, input, onEvent)
}

// RunDefinition registers a definition (its placeholders substituted as drainpipe's are)
// as the state machine name and runs it with the input.
func (l *Lab) RunDefinition(ctx context.Context, name string, def []byte, input any, onEvent func(sfn.Event)) (sfn.Result, error) {
	arn, err := l.SFN.CreateStateMachine(name, def)
	if err != nil {
		return sfn.Result{}, err
	}
	return l.SFN.Run(ctx, arn, "", input, onEvent)
}

// createTables creates the deployment's tables, with the key schema the CDK app gives them.
func (l *Lab) createTables() error {
	ctx := context.Background()
	cfg, err := l.API.Config(ctx)
	if err != nil {
		return err
	}
	db := awsdynamodb.NewFromConfig(cfg)
	if err := dynamodb.CreateTable(ctx, db, CapacityTable, ddbitem.CapacityKey, ""); err != nil {
		return err
	}
	return dynamodb.CreateTable(ctx, db, RolloutTable, rollout.PartitionKey, rollout.SortKey)
}

// Items returns every item of a table (a consistent scan), for tests and views.
func (l *Lab) Items(ctx context.Context, table string) ([]map[string]ddbtypes.AttributeValue, error) {
	cfg, err := l.API.Config(ctx)
	if err != nil {
		return nil, err
	}
	var items []map[string]ddbtypes.AttributeValue
	pages := awsdynamodb.NewScanPaginator(awsdynamodb.NewFromConfig(cfg), &awsdynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

// FunctionLogHandler writes the functions' log lines to w as Lambda writes them to
// CloudWatch Logs with the JSON log format: one JSON object a line, its keys as
// aws-lambda-go names them (timestamp, level, message), with the invocation's request id (which the lab's Invoke puts in the context, as the runtime
// does).
func FunctionLogHandler(w io.Writer) slog.Handler {
	return requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
