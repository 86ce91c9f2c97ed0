package targets

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

const (
	inst   = "i-0123456789abcdef0"
	other  = "i-0aaaaaaaaaaaaaaa1"
	third  = "i-0bbbbbbbbbbbbbbb2"
	webARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	apiARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
	ipARN  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ips/00000000000000aa"
)

const (
	healthy  = types.TargetHealthStateEnumHealthy
	draining = types.TargetHealthStateEnumDraining
	initial  = types.TargetHealthStateEnumInitial
)

// fleet: web holds inst:8080 and other:8080; api holds inst on two ports and third;
// ips is an ip-type group.
func fleet() *fakeELB {
	return &fakeELB{groups: []*fakeGroup{
		{arn: webARN, name: "web", targetType: "instance", delay: "300", interval: 6, threshold: 2,
			targets: []fakeTarget{{id: inst, port: 8080, state: healthy}, {id: other, port: 8080, state: healthy}}},
		{arn: ipARN, name: "ips", targetType: "ip", delay: "300", interval: 30, threshold: 5,
			targets: []fakeTarget{{id: "10.0.0.1", port: 80, state: healthy}}},
		{arn: apiARN, name: "api", targetType: "instance", delay: "30", interval: 10, threshold: 3,
			targets: []fakeTarget{{id: inst, port: 9090, state: healthy}, {id: inst, port: 9091, state: healthy}, {id: third, port: 9090, state: healthy}}},
	}}
}

func wantName(t *testing.T, err error, name, msgPart string) {
	t.Helper()
	var named *faults.Error
	if !errors.As(err, &named) {
		t.Fatalf("error = %v, want a %s", err, name)
	}
	if named.Name != name || !strings.Contains(named.Message, msgPart) {
		t.Fatalf("error = %s: %s, want %s containing %q", named.Name, named.Message, name, msgPart)
	}
}

func input(arns ...string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"instanceId": inst, "targetGroupArns": arns, "maintenance": map[string]string{"action": "reboot"}})
	return b
}

func TestResolve(t *testing.T) {
	token := func() string { return "tok" }
	tests := []struct {
		name     string
		elb      func() *fakeELB
		input    json.RawMessage
		wantRegs []workflow.Registration
		wantErr  string
		wantMsg  string
	}{
		{name: "given group", elb: fleet, input: input(webARN),
			wantRegs: []workflow.Registration{{TargetGroupARN: webARN, Port: 8080}}},
		{name: "a group whose delay is 0, the loss accepted", elb: func() *fakeELB { f := fleet(); f.groups[0].delay = "0"; return f },
			input:    json.RawMessage(`{"instanceId":"` + inst + `","targetGroupArns":["` + webARN + `"],"maintenance":{"action":"reboot"},"acceptRequestLoss":true}`),
			wantRegs: []workflow.Registration{{TargetGroupARN: webARN, Port: 8080}}},
		{name: "every port in a group", elb: fleet, input: input(apiARN),
			wantRegs: []workflow.Registration{{TargetGroupARN: apiARN, Port: 9090}, {TargetGroupARN: apiARN, Port: 9091}}},
		{name: "discovery skips ip groups and groups without the instance", elb: fleet,
			input:    json.RawMessage(`{"instanceId":"` + inst + `","maintenance":{"action":"reboot"}}`),
			wantRegs: []workflow.Registration{{TargetGroupARN: webARN, Port: 8080}, {TargetGroupARN: apiARN, Port: 9090}, {TargetGroupARN: apiARN, Port: 9091}}},
		{name: "discovery finds nothing", elb: fleet,
			input:   json.RawMessage(`{"instanceId":"i-0ccccccccccccccc3","maintenance":{"action":"reboot"}}`),
			wantErr: faults.InstanceNotInTargetGroup, wantMsg: "not registered in any instance target group"},
		{name: "instance not in the given group", elb: fleet,
			input:   json.RawMessage(`{"instanceId":"` + third + `","targetGroupArns":["` + webARN + `"],"maintenance":{"action":"reboot"}}`),
			wantErr: faults.InstanceNotInTargetGroup, wantMsg: "is not registered in target group " + webARN},
		{name: "ip target group", elb: fleet, input: input(ipARN), wantErr: faults.UnsupportedTargetType, wantMsg: `target type "ip"`},
		{name: "unknown group", elb: fleet, input: input("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gone/1111111111111111"),
			wantErr: faults.TargetGroupNotFound, wantMsg: "check the ARN"},
		{name: "bad input changes nothing and calls nothing", elb: func() *fakeELB {
			f := fleet()
			f.fail = map[string]error{"DescribeTargetGroups": errors.New("must not be called")}
			return f
		},
			input: json.RawMessage(`{"instanceId":"i-1","maintenance":{"action":"reboot"}}`), wantErr: faults.InvalidInput, wantMsg: "not an EC2 instance id"},
		{name: "a Network Load Balancer's group", elb: func() *fakeELB { f := fleet(); f.groups[0].protocol = types.ProtocolEnumTcp; return f }, input: input(webARN),
			wantErr: faults.UnsupportedLoadBalancer, wantMsg: "target group web uses protocol TCP"},
		{name: "a Gateway Load Balancer's group", elb: func() *fakeELB { f := fleet(); f.groups[2].protocol = types.ProtocolEnumGeneve; return f }, input: input(webARN, apiARN),
			wantErr: faults.UnsupportedLoadBalancer, wantMsg: "target group api uses protocol GENEVE"},
		{name: "a discovered NLB group the instance serves in", elb: func() *fakeELB { f := fleet(); f.groups[2].protocol = types.ProtocolEnumTls; return f },
			input:   json.RawMessage(`{"instanceId":"` + inst + `","maintenance":{"action":"reboot"}}`),
			wantErr: faults.UnsupportedLoadBalancer, wantMsg: "target group api uses protocol TLS"},
		{name: "a discovered NLB group the instance is not in is no obstacle", elb: func() *fakeELB { f := fleet(); f.groups[2].protocol = types.ProtocolEnumUdp; return f },
			input:    json.RawMessage(`{"instanceId":"` + other + `","maintenance":{"action":"reboot"}}`),
			wantRegs: []workflow.Registration{{TargetGroupARN: webARN, Port: 8080}}},
		{name: "a group attached to no load balancer", elb: func() *fakeELB { f := fleet(); f.groups[0].unattached = true; return f }, input: input(webARN),
			wantErr: faults.TargetGroupNotInUse, wantMsg: `"unused" (Target.NotInUse)`},
		{name: "a group whose delay is 0", elb: func() *fakeELB { f := fleet(); f.groups[0].delay = "0"; return f }, input: input(webARN),
			wantErr: faults.DeregistrationDelayTooShort, wantMsg: "deregistration_delay.timeout_seconds 0"},
		{name: "missing delay attribute", elb: func() *fakeELB { f := fleet(); f.groups[0].delay = ""; return f }, input: input(webARN),
			wantErr: faults.InternalError},
		{name: "throttled", elb: func() *fakeELB {
			f := fleet()
			f.fail = map[string]error{"DescribeTargetHealth": &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}}
			return f
		}, input: input(webARN), wantErr: faults.TransientAPIError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elb := tt.elb()
			plan, err := Resolver{API: elb, Token: token}.Resolve(context.Background(), tt.input)
			if len(elb.calls) != 0 {
				t.Errorf("resolve changed something: %v", elb.calls)
			}
			if tt.wantErr != "" {
				if got := faults.NameOf(err); got != tt.wantErr {
					t.Fatalf("error %v named %s, want %s", err, got, tt.wantErr)
				}
				if tt.wantMsg != "" {
					wantName(t, err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(plan.Registrations, tt.wantRegs) {
				t.Errorf("registrations = %+v, want %+v", plan.Registrations, tt.wantRegs)
			}
		})
	}
}

func TestResolveReadsGroupSettings(t *testing.T) {
	plan, err := Resolver{API: fleet(), Token: func() string { return "tok" }}.Resolve(context.Background(), input(webARN, apiARN))
	if err != nil {
		t.Fatal(err)
	}
	want := []workflow.TargetGroup{
		{ARN: webARN, Name: "web", DeregistrationDelaySeconds: 300, HealthCheckIntervalSeconds: 6, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 2},
		{ARN: apiARN, Name: "api", DeregistrationDelaySeconds: 30, HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 3},
	}
	if !reflect.DeepEqual(plan.TargetGroups, want) {
		t.Errorf("groups = %+v\nwant %+v", plan.TargetGroups, want)
	}
	if plan.Waits.DeregistrationDelaySeconds != 300 || plan.Deadlines.DrainSeconds != 300+workflow.DrainMargin {
		t.Errorf("waits %+v deadlines %+v: the drain must follow the longest delay", plan.Waits, plan.Deadlines)
	}
	if !strings.Contains(strings.Join(plan.Maintenance.Parameters["commands"], "\n"), "drainpipe-reboot-tok.flag") {
		t.Errorf("reboot script does not use the execution token: %v", plan.Maintenance.Parameters["commands"])
	}
}

func state(regs ...workflow.Registration) workflow.State {
	return workflow.State{Plan: workflow.Plan{InstanceID: inst, Registrations: regs, Deadlines: workflow.Deadlines{DrainSeconds: 360, HealthySeconds: 80}}}
}

var (
	webReg  = workflow.Registration{TargetGroupARN: webARN, Port: 8080}
	api9090 = workflow.Registration{TargetGroupARN: apiARN, Port: 9090}
	api9091 = workflow.Registration{TargetGroupARN: apiARN, Port: 9091}
)

func TestCheckInstance(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*fakeELB)
		regs    []workflow.Registration
		wantErr string
	}{
		{name: "healthy on every port", regs: []workflow.Registration{webReg, api9090, api9091}},
		{name: "initial", change: func(f *fakeELB) { f.groups[0].targets[0].state = initial }, regs: []workflow.Registration{webReg}, wantErr: faults.InstanceNotHealthy},
		{name: "one port unhealthy", change: func(f *fakeELB) { f.groups[2].targets[1].state = types.TargetHealthStateEnumUnhealthy },
			regs: []workflow.Registration{api9090, api9091}, wantErr: faults.InstanceNotHealthy},
		{name: "deregistered meanwhile", change: func(f *fakeELB) { f.groups[0].targets = f.groups[0].targets[1:] }, regs: []workflow.Registration{webReg}, wantErr: faults.InstanceNotInTargetGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elb := fleet()
			if tt.change != nil {
				tt.change(elb)
			}
			report, err := Checker{API: elb}.CheckInstance(context.Background(), state(tt.regs...))
			if got := faults.NameOf(err); tt.wantErr != "" && got != tt.wantErr {
				t.Fatalf("error %v named %s, want %s", err, got, tt.wantErr)
			}
			if tt.wantErr == "" && (err != nil || !report.Done || len(report.Targets) != len(tt.regs)) {
				t.Fatalf("report %+v, error %v", report, err)
			}
		})
	}
}

func TestDeregisterAndRegisterUseExactPorts(t *testing.T) {
	elb := fleet()
	start := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	r := Registrar{API: elb, Now: func() time.Time { return start }}
	s := state(webReg, api9090, api9091)
	d, err := r.Deregister(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if d.DrainDeadline != "2026-11-22T03:06:00Z" {
		t.Errorf("drain deadline = %s, want start + 360 s", d.DrainDeadline)
	}
	reg, err := r.Register(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if reg.HealthyDeadline != "2026-11-22T03:01:20Z" {
		t.Errorf("healthy deadline = %s, want start + 80 s", reg.HealthyDeadline)
	}
	want := []string{
		"DeregisterTargets web " + inst + ":8080", "DeregisterTargets api " + inst + ":9090", "DeregisterTargets api " + inst + ":9091",
		"RegisterTargets web " + inst + ":8080", "RegisterTargets api " + inst + ":9090", "RegisterTargets api " + inst + ":9091",
	}
	if !reflect.DeepEqual(elb.calls, want) {
		t.Errorf("calls = %v\nwant %v", elb.calls, want)
	}
	// ELB refuses an instance that is no longer running (InvalidTarget): named, so the
	// rollback and the restore know there is nothing to put back.
	elb.fail = map[string]error{"RegisterTargets": &types.InvalidTargetException{Message: new("The following targets are not in a running state and cannot be registered: '" + inst + "'")}}
	if _, err := r.Register(context.Background(), s); faults.NameOf(err) != faults.InstanceNotRunning || !strings.Contains(err.Error(), "not in a running state") {
		t.Errorf("register error = %v (%s), want InstanceNotRunning with ELB's words", err, faults.NameOf(err))
	}
	elb.fail = map[string]error{"RegisterTargets": &types.TargetGroupNotFoundException{Message: new("One or more target groups not found")}}
	if _, err := r.Register(context.Background(), s); faults.NameOf(err) != faults.TargetGroupNotFound || !strings.Contains(err.Error(), "no longer exist") {
		t.Errorf("register error = %v (%s), want TargetGroupNotFound", err, faults.NameOf(err))
	}
	elb.fail = map[string]error{"RegisterTargets": &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}}
	if _, err := r.Register(context.Background(), s); faults.NameOf(err) != faults.APIError {
		t.Errorf("register error = %v (%s), want APIError", err, faults.NameOf(err))
	}
	if _, err := r.Deregister(context.Background(), state()); faults.NameOf(err) != faults.InvalidInput {
		t.Errorf("deregister without registrations: %v", err)
	}
}

func TestCheckDrain(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		change   func(*fakeELB)
		at       time.Duration
		wantDone bool
		wantErr  string
	}{
		{name: "still draining", change: func(f *fakeELB) {}, at: time.Minute},
		{name: "one group drained, one draining", change: func(f *fakeELB) { f.groups[0].targets = f.groups[0].targets[1:] }, at: time.Minute},
		{name: "all unused", change: func(f *fakeELB) {
			f.groups[0].targets = f.groups[0].targets[1:]
			f.groups[2].targets = f.groups[2].targets[2:]
		}, at: time.Minute, wantDone: true},
		{name: "draining past the deadline", change: func(f *fakeELB) {}, at: 7 * time.Minute, wantErr: faults.DrainTimeout},
		{name: "drained just past the deadline is still a success", change: func(f *fakeELB) {
			f.groups[0].targets = f.groups[0].targets[1:]
			f.groups[2].targets = f.groups[2].targets[2:]
		}, at: 7 * time.Minute, wantDone: true},
		{name: "registered again by someone else", change: func(f *fakeELB) {
			f.groups[0].targets = f.groups[0].targets[1:]
			f.groups[2].targets[0].state = initial
		}, at: time.Minute, wantErr: faults.DrainInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elb := fleet()
			s := state(webReg, api9090, api9091)
			if _, err := (Registrar{API: elb}).Deregister(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			tt.change(elb)
			s.Deregistration = &workflow.Deregistration{DeregisteredAt: start.Format(time.RFC3339), DrainDeadline: workflow.Deadline(start, 360)}
			report, err := Checker{API: elb, Now: func() time.Time { return start.Add(tt.at) }}.CheckDrain(context.Background(), s)
			if tt.wantErr != "" {
				if got := faults.NameOf(err); got != tt.wantErr {
					t.Fatalf("error %v named %s, want %s", err, got, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if report.Done != tt.wantDone || len(report.Targets) != 3 {
				t.Errorf("report = %+v, want done=%v over 3 registrations", report, tt.wantDone)
			}
		})
	}
	if _, err := (Checker{API: fleet()}).CheckDrain(context.Background(), state(webReg)); faults.NameOf(err) != faults.InvalidInput {
		t.Errorf("check-drain without a deregistration result: %v", err)
	}
}

func TestCheckHealthy(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		change   func(*fakeELB)
		at       time.Duration
		wantDone bool
		wantErr  string
		wantMsg  string
	}{
		{name: "healthy everywhere", at: 10 * time.Second, wantDone: true},
		{name: "initial", change: func(f *fakeELB) { f.groups[2].targets[1].state = initial }, at: 10 * time.Second},
		// The instance is back: the rest of its groups is the reservations' concern (package
		// capacity), and another execution may hold a sibling out.
		{name: "other target unhealthy", change: func(f *fakeELB) { f.groups[0].targets[1].state = types.TargetHealthStateEnumUnhealthy }, at: 10 * time.Second, wantDone: true},
		{name: "initial past the deadline", change: func(f *fakeELB) { f.groups[2].targets[1].state = initial }, at: 2 * time.Minute,
			wantErr: faults.TargetNotHealthy, wantMsg: inst + ":9091 in api is initial"},
		{name: "not registered", change: func(f *fakeELB) { f.groups[0].targets = f.groups[0].targets[1:] }, at: 10 * time.Second,
			wantErr: faults.TargetNotHealthy, wantMsg: inst + ":8080 is not registered in web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elb := fleet()
			if tt.change != nil {
				tt.change(elb)
			}
			s := state(webReg, api9090, api9091)
			s.Registration = &workflow.Registered{RegisteredAt: start.Format(time.RFC3339), HealthyDeadline: workflow.Deadline(start, 80)}
			report, err := Checker{API: elb, Now: func() time.Time { return start.Add(tt.at) }}.CheckHealthy(context.Background(), s)
			if tt.wantErr != "" {
				wantName(t, err, tt.wantErr, tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if report.Done != tt.wantDone {
				t.Errorf("done = %v, want %v (%+v)", report.Done, tt.wantDone, report)
			}
		})
	}
}

// TestFloorOfAnotherGroup: a floor is only for the instance's own groups.
func TestFloorOfAnotherGroup(t *testing.T) {
	in := json.RawMessage(`{"instanceId":"` + inst + `","targetGroupArns":["` + webARN + `"],"maintenance":{"action":"reboot"},"minHealthyTargets":{"` + apiARN + `":1}}`)
	if _, err := (Resolver{API: fleet()}).Resolve(context.Background(), in); faults.NameOf(err) != faults.InvalidInput {
		t.Errorf("a floor for a group the instance is not in: %v", err)
	}
}

// TestNotServing: a target under an administrative override in effect (a zonal shift), or
// found anomalous, is not serving; no_override and a normal verdict change nothing.
func TestNotServing(t *testing.T) {
	desc := func(override types.TargetAdministrativeOverrideStateEnum, anomaly types.AnomalyResultEnum) types.TargetHealthDescription {
		d := types.TargetHealthDescription{Target: &types.TargetDescription{Id: new("i-0123456789abcdef0"), Port: new(int32(80))},
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumHealthy}}
		if override != "" {
			d.AdministrativeOverride = &types.AdministrativeOverride{State: override}
		}
		if anomaly != "" {
			d.AnomalyDetection = &types.AnomalyDetection{Result: anomaly}
		}
		return d
	}
	for _, c := range []struct {
		d       types.TargetHealthDescription
		want    string
		serving bool
	}{
		{desc("", ""), "", true},
		{desc(types.TargetAdministrativeOverrideStateEnumNoOverride, types.AnomalyResultEnumNormal), "", true},
		{desc(types.TargetAdministrativeOverrideStateEnumZonalShiftActive, ""), "zonal_shift_active", false},
		{desc(types.TargetAdministrativeOverrideStateEnumNoOverride, types.AnomalyResultEnumAnomalous), "anomalous", false},
	} {
		s := toStates(webARN, []types.TargetHealthDescription{c.d})[0]
		if s.NotServing != c.want || s.Serving() != c.serving {
			t.Errorf("%+v %+v: not serving %q (serving %v), want %q", c.d.AdministrativeOverride, c.d.AnomalyDetection, s.NotServing, s.Serving(), c.want)
		}
	}
}

// attrs answers DescribeTargetGroupAttributes with the given attributes.
type attrs map[string]string

func (a attrs) DescribeTargetGroupAttributes(_ context.Context, _ *elbv2.DescribeTargetGroupAttributesInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	var out elbv2.DescribeTargetGroupAttributesOutput
	for k, v := range a {
		out.Attributes = append(out.Attributes, types.TargetGroupAttribute{Key: new(k), Value: new(v)})
	}
	return &out, nil
}

// TestGroupThresholds: the group's own target_group_health settings, the higher of the
// two kinds, "off" for none; and the floor they set for a group of n targets.
func TestGroupThresholds(t *testing.T) {
	const (
		usrCount = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"
		usrPct   = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"
		dnsCount = "target_group_health.dns_failover.minimum_healthy_targets.count"
		dnsPct   = "target_group_health.dns_failover.minimum_healthy_targets.percentage"
	)
	g := types.TargetGroup{TargetGroupArn: new(webARN)}
	for _, c := range []struct {
		attrs          attrs
		count, percent int
		floorOf10      int
		err            string
	}{
		{attrs{usrCount: "1", usrPct: "off", dnsCount: "1", dnsPct: "off"}, 1, 0, 1, ""},
		{attrs{usrCount: "3", usrPct: "off", dnsCount: "2", dnsPct: "off"}, 3, 0, 3, ""},
		{attrs{usrCount: "1", usrPct: "50", dnsCount: "1", dnsPct: "25"}, 1, 50, 5, ""},
		{attrs{usrCount: "2", usrPct: "off", dnsCount: "1", dnsPct: "71"}, 2, 71, 8, ""},
		{attrs{usrCount: "lots"}, 0, 0, 0, "neither off nor a number"},
	} {
		c.attrs["deregistration_delay.timeout_seconds"] = "30"
		s, err := GroupSettings(context.Background(), c.attrs, g)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: %v, want %q", c.attrs, err, c.err)
			}
			continue
		}
		if err != nil || s.ThresholdCount != c.count || s.ThresholdPercent != c.percent || s.OwnFloor(10) != c.floorOf10 {
			t.Errorf("%v: %+v (floor of 10: %d) %v, want %d, %d%%, %d", c.attrs, s, s.OwnFloor(10), err, c.count, c.percent, c.floorOf10)
		}
	}
}
