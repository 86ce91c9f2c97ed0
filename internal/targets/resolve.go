// Package targets owns everything drainpipe asks of and does to Elastic Load Balancing:
// finding every registration of an instance (group and exact port), or of every instance
// (for planning), reading the groups' settings, the health checks before and after
// maintenance, the drain check, and deregistration and registration. Each operation checks once and returns; the waiting
// lives in the state machine.
package targets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// ResolverAPI is the part of the ELBv2 client Resolver uses.
type ResolverAPI interface {
	GroupsAPI
	AttributesAPI
	HealthAPI
}

// AttributesAPI is the part of the ELBv2 client that reads a group's attributes.
type AttributesAPI interface {
	DescribeTargetGroupAttributes(ctx context.Context, in *elbv2.DescribeTargetGroupAttributesInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)
}

// RegistrationsAPI is the part of the ELBv2 client Registrations uses.
type RegistrationsAPI interface {
	GroupsAPI
	HealthAPI
}

// Registrations lists every registration of every instance in every target group of the
// account and region that holds instances, by instance id: an instance also serving in
// a group nobody named is seen.
func Registrations(ctx context.Context, api RegistrationsAPI) (map[string][]workflow.TargetState, error) {
	groups, err := InstanceGroups(ctx, api, nil)
	if err != nil {
		return nil, err
	}
	regs := map[string][]workflow.TargetState{}
	for _, g := range groups {
		states, err := DescribeGroup(ctx, api, aws.ToString(g.TargetGroupArn))
		if err != nil {
			return nil, err
		}
		for _, t := range states {
			regs[t.ID] = append(regs[t.ID], t)
		}
	}
	return regs, nil
}

// HealthAPI is the part of the ELBv2 client the health and drain checks use.
type HealthAPI interface {
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// Resolver validates an execution input and resolves it into a plan.
type Resolver struct {
	API ResolverAPI
	// Token returns a token unique to the execution; nil means 8 random bytes in hex.
	Token func() string
}

// NewResolver makes a Resolver whose client is made from an AWS config.
func NewResolver(cfg aws.Config) Resolver { return Resolver{API: elbv2.NewFromConfig(cfg)} }

// maxARNsPerDescribe is DescribeTargetGroups' limit on TargetGroupArns per call.
const maxARNsPerDescribe = 20

// Resolve decodes and validates the raw execution input, finds every registration of the
// instance and the settings of each of its groups, and returns the plan. It changes
// nothing.
func (r Resolver) Resolve(ctx context.Context, raw json.RawMessage) (workflow.Plan, error) {
	in, err := workflow.DecodeInput(raw)
	if err != nil {
		return workflow.Plan{}, err
	}
	groups, err := InstanceGroups(ctx, r.API, in.TargetGroupARNs)
	if err != nil {
		return workflow.Plan{}, err
	}
	var (
		regs     []workflow.Registration
		settings []workflow.TargetGroup
	)
	for _, g := range groups {
		found, err := registrationsOf(ctx, r.API, aws.ToString(g.TargetGroupArn), in.InstanceID)
		if err != nil {
			return workflow.Plan{}, err
		}
		if len(found) == 0 {
			if len(in.TargetGroupARNs) == 0 {
				continue
			}
			return workflow.Plan{}, faults.New(faults.InstanceNotInTargetGroup,
				"instance %s is not registered in target group %s: remove the group from targetGroupArns or check the instance id",
				in.InstanceID, aws.ToString(g.TargetGroupArn))
		}
		if err := Supported(g); err != nil { // a discovered group; named ones were checked
			return workflow.Plan{}, err
		}
		s, err := GroupSettings(ctx, r.API, g)
		if err != nil {
			return workflow.Plan{}, err
		}
		regs = append(regs, found...)
		settings = append(settings, s)
	}
	if len(regs) == 0 {
		return workflow.Plan{}, faults.New(faults.InstanceNotInTargetGroup,
			"instance %s is not registered in any instance target group of this account and region; pass targetGroupArns or check the instance id",
			in.InstanceID)
	}
	token := r.token()
	plan, err := workflow.NewPlan(in, settings, regs, token)
	if err != nil {
		return workflow.Plan{}, err
	}
	return plan, nil
}

func (r Resolver) token() string {
	if r.Token != nil {
		return r.Token()
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

// GroupsAPI is the part of the ELBv2 client that describes target groups.
type GroupsAPI interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
}

// InstanceGroups describes the named target groups, maxARNsPerDescribe to a call, and
// fails when one does not exist (TargetGroupNotFound), does not hold instances
// (UnsupportedTargetType) or is not one drainpipe can drain safely (Supported). With no
// names it lists every group of the account and region that holds instances.
func InstanceGroups(ctx context.Context, api GroupsAPI, arns []string) ([]types.TargetGroup, error) {
	groups, err := describeGroups(ctx, api, arns)
	if err != nil {
		return nil, err
	}
	out := groups[:0]
	for _, g := range groups {
		if g.TargetType == types.TargetTypeEnumInstance {
			out = append(out, g)
			continue
		}
		if len(arns) > 0 {
			return nil, faults.New(faults.UnsupportedTargetType,
				"target group %s has target type %q; drainpipe maintains EC2 instances registered by instance id (target type \"instance\")",
				aws.ToString(g.TargetGroupArn), g.TargetType)
		}
	}
	if len(arns) > 0 {
		for _, g := range out {
			if err := Supported(g); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Supported refuses a target group whose draining drainpipe was not built for: one of a
// Network or Gateway Load Balancer (its protocol is not HTTP or HTTPS), where
// deregistration does not stop new connections the way ALB's does; and one attached to
// no load balancer, whose targets stay "unused" (Target.NotInUse) and so can never be
// seen healthy again after the maintenance.
func Supported(g types.TargetGroup) error {
	arn := aws.ToString(g.TargetGroupArn)
	switch g.Protocol {
	case types.ProtocolEnumHttp, types.ProtocolEnumHttps:
	default:
		return faults.New(faults.UnsupportedLoadBalancer,
			"target group %s uses protocol %s, so it belongs to a Network or Gateway Load Balancer: after deregistration those can keep sending new connections to the instance for minutes, so drainpipe's drain would not hold. drainpipe supports Application Load Balancer groups (HTTP or HTTPS) only",
			workflow.GroupName(arn), orNone(string(g.Protocol)))
	}
	if len(g.LoadBalancerArns) == 0 {
		return faults.New(faults.TargetGroupNotInUse,
			"target group %s is attached to no load balancer: its targets are \"unused\" (Target.NotInUse) and never report healthy, so the instance could not be confirmed healthy after the maintenance. Attach the group to a listener rule, or leave it out of targetGroupArns",
			workflow.GroupName(arn))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describeGroups describes the given target groups, or every group when arns is empty.
func describeGroups(ctx context.Context, api GroupsAPI, arns []string) ([]types.TargetGroup, error) {
	var out []types.TargetGroup
	if len(arns) == 0 {
		p := elbv2.NewDescribeTargetGroupsPaginator(api, &elbv2.DescribeTargetGroupsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing target groups: %w", err)
			}
			out = append(out, page.TargetGroups...)
		}
		return out, nil
	}
	for start := 0; start < len(arns); start += maxARNsPerDescribe {
		chunk := arns[start:min(start+maxARNsPerDescribe, len(arns))]
		page, err := api.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: chunk})
		if err != nil {
			var nf *types.TargetGroupNotFoundException
			if errors.As(err, &nf) {
				return nil, faults.New(faults.TargetGroupNotFound, "target group not found among %v: check the ARN, the account and the region (%s)", chunk, nf.ErrorMessage())
			}
			return nil, fmt.Errorf("describing target groups %v: %w", chunk, err)
		}
		out = append(out, page.TargetGroups...)
	}
	return out, nil
}

// GroupSettings reads what the waits, deadlines, the drain's soundness and the group's
// own floor depend on: the health check settings from the group, and the deregistration
// delay and the target_group_health thresholds from its attributes.
func GroupSettings(ctx context.Context, api AttributesAPI, g types.TargetGroup) (workflow.TargetGroup, error) {
	arn := aws.ToString(g.TargetGroupArn)
	attrs, err := api.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: &arn})
	if err != nil {
		return workflow.TargetGroup{}, fmt.Errorf("reading attributes of target group %s: %w", arn, err)
	}
	delay := -1
	var count, percent int
	crossZoneOff := false
	for _, a := range attrs.Attributes {
		key, value := aws.ToString(a.Key), aws.ToString(a.Value)
		switch key {
		case "deregistration_delay.timeout_seconds":
			delay, err = strconv.Atoi(value)
			if err != nil || delay < 0 {
				return workflow.TargetGroup{}, fmt.Errorf("target group %s: deregistration_delay.timeout_seconds %q is not a number of seconds", arn, value)
			}
		case "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "target_group_health.dns_failover.minimum_healthy_targets.count",
			"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "target_group_health.dns_failover.minimum_healthy_targets.percentage":
			if value == "off" {
				continue
			}
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return workflow.TargetGroup{}, fmt.Errorf("target group %s: %s %q is neither off nor a number", arn, key, value)
			}
			if strings.HasSuffix(key, ".count") {
				count = max(count, n)
			} else {
				percent = max(percent, min(n, 100))
			}
		case "load_balancing.cross_zone.enabled":
			// true, false or use_load_balancer_configuration: an Application Load
			// Balancer's own setting is always on and cannot be turned off.
			crossZoneOff = value == "false"
		}
	}
	if delay < 0 {
		return workflow.TargetGroup{}, fmt.Errorf("target group %s has no deregistration_delay.timeout_seconds attribute", arn)
	}
	return workflow.TargetGroup{
		ARN:                        arn,
		Name:                       aws.ToString(g.TargetGroupName),
		DeregistrationDelaySeconds: delay,
		HealthCheckIntervalSeconds: int(int32Value(g.HealthCheckIntervalSeconds, 30)),
		HealthCheckTimeoutSeconds:  int(int32Value(g.HealthCheckTimeoutSeconds, 5)),
		HealthyThresholdCount:      int(int32Value(g.HealthyThresholdCount, 5)),
		ThresholdCount:             count,
		ThresholdPercent:           percent,
		CrossZoneOff:               crossZoneOff,
	}, nil
}

// registrationsOf lists every registration of the instance in the group, with its port.
// It describes the whole group and filters by id: naming the instance alone would be
// ambiguous when it is registered with a port override, or on several ports.
func registrationsOf(ctx context.Context, api HealthAPI, arn, instanceID string) ([]workflow.Registration, error) {
	all, err := DescribeGroup(ctx, api, arn)
	if err != nil {
		return nil, err
	}
	var regs []workflow.Registration
	for _, t := range all {
		if t.ID == instanceID {
			regs = append(regs, workflow.Registration{TargetGroupARN: arn, Port: t.Port})
		}
	}
	return regs, nil
}

// DescribeGroup returns the health of every target registered in the group.
func DescribeGroup(ctx context.Context, api HealthAPI, arn string) ([]workflow.TargetState, error) {
	out, err := api.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn, Include: includeAll})
	if err != nil {
		return nil, describeError(arn, err)
	}
	return toStates(arn, out.TargetHealthDescriptions), nil
}

func describeError(arn string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "TargetGroupNotFound" {
		return faults.New(faults.TargetGroupNotFound, "target group %s no longer exists", arn)
	}
	return fmt.Errorf("describing target health in %s: %w", arn, err)
}

// includeAll asks DescribeTargetHealth for anomaly detection's verdict as well (the
// administrative override comes without asking).
var includeAll = []types.DescribeTargetHealthInputIncludeEnum{types.DescribeTargetHealthInputIncludeEnumAll}

// toStates maps ELB's descriptions to target states: a target under an administrative
// override in effect, or found anomalous, is not serving.
func toStates(arn string, descs []types.TargetHealthDescription) []workflow.TargetState {
	states := make([]workflow.TargetState, 0, len(descs))
	for _, d := range descs {
		s := workflow.TargetState{TargetGroupARN: arn}
		if d.Target != nil {
			s.ID = aws.ToString(d.Target.Id)
			s.Port = int32Value(d.Target.Port, 0)
		}
		if d.TargetHealth != nil {
			s.State = workflow.HealthState(d.TargetHealth.State)
			s.Reason = string(d.TargetHealth.Reason)
		}
		switch {
		case d.AdministrativeOverride != nil && d.AdministrativeOverride.State != "" && d.AdministrativeOverride.State != types.TargetAdministrativeOverrideStateEnumNoOverride:
			s.NotServing = string(d.AdministrativeOverride.State)
		case d.AnomalyDetection != nil && d.AnomalyDetection.Result == types.AnomalyResultEnumAnomalous:
			s.NotServing = "anomalous"
		}
		states = append(states, s)
	}
	return states
}

func int32Value(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

// stamp is the time, and the time as the state records it.
func stamp(c clock.Clock) (time.Time, string) {
	t := c.Now()
	return t, t.Format(time.RFC3339Nano)
}
