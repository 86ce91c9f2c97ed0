package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

// The bad-input tables: each case is an input an operator could paste, the error name
// the first step must answer with, and a part of the message that tells them what to fix.
// Each runs through the Lambda handler path (resolve-targets, plan-rollout) against fakes
// that count every change; a case passes only if it is refused with that name and
// nothing was changed. lab/badinput_test.go runs a subset through the state machines.

// shapedELB is the post's fleet (staticELB) whose one group "web" can be given another
// protocol, no load balancer, another target type or delay; it records every change.
type shapedELB struct {
	staticELB
	protocol   elbtypes.ProtocolEnum
	unattached bool
	targetType elbtypes.TargetTypeEnum
	delay      string
	changes    *changes
}

// changes counts the calls that would change something, across every fake of a case.
type changes struct {
	mu    sync.Mutex
	calls []string
}

func (c *changes) add(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

func (f shapedELB) DescribeTargetGroups(_ context.Context, in *elbv2.DescribeTargetGroupsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error) {
	for _, arn := range in.TargetGroupArns {
		if arn != webARN {
			return nil, &elbtypes.TargetGroupNotFoundException{Message: new("One or more target groups not found")}
		}
	}
	g := elbtypes.TargetGroup{TargetGroupArn: new(webARN), TargetGroupName: new("web"), TargetType: elbtypes.TargetTypeEnumInstance,
		Protocol: elbtypes.ProtocolEnumHttp, LoadBalancerArns: []string{"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"},
		HealthCheckIntervalSeconds: new(int32(6)), HealthCheckTimeoutSeconds: new(int32(5)), HealthyThresholdCount: new(int32(2))}
	if f.protocol != "" {
		g.Protocol = f.protocol
	}
	if f.unattached {
		g.LoadBalancerArns = nil
	}
	if f.targetType != "" {
		g.TargetType = f.targetType
	}
	return &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{g}}, nil
}

func (f shapedELB) DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	delay := "300"
	if f.delay != "" {
		delay = f.delay
	}
	return &elbv2.DescribeTargetGroupAttributesOutput{Attributes: []elbtypes.TargetGroupAttribute{{Key: new("deregistration_delay.timeout_seconds"), Value: new(delay)}}}, nil
}

func (f shapedELB) RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error) {
	f.changes.add("RegisterTargets")
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (f shapedELB) DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error) {
	f.changes.add("DeregisterTargets")
	return &elbv2.DeregisterTargetsOutput{}, nil
}

type badInput struct {
	name  string
	input string
	elb   shapedELB
	// want is the error name; msg a part of its message.
	want, msg string
}

// instanceOK is a valid instance input with the given fields replaced or added.
func instanceOK(fields string) string {
	base := `"instanceId":"` + inst + `","targetGroupArns":["` + webARN + `"],"maintenance":{"action":"reboot"}`
	return "{" + merge(base, fields) + "}"
}

// fleetOK is a valid fleet input with the given fields replaced or added.
func fleetOK(fields string) string {
	base := `"targetGroupArns":["` + webARN + `"],"maintenance":{"action":"reboot"},"minHealthyPercent":50`
	return "{" + merge(base, fields) + "}"
}

// merge replaces base's top-level fields that fields sets, and adds the others.
func merge(base, fields string) string {
	var b, f map[string]json.RawMessage
	if err := json.Unmarshal([]byte("{"+base+"}"), &b); err != nil {
		panic(err)
	}
	if err := json.Unmarshal([]byte("{"+fields+"}"), &f); err != nil {
		panic(fmt.Sprintf("%s: %v", fields, err))
	}
	for k, v := range f {
		if string(v) == "null" {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return strings.TrimSuffix(strings.TrimPrefix(string(out), "{"), "}")
}

const otherARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gone/1111111111111111"

var (
	bigCommand  = strings.Repeat("x", 40*1024)              // over MaxScriptBytes, under the input limit
	hugeCommand = strings.Repeat("y", 300*1024)             // over Step Functions' input limit
	manyCmds    = strings.Repeat(`"true",`, 100) + `"true"` // 101 commands
	nlb         = shapedELB{protocol: elbtypes.ProtocolEnumTcp}
	gwlb        = shapedELB{protocol: elbtypes.ProtocolEnumGeneve}
	unattached  = shapedELB{unattached: true}
	noDelay     = shapedELB{delay: "0"}
	ipGroup     = shapedELB{targetType: elbtypes.TargetTypeEnumIp}
)

var badInstanceInputs = []badInput{
	{name: "empty object", input: `{}`, want: faults.InvalidInput, msg: `"instanceId" is required`},
	{name: "a JSON number", input: `7`, want: faults.InvalidInput, msg: "the input must be an object, but it is a number"},
	{name: "a JSON array", input: `[]`, want: faults.InvalidInput, msg: "the input must be an object, but it is an array"},
	{name: "a JSON string", input: `"i-0123456789abcdef0"`, want: faults.InvalidInput, msg: "the input must be an object, but it is a string"},
	{name: "null", input: `null`, want: faults.InvalidInput, msg: `"instanceId" is required`},
	{name: "instance id an object", input: instanceOK(`"instanceId":{"id":"` + inst + `"}`), want: faults.InvalidInput, msg: `"instanceId" must be a string, but it is an object`},
	{name: "a JSON boolean", input: `true`, want: faults.InvalidInput, msg: "the input must be an object, but it is true or false"},
	{name: "unknown field", input: instanceOK(`"instanceIds":["` + inst + `"]`), want: faults.InvalidInput, msg: `unknown field "instanceIds"`},
	{name: "unknown nested field", input: instanceOK(`"maintenance":{"action":"reboot","force":true}`), want: faults.InvalidInput, msg: `unknown field "force"`},
	{name: "instance id a number", input: instanceOK(`"instanceId":42`), want: faults.InvalidInput, msg: `"instanceId" must be a string, but it is a number`},
	{name: "instance id malformed", input: instanceOK(`"instanceId":"i-XYZ"`), want: faults.InvalidInput, msg: "is not an EC2 instance id"},
	{name: "instance id uppercase", input: instanceOK(`"instanceId":"i-0123456789ABCDEF0"`), want: faults.InvalidInput, msg: "is not an EC2 instance id"},
	{name: "instance id empty", input: instanceOK(`"instanceId":""`), want: faults.InvalidInput, msg: `"instanceId" is empty`},
	{name: "target groups an empty list", input: instanceOK(`"targetGroupArns":[]`), want: faults.InvalidInput, msg: `"targetGroupArns" is an empty list`},
	{name: "target groups a string", input: instanceOK(`"targetGroupArns":"` + webARN + `"`), want: faults.InvalidInput, msg: `"targetGroupArns" must be an array of strings, but it is a string`},
	{name: "a load balancer's ARN", input: instanceOK(`"targetGroupArns":["arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0123456789abcdef"]`), want: faults.InvalidInput, msg: "is not a target group ARN"},
	{name: "a group listed twice", input: instanceOK(`"targetGroupArns":["` + webARN + `","` + webARN + `"]`), want: faults.InvalidInput, msg: "listed twice"},
	{name: "no maintenance", input: instanceOK(`"maintenance":null`), want: faults.InvalidInput, msg: `"maintenance.action" is required`},
	{name: "maintenance a string", input: instanceOK(`"maintenance":"reboot"`), want: faults.InvalidInput, msg: `"maintenance" must be an object, but it is a string`},
	{name: "unknown action", input: instanceOK(`"maintenance":{"action":"restart"}`), want: faults.InvalidInput, msg: `"restart" is unknown: use one of reboot, patch, commands, document`},
	{name: "action a number", input: instanceOK(`"maintenance":{"action":1}`), want: faults.InvalidInput, msg: `"maintenance.action" must be a string, but it is a number`},
	{name: "commands without commands", input: instanceOK(`"maintenance":{"action":"commands"}`), want: faults.InvalidInput, msg: "needs at least one shell command"},
	{name: "commands an empty list", input: instanceOK(`"maintenance":{"action":"commands","commands":[]}`), want: faults.InvalidInput, msg: "needs at least one shell command"},
	{name: "a blank command", input: instanceOK(`"maintenance":{"action":"commands","commands":["ls","  "]}`), want: faults.InvalidInput, msg: `"maintenance.commands[1]" is empty`},
	{name: "101 commands", input: instanceOK(`"maintenance":{"action":"commands","commands":[` + manyCmds + `]}`), want: faults.InvalidInput, msg: "has 101 commands; at most 100"},
	{name: "a 40 KB command", input: instanceOK(`"maintenance":{"action":"commands","commands":["` + bigCommand + `"]}`), want: faults.InvalidInput, msg: "40960 bytes of commands and parameters, over drainpipe's 32768"},
	{name: "a 300 KB command", input: instanceOK(`"maintenance":{"action":"commands","commands":["` + hugeCommand + `"]}`), want: faults.InvalidInput, msg: "Step Functions takes at most 262144"},
	{name: "commands a string", input: instanceOK(`"maintenance":{"action":"commands","commands":"yum update"}`), want: faults.InvalidInput, msg: `"maintenance.commands" must be an array of strings, but it is a string`},
	{name: "reboot with commands", input: instanceOK(`"maintenance":{"action":"reboot","commands":["ls"]}`), want: faults.InvalidInput, msg: `"maintenance.commands" is not used by action "reboot"`},
	{name: "patch operation lowercase", input: instanceOK(`"maintenance":{"action":"patch","operation":"install"}`), want: faults.InvalidInput, msg: `must be "Install" or "Scan"`},
	{name: "patch reboot option unknown", input: instanceOK(`"maintenance":{"action":"patch","rebootOption":"Always"}`), want: faults.InvalidInput, msg: `must be "RebootIfNeeded" or "NoReboot"`},
	{name: "patch with a document", input: instanceOK(`"maintenance":{"action":"patch","documentName":"AWS-RunPatchBaseline"}`), want: faults.InvalidInput, msg: `"maintenance.documentName" is not used by action "patch"`},
	{name: "document name with a space", input: instanceOK(`"maintenance":{"action":"document","documentName":"my doc"}`), want: faults.InvalidInput, msg: "must name an SSM document"},
	{name: "document parameter name invalid", input: instanceOK(`"maintenance":{"action":"document","documentName":"MyDoc","parameters":{"a b":["x"]}}`), want: faults.InvalidInput, msg: "invalid parameter name"},
	{name: "document parameters not lists", input: instanceOK(`"maintenance":{"action":"document","documentName":"MyDoc","parameters":{"level":"high"}}`), want: faults.InvalidInput, msg: `each value in "maintenance.parameters" must be an array of strings, but one is a string`},
	{name: "maintenance timeout negative", input: instanceOK(`"maintenance":{"action":"reboot","timeoutSeconds":-1}`), want: faults.InvalidInput, msg: `"maintenance.timeoutSeconds" must be between 1 and 172800`},
	{name: "maintenance timeout over 48 h", input: instanceOK(`"maintenance":{"action":"reboot","timeoutSeconds":172801}`), want: faults.InvalidInput, msg: `"maintenance.timeoutSeconds" must be between 1 and 172800`},
	{name: "maintenance timeout a fraction", input: instanceOK(`"maintenance":{"action":"reboot","timeoutSeconds":1.5}`), want: faults.InvalidInput, msg: `"maintenance.timeoutSeconds" must be a whole number, but it is a number (1.5)`},
	{name: "drain timeout negative", input: instanceOK(`"timeouts":{"drainSeconds":-5}`), want: faults.InvalidInput, msg: `"timeouts.drainSeconds" must be between`},
	{name: "drain timeout under the delay", input: instanceOK(`"timeouts":{"drainSeconds":60}`), want: faults.InvalidInput, msg: "shorter than the deregistration delay of the target groups (300 s)"},
	{name: "healthy timeout under an interval", input: instanceOK(`"timeouts":{"healthySeconds":3}`), want: faults.InvalidInput, msg: "shorter than one health check interval"},
	{name: "poll an hour", input: instanceOK(`"pollSeconds":3600`), want: faults.InvalidInput, msg: `"pollSeconds" must be between 1 and 300`},
	{name: "poll negative", input: instanceOK(`"pollSeconds":-1`), want: faults.InvalidInput, msg: `"pollSeconds" must be between 1 and 300`},
	{name: "health check without commands", input: instanceOK(`"healthCheck":{}`), want: faults.InvalidInput, msg: `"healthCheck.commands" needs at least one`},
	{name: "health check timeout negative", input: instanceOK(`"healthCheck":{"commands":["true"],"timeoutSeconds":-1}`), want: faults.InvalidInput, msg: `"healthCheck.timeoutSeconds" must be between`},
	{name: "floor for a malformed ARN", input: instanceOK(`"minHealthyTargets":{"web":1}`), want: faults.InvalidInput, msg: `"minHealthyTargets" needs target group ARNs`},
	{name: "floor negative", input: instanceOK(`"minHealthyTargets":{"` + webARN + `":-1}`), want: faults.InvalidInput, msg: `"minHealthyTargets" needs target group ARNs and counts of 0 or more`},
	{name: "floor for another group", input: instanceOK(`"minHealthyTargets":{"` + otherARN + `":1}`), want: faults.InvalidInput, msg: "which is not one of the instance's target groups"},
	{name: "capacity wait negative", input: instanceOK(`"capacityWaitSeconds":-1`), want: faults.InvalidInput, msg: `"capacityWaitSeconds" must be between 0 and 172800`},
	{name: "more checks than the history holds", input: instanceOK(`"maintenance":{"action":"commands","commands":["true"],"timeoutSeconds":172800}`), want: faults.InvalidInput, msg: `raise "pollSeconds" to at least`},
	{name: "dry run a string", input: instanceOK(`"dryRun":"yes"`), want: faults.InvalidInput, msg: `"dryRun" must be true or false, but it is a string`},
	{name: "a group that does not exist", input: instanceOK(`"targetGroupArns":["` + otherARN + `"]`), want: faults.TargetGroupNotFound, msg: "check the ARN, the account and the region"},
	{name: "an ip target group", input: instanceOK(``), elb: ipGroup, want: faults.UnsupportedTargetType, msg: `target type "ip"`},
	{name: "a Network Load Balancer's group", input: instanceOK(``), elb: nlb, want: faults.UnsupportedLoadBalancer, msg: "uses protocol TCP, so it belongs to a Network or Gateway Load Balancer"},
	{name: "a Gateway Load Balancer's group, discovered", input: `{"instanceId":"` + inst + `","maintenance":{"action":"reboot"}}`, elb: gwlb, want: faults.UnsupportedLoadBalancer, msg: "uses protocol GENEVE"},
	{name: "a group no load balancer uses", input: instanceOK(``), elb: unattached, want: faults.TargetGroupNotInUse, msg: `"unused" (Target.NotInUse)`},
	{name: "a deregistration delay of 0", input: instanceOK(``), elb: noDelay, want: faults.DeregistrationDelayTooShort, msg: `set "acceptRequestLoss": true`},
	{name: "an instance not in the group", input: instanceOK(`"instanceId":"i-0ccccccccccccccc3"`), want: faults.InstanceNotInTargetGroup, msg: "is not registered in target group"},
}

var badFleetInputs = []badInput{
	{name: "empty object", input: `{}`, want: faults.InvalidInput, msg: `"targetGroupArns" is required`},
	{name: "a JSON string", input: `"maintain web"`, want: faults.InvalidInput, msg: "the fleet input must be an object, but it is a string"},
	{name: "a JSON array", input: `[{"targetGroupArns":["` + webARN + `"]}]`, want: faults.InvalidInput, msg: "the fleet input must be an object, but it is an array"},
	{name: "a number", input: `42`, want: faults.InvalidInput, msg: "the fleet input must be an object, but it is a number"},
	{name: "null", input: `null`, want: faults.InvalidInput, msg: `"targetGroupArns" is required`},
	{name: "an instance input", input: instanceOK(``), want: faults.InvalidInput, msg: `unknown field "instanceId"`},
	{name: "no target groups", input: fleetOK(`"targetGroupArns":null`), want: faults.InvalidInput, msg: `"targetGroupArns" is required`},
	{name: "target groups an empty list", input: fleetOK(`"targetGroupArns":[]`), want: faults.InvalidInput, msg: `"targetGroupArns" is required`},
	{name: "target groups a string", input: fleetOK(`"targetGroupArns":"` + webARN + `"`), want: faults.InvalidInput, msg: `"targetGroupArns" must be an array of strings, but it is a string`},
	{name: "a malformed ARN", input: fleetOK(`"targetGroupArns":["web"]`), want: faults.InvalidInput, msg: `"targetGroupArns[0]" "web" is not a target group ARN`},
	{name: "a group listed twice", input: fleetOK(`"targetGroupArns":["` + webARN + `","` + webARN + `"]`), want: faults.InvalidInput, msg: "listed twice"},
	{name: "instance ids an empty list", input: fleetOK(`"instanceIds":[]`), want: faults.InvalidInput, msg: `"instanceIds" is an empty list`},
	{name: "instance id malformed", input: fleetOK(`"instanceIds":["web-1"]`), want: faults.InvalidInput, msg: `"instanceIds[0]" "web-1" is not an EC2 instance id`},
	{name: "instance listed twice", input: fleetOK(`"instanceIds":["` + inst + `","` + inst + `"]`), want: faults.InvalidInput, msg: `"instanceIds[1]"`},
	{name: "tags an empty object", input: fleetOK(`"tags":{}`), want: faults.InvalidInput, msg: `"tags" is an empty object`},
	{name: "a tag without values", input: fleetOK(`"tags":{"Role":[]}`), want: faults.InvalidInput, msg: `"tags" needs a key and at least one non-empty value`},
	{name: "a tag value not a list", input: fleetOK(`"tags":{"Role":"web"}`), want: faults.InvalidInput, msg: `each value in "tags" must be an array of strings, but one is a string`},
	{name: "a tag value empty", input: fleetOK(`"tags":{"Role":[""]}`), want: faults.InvalidInput, msg: `"tags" needs a key and at least one non-empty value`},
	{name: "max concurrency 41", input: fleetOK(`"maxConcurrency":41`), want: faults.InvalidInput, msg: `"maxConcurrency" must be between 1 and 40`},
	{name: "max concurrency negative", input: fleetOK(`"maxConcurrency":-1`), want: faults.InvalidInput, msg: `"maxConcurrency" must be between 1 and 40`},
	{name: "max concurrency a string", input: fleetOK(`"maxConcurrency":"5"`), want: faults.InvalidInput, msg: `"maxConcurrency" must be a whole number, but it is a string`},
	{name: "min healthy 101%", input: fleetOK(`"minHealthyPercent":101`), want: faults.InvalidInput, msg: `"minHealthyPercent" must be between 0 and 100`},
	{name: "min healthy negative", input: fleetOK(`"minHealthyPercent":-1`), want: faults.InvalidInput, msg: `"minHealthyPercent" must be between 0 and 100`},
	{name: "max errors negative", input: fleetOK(`"maxErrors":-1`), want: faults.InvalidInput, msg: `"maxErrors" must be between 0 and 2147483647`},
	{name: "window end not a time", input: fleetOK(`"notAfter":"tomorrow 6am"`), want: faults.InvalidInput, msg: `"notAfter" "tomorrow 6am" is not an RFC 3339 time`},
	{name: "skip window not a duration", input: fleetOK(`"skipIfMaintainedWithin":"1 week"`), want: faults.InvalidInput, msg: "is not a duration such as 7d"},
	{name: "capacity wait negative", input: fleetOK(`"capacityWaitSeconds":-5`), want: faults.InvalidInput, msg: `"capacityWaitSeconds" must be between 0 and 172800`},
	{name: "lease over a week", input: fleetOK(`"leaseSeconds":604801`), want: faults.InvalidInput, msg: `"leaseSeconds" must be between 1 and 604800`},
	{name: "lease negative", input: fleetOK(`"leaseSeconds":-1`), want: faults.InvalidInput, msg: `"leaseSeconds" must be between 1 and 604800`},
	{name: "no maintenance", input: fleetOK(`"maintenance":null`), want: faults.InvalidInput, msg: `"maintenance.action" is required`},
	{name: "unknown action", input: fleetOK(`"maintenance":{"action":"upgrade"}`), want: faults.InvalidInput, msg: `"upgrade" is unknown`},
	{name: "commands without commands", input: fleetOK(`"maintenance":{"action":"commands"}`), want: faults.InvalidInput, msg: "needs at least one shell command"},
	{name: "a 40 KB command", input: fleetOK(`"maintenance":{"action":"commands","commands":["` + bigCommand + `"]}`), want: faults.InvalidInput, msg: "over drainpipe's 32768"},
	{name: "a 300 KB command", input: fleetOK(`"maintenance":{"action":"commands","commands":["` + hugeCommand + `"]}`), want: faults.InvalidInput, msg: "Step Functions takes at most 262144"},
	{name: "health check without commands", input: fleetOK(`"healthCheck":{"commands":[]}`), want: faults.InvalidInput, msg: `"healthCheck.commands" needs at least one`},
	{name: "poll an hour", input: fleetOK(`"pollSeconds":3600`), want: faults.InvalidInput, msg: `"pollSeconds" must be between 1 and 300`},
	{name: "drain timeout negative", input: fleetOK(`"timeouts":{"drainSeconds":-1}`), want: faults.InvalidInput, msg: `"timeouts.drainSeconds" must be between`},
	{name: "more checks than the history holds", input: fleetOK(`"maintenance":{"action":"patch","timeoutSeconds":172800},"pollSeconds":1`), want: faults.InvalidInput, msg: `raise "pollSeconds" to at least`},
	{name: "dry run a string", input: fleetOK(`"dryRun":"false"`), want: faults.InvalidInput, msg: `"dryRun" must be true or false, but it is a string`},
	{name: "a group that does not exist", input: fleetOK(`"targetGroupArns":["` + otherARN + `"]`), want: faults.TargetGroupNotFound, msg: "check the ARN"},
	{name: "an ip target group", input: fleetOK(``), elb: ipGroup, want: faults.UnsupportedTargetType, msg: `target type "ip"`},
	{name: "a Network Load Balancer's group", input: fleetOK(``), elb: nlb, want: faults.UnsupportedLoadBalancer, msg: "uses protocol TCP"},
	{name: "a group no load balancer uses", input: fleetOK(``), elb: unattached, want: faults.TargetGroupNotInUse, msg: "attached to no load balancer"},
	{name: "a deregistration delay of 0", input: fleetOK(``), elb: noDelay, want: faults.DeregistrationDelayTooShort, msg: "deregistration_delay.timeout_seconds 0"},
	{name: "an instance not in the groups", input: fleetOK(`"instanceIds":["i-0ccccccccccccccc3"]`), want: faults.InstanceNotInTargetGroup, msg: `"instanceIds" is not registered`},
	{name: "a budget no plan keeps", input: fleetOK(`"minHealthyPercent":100`), want: faults.CapacityBudgetExceeded, msg: "no plan keeps the capacity budget"},
}

// TestBadInstanceInputs: every bad instance input is refused by the first step, by name,
// with a message that says what to fix, and nothing is changed.
func TestBadInstanceInputs(t *testing.T) {
	if len(badInstanceInputs) < 40 {
		t.Fatalf("%d bad instance inputs; the table keeps at least 40", len(badInstanceInputs))
	}
	for _, c := range badInstanceInputs {
		t.Run(c.name, func(t *testing.T) {
			elb := c.elb
			elb.staticELB, elb.changes = staticELB{allHealthy}, &changes{}
			h := mustBuild(t, "resolve-targets", Deps{Clients: []any{elb, staticSSM{}}})
			refused(t, c, elb.changes, func() error { _, err := Invoke(context.Background(), h, []byte(c.input)); return err })
		})
	}
}

// TestBadFleetInputs: every bad fleet input is refused by plan-rollout, by name, with a
// message that says what to fix; no rollout is written, no lease taken, no instance
// touched.
func TestBadFleetInputs(t *testing.T) {
	if len(badFleetInputs) < 40 {
		t.Fatalf("%d bad fleet inputs; the table keeps at least 40", len(badFleetInputs))
	}
	db := rollouttest.Tables(t)
	for i, c := range badFleetInputs {
		t.Run(c.name, func(t *testing.T) {
			elb := c.elb
			elb.staticELB, elb.changes = staticELB{allHealthy}, &changes{}
			h := mustBuild(t, "plan-rollout", Deps{Clients: []any{db, elb, staticSSM{}, staticEC2{}}, Now: time.Now})
			payload, _ := json.Marshal(map[string]any{"input": json.RawMessage(c.input),
				"execution": fmt.Sprintf("arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:bad-%d", i), "executionName": fmt.Sprintf("bad-%d", i),
				"rolloutTable": rollouttest.RolloutTable, "capacityTable": rollouttest.CapacityTable,
				"instanceStateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:drainpipe-maintain-instance",
				"instanceTag":             map[string]string{"key": "drainpipe", "value": "enabled"}})
			refused(t, c, elb.changes, func() error { _, err := Invoke(context.Background(), h, payload); return err })
			for _, table := range []string{rollouttest.RolloutTable, rollouttest.CapacityTable} {
				out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: new(table)})
				if err != nil {
					t.Fatal(err)
				}
				if out.Count != 0 {
					t.Errorf("table %s holds %d items after a refused input", table, out.Count)
				}
			}
		})
	}
}

func mustBuild(t *testing.T, function string, deps Deps) lambda.Handler {
	t.Helper()
	build, err := Lookup(function)
	if err != nil {
		t.Fatal(err)
	}
	return build(deps)
}

// refused runs the call and checks its Lambda error's name and message, and that no
// fake saw a change.
func refused(t *testing.T, c badInput, seen *changes, call func() error) {
	t.Helper()
	err := call()
	var lambdaErr messages.InvokeResponse_Error
	if !errors.As(err, &lambdaErr) {
		t.Fatalf("accepted, or not a Lambda error (%v); want %s", err, c.want)
	}
	if lambdaErr.Type != c.want || !strings.Contains(lambdaErr.Message, c.msg) {
		t.Errorf("got %s: %s\nwant %s containing %q", lambdaErr.Type, trim(lambdaErr.Message), c.want, c.msg)
	}
	if strings.HasPrefix(lambdaErr.Message, lambdaErr.Type) {
		t.Errorf("the cause repeats the error name: %s", trim(lambdaErr.Message))
	}
	if len(seen.calls) != 0 {
		t.Errorf("a refused input changed something: %v", seen.calls)
	}
}

func trim(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}
