package targets

import (
	"context"
	"strconv"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// fakeELB is a small in-memory ELBv2: groups with targets in given states. Registering
// makes a target initial, deregistering makes it draining, as ALB does.
type fakeELB struct {
	groups []*fakeGroup
	// fail makes the named operation return the error.
	fail map[string]error
	// calls records every mutating call as "Op arn id:port".
	calls []string
}

type fakeGroup struct {
	arn, name, targetType string
	delay                 string
	interval, threshold   int32
	// protocol is the group's protocol; empty means HTTP (an ALB's group).
	protocol types.ProtocolEnum
	// unattached: no load balancer uses the group.
	unattached bool
	targets    []fakeTarget
}

type fakeTarget struct {
	id     string
	port   int32
	state  types.TargetHealthStateEnum
	reason types.TargetHealthReasonEnum
}

func (f *fakeELB) group(arn string) *fakeGroup {
	for _, g := range f.groups {
		if g.arn == arn {
			return g
		}
	}
	return nil
}

func str(s string) *string { return &s }
func i32(v int32) *int32   { return &v }

func (f *fakeELB) DescribeTargetGroups(_ context.Context, in *elbv2.DescribeTargetGroupsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error) {
	if err := f.fail["DescribeTargetGroups"]; err != nil {
		return nil, err
	}
	var out elbv2.DescribeTargetGroupsOutput
	convert := func(g *fakeGroup) types.TargetGroup {
		tg := types.TargetGroup{TargetGroupArn: str(g.arn), TargetGroupName: str(g.name), TargetType: types.TargetTypeEnum(g.targetType),
			HealthCheckIntervalSeconds: i32(g.interval), HealthCheckTimeoutSeconds: i32(5), HealthyThresholdCount: i32(g.threshold),
			Protocol: g.protocol, LoadBalancerArns: []string{"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"}}
		if tg.Protocol == "" {
			tg.Protocol = types.ProtocolEnumHttp
		}
		if g.unattached {
			tg.LoadBalancerArns = nil
		}
		return tg
	}
	if len(in.TargetGroupArns) > 0 {
		for _, arn := range in.TargetGroupArns {
			g := f.group(arn)
			if g == nil {
				return nil, &types.TargetGroupNotFoundException{Message: str("One or more target groups not found")}
			}
			out.TargetGroups = append(out.TargetGroups, convert(g))
		}
		return &out, nil
	}
	// Pages of one group, to exercise pagination.
	start := 0
	if in.Marker != nil {
		start, _ = strconv.Atoi(*in.Marker)
	}
	if start < len(f.groups) {
		out.TargetGroups = []types.TargetGroup{convert(f.groups[start])}
	}
	if start+1 < len(f.groups) {
		out.NextMarker = str(strconv.Itoa(start + 1))
	}
	return &out, nil
}

func (f *fakeELB) DescribeTargetGroupAttributes(_ context.Context, in *elbv2.DescribeTargetGroupAttributesInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	g := f.group(*in.TargetGroupArn)
	if g == nil {
		return nil, &types.TargetGroupNotFoundException{Message: str("not found")}
	}
	out := &elbv2.DescribeTargetGroupAttributesOutput{Attributes: []types.TargetGroupAttribute{{Key: str("stickiness.enabled"), Value: str("false")}}}
	if g.delay != "" {
		out.Attributes = append(out.Attributes, types.TargetGroupAttribute{Key: str("deregistration_delay.timeout_seconds"), Value: str(g.delay)})
	}
	return out, nil
}

func (f *fakeELB) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	if err := f.fail["DescribeTargetHealth"]; err != nil {
		return nil, err
	}
	g := f.group(*in.TargetGroupArn)
	if g == nil {
		return nil, &smithy.GenericAPIError{Code: "TargetGroupNotFound", Message: "not found"}
	}
	desc := func(t fakeTarget) types.TargetHealthDescription {
		return types.TargetHealthDescription{Target: &types.TargetDescription{Id: str(t.id), Port: i32(t.port)},
			TargetHealth: &types.TargetHealth{State: t.state, Reason: t.reason}}
	}
	var out elbv2.DescribeTargetHealthOutput
	if len(in.Targets) == 0 {
		for _, t := range g.targets {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, desc(t))
		}
		return &out, nil
	}
	for _, want := range in.Targets {
		found := fakeTarget{id: *want.Id, port: *want.Port, state: types.TargetHealthStateEnumUnused, reason: types.TargetHealthReasonEnumNotRegistered}
		for _, t := range g.targets {
			if t.id == *want.Id && t.port == *want.Port {
				found = t
			}
		}
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, desc(found))
	}
	return &out, nil
}

func (f *fakeELB) RegisterTargets(_ context.Context, in *elbv2.RegisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	if err := f.fail["RegisterTargets"]; err != nil {
		return nil, err
	}
	g := f.group(*in.TargetGroupArn)
	for _, t := range in.Targets {
		f.calls = append(f.calls, "RegisterTargets "+g.name+" "+*t.Id+":"+strconv.Itoa(int(*t.Port)))
		g.set(*t.Id, *t.Port, types.TargetHealthStateEnumInitial, types.TargetHealthReasonEnumRegistrationInProgress)
	}
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (f *fakeELB) DeregisterTargets(_ context.Context, in *elbv2.DeregisterTargetsInput, _ ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	if err := f.fail["DeregisterTargets"]; err != nil {
		return nil, err
	}
	g := f.group(*in.TargetGroupArn)
	for _, t := range in.Targets {
		f.calls = append(f.calls, "DeregisterTargets "+g.name+" "+*t.Id+":"+strconv.Itoa(int(*t.Port)))
		g.set(*t.Id, *t.Port, types.TargetHealthStateEnumDraining, types.TargetHealthReasonEnumDeregistrationInProgress)
	}
	return &elbv2.DeregisterTargetsOutput{}, nil
}

func (g *fakeGroup) set(id string, port int32, state types.TargetHealthStateEnum, reason types.TargetHealthReasonEnum) {
	for i := range g.targets {
		if g.targets[i].id == id && g.targets[i].port == port {
			g.targets[i].state, g.targets[i].reason = state, reason
			return
		}
	}
	g.targets = append(g.targets, fakeTarget{id: id, port: port, state: state, reason: reason})
}
