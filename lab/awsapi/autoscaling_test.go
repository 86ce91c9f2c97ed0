package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// asgLab: the demo fleet and a fourth instance; web-asg holds instances 0 and 1 (ELB
// health checks, attached to the demo's group, 20 s grace), batch-asg instance 3 (EC2
// health checks, no target group); instance 2 is in no Auto Scaling group.
func asgLab(t *testing.T) (*lab.Lab, aws.Config) {
	t.Helper()
	cfg := lab.Demo()
	cfg.Instances = 4
	cfg.AutoScaling = []lab.ASGSpec{
		{Name: "web-asg", MinSize: 1, MaxSize: 3, HealthCheckType: "ELB", HealthCheckGracePeriodSeconds: 20, Instances: []int{0, 1}, TargetGroups: []int{0}},
		{Name: "batch-asg", MinSize: 0, MaxSize: 2, HealthCheckGracePeriodSeconds: 20, Instances: []int{3}},
	}
	return wireLabOf(t, cfg)
}

// validationError checks an Auto Scaling ValidationError: HTTP 400, the message.
func validationError(t *testing.T, what string, err error, message string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationError" || status(err) != 400 || !strings.Contains(api.ErrorMessage(), message) {
		t.Errorf("%s: %v (status %d), want a 400 ValidationError saying %q", what, err, status(err), message)
	}
}

func TestAutoScalingWire(t *testing.T) {
	l, cfg := asgLab(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(cfg)
	id0, id1, id2, id3 := l.Instances[0].ID, l.Instances[1].ID, l.Instances[2].ID, l.Instances[3].ID

	describe := func(ids ...string) map[string]astypes.AutoScalingInstanceDetails {
		t.Helper()
		out, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: ids})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]astypes.AutoScalingInstanceDetails{}
		for _, d := range out.AutoScalingInstances {
			m[*d.InstanceId] = d
		}
		return m
	}
	group := func(name string) astypes.AutoScalingGroup {
		t.Helper()
		out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("group %s: %+v, %v", name, out, err)
		}
		return out.AutoScalingGroups[0]
	}
	targetState := func(id string) elbtypes.TargetHealthStateEnum {
		t.Helper()
		h, err := elbv2.NewFromConfig(cfg).DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &l.Groups[0].ARN,
			Targets: []elbtypes.TargetDescription{{Id: &id}}})
		if err != nil {
			t.Fatal(err)
		}
		return h.TargetHealthDescriptions[0].TargetHealth.State
	}

	// DescribeAutoScalingInstances: the group's instances, an instance in no group left out.
	got := describe(id0, id2, "i-0000000000000dead")
	d, ok := got[id0]
	if len(got) != 1 || !ok || aws.ToString(d.AutoScalingGroupName) != "web-asg" || aws.ToString(d.LifecycleState) != "InService" ||
		aws.ToString(d.HealthStatus) != "HEALTHY" || aws.ToString(d.AvailabilityZone) != l.Zone(id0) || aws.ToBool(d.ProtectedFromScaleIn) {
		t.Errorf("described %+v", got)
	}
	if all := describe(); len(all) != 3 || all[id3].AutoScalingGroupName == nil || *all[id3].AutoScalingGroupName != "batch-asg" {
		t.Errorf("every instance: %+v", all)
	}

	// DescribeAutoScalingGroups.
	g := group("web-asg")
	if aws.ToInt32(g.MinSize) != 1 || aws.ToInt32(g.MaxSize) != 3 || aws.ToInt32(g.DesiredCapacity) != 2 || aws.ToString(g.HealthCheckType) != "ELB" ||
		aws.ToInt32(g.HealthCheckGracePeriod) != 20 || !slices.Equal(g.TargetGroupARNs, []string{l.Groups[0].ARN}) || g.CreatedTime == nil ||
		len(g.Instances) != 2 || aws.ToString(g.Instances[0].InstanceId) != id0 || g.Instances[0].LifecycleState != astypes.LifecycleStateInService ||
		aws.ToString(g.Instances[0].HealthStatus) != "Healthy" || aws.ToString(g.Instances[0].AvailabilityZone) != l.Zone(id0) ||
		!strings.HasSuffix(aws.ToString(g.AutoScalingGroupARN), ":autoScalingGroupName/web-asg") || len(g.AvailabilityZones) != 2 {
		t.Errorf("web-asg %+v", g)
	}
	if out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"nope"}}); err != nil || len(out.AutoScalingGroups) != 0 {
		t.Errorf("an unknown group: %+v, %v", out, err)
	}

	// EnterStandby, decrementing: desired 1 at once, deregistered from the target group,
	// EnteringStandby while the target drains (the demo group's deregistration delay), then
	// Standby.
	entered := time.Now()
	out, err := c.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{id0},
		ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Activities) != 1 {
		t.Fatalf("activities %+v", out.Activities)
	}
	a := out.Activities[0]
	if aws.ToString(a.AutoScalingGroupName) != "web-asg" || aws.ToString(a.Description) != "Moving EC2 instance to Standby: "+id0 ||
		a.StatusCode != astypes.ScalingActivityStatusCodeInProgress || aws.ToInt32(a.Progress) != 50 || a.StartTime == nil || a.ActivityId == nil ||
		!strings.HasSuffix(aws.ToString(a.Cause), "was moved to standby in response to a user request, shrinking the capacity from 2 to 1.") ||
		!strings.Contains(aws.ToString(a.Details), l.Zone(id0)) {
		t.Errorf("activity %+v", a)
	}
	if s := describe(id0)[id0].LifecycleState; aws.ToString(s) != "EnteringStandby" {
		t.Errorf("after EnterStandby: %v, want EnteringStandby", aws.ToString(s))
	}
	if g := group("web-asg"); aws.ToInt32(g.DesiredCapacity) != 1 || g.Instances[0].LifecycleState != astypes.LifecycleStateEnteringStandby {
		t.Errorf("after EnterStandby: desired %d, %s %s", aws.ToInt32(g.DesiredCapacity), aws.ToString(g.Instances[0].InstanceId), g.Instances[0].LifecycleState)
	}
	if s := targetState(id0); s != elbtypes.TargetHealthStateEnumDraining {
		t.Errorf("target of the instance entering Standby: %s, want draining", s)
	}
	_, err = c.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{id0}})
	validationError(t, "exit while EnteringStandby", err, "The instance "+id0+" is not in Standby.")

	// EnterStandby's refusals.
	enter := func(group string, decrement bool, ids ...string) error {
		_, err := c.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: &group, InstanceIds: ids, ShouldDecrementDesiredCapacity: &decrement})
		return err
	}
	validationError(t, "below the minimum", enter("web-asg", true, id1),
		"AutoScalingGroup web-asg has min-size=1, max-size=3, and desired-size=1. To place into standby 1 instance, please update the AutoScalingGroup sizes appropriately.")
	validationError(t, "unknown group", enter("nope", true, id1), "AutoScalingGroup name not found - AutoScalingGroup nope not found")
	validationError(t, "instance in no group", enter("web-asg", false, id2), "The instance "+id2+" is not part of Auto Scaling group web-asg.")
	validationError(t, "instance of another group", enter("web-asg", false, id3), "The instance "+id3+" is not part of Auto Scaling group web-asg.")
	validationError(t, "instance entering Standby", enter("web-asg", false, id0), "The instance "+id0+" is not in InService.")
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("i-%017x", i)
	}
	validationError(t, "21 ids", enter("web-asg", false, many...), "Member must have length less than or equal to 20")
	if g := group("web-asg"); aws.ToInt32(g.DesiredCapacity) != 1 || g.Instances[1].LifecycleState != astypes.LifecycleStateInService {
		t.Errorf("refused calls changed the group: %+v", g)
	}

	// Standby once the target has drained: not before the deregistration delay.
	labtest.WaitFor(t, 30*time.Second, 20*time.Millisecond, id0+" to be in Standby", func() (bool, any) {
		s := aws.ToString(describe(id0)[id0].LifecycleState)
		return s == "Standby", s
	})
	if took, delay := time.Since(entered), l.Clock.Seconds(float64(l.Config.Groups[0].DeregistrationDelaySeconds)); took < delay {
		t.Errorf("Standby after %v, before the deregistration delay (%v)", took, delay)
	}
	if s := targetState(id0); s == elbtypes.TargetHealthStateEnumDraining {
		t.Errorf("Standby while its target is still draining")
	}
	if g := group("web-asg"); aws.ToInt32(g.DesiredCapacity) != 1 || g.Instances[0].LifecycleState != astypes.LifecycleStateStandby {
		t.Errorf("in Standby: desired %d, %s", aws.ToInt32(g.DesiredCapacity), g.Instances[0].LifecycleState)
	}

	// ExitStandby: InService, desired 2, registered again.
	back, err := c.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{id0}})
	if err != nil {
		t.Fatal(err)
	}
	if a := back.Activities[0]; aws.ToString(a.Description) != "Moving EC2 instance out of Standby: "+id0 || a.StatusCode != astypes.ScalingActivityStatusCodePreInService ||
		aws.ToInt32(a.Progress) != 30 || !strings.HasSuffix(aws.ToString(a.Cause), "increasing the capacity from 1 to 2.") {
		t.Errorf("exit activity %+v", a)
	}
	if s := describe(id0)[id0].LifecycleState; aws.ToString(s) != "InService" {
		t.Errorf("after ExitStandby: %v", aws.ToString(s))
	}
	if g := group("web-asg"); aws.ToInt32(g.DesiredCapacity) != 2 {
		t.Errorf("desired %d after ExitStandby", aws.ToInt32(g.DesiredCapacity))
	}
	if s := targetState(id0); s != elbtypes.TargetHealthStateEnumInitial && s != elbtypes.TargetHealthStateEnumHealthy {
		t.Errorf("target after ExitStandby: %s, want registered again", s)
	}
	_, err = c.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{id1}})
	validationError(t, "exit an InService instance", err, "The instance "+id1+" is not in Standby.")
	_, err = c.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("nope"), InstanceIds: []string{id1}})
	validationError(t, "exit: unknown group", err, "AutoScalingGroup name not found")
}

func TestAutoScalingPagingAndLimits(t *testing.T) {
	l, cfg := asgLab(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(cfg)

	var ids []string
	pages := autoscaling.NewDescribeAutoScalingInstancesPaginator(c, &autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(1)})
	n := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, d := range page.AutoScalingInstances {
			ids = append(ids, *d.InstanceId)
		}
	}
	want := []string{l.Instances[0].ID, l.Instances[1].ID, l.Instances[3].ID}
	if !slices.Equal(ids, want) || n != 3 {
		t.Errorf("paged instances %v in %d pages, want %v in 3", ids, n, want)
	}

	var names []string
	groups := autoscaling.NewDescribeAutoScalingGroupsPaginator(c, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(1)})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.AutoScalingGroups) != 1 {
			t.Fatalf("page of %d groups", len(page.AutoScalingGroups))
		}
		names = append(names, *page.AutoScalingGroups[0].AutoScalingGroupName)
	}
	if strings.Join(names, ",") != "batch-asg,web-asg" {
		t.Errorf("paged groups %v", names)
	}

	_, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(51)})
	validationError(t, "MaxRecords 51", err, "Member must have value less than or equal to 50")
	_, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(101)})
	validationError(t, "groups MaxRecords 101", err, "Member must have value less than or equal to 100")
	if _, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(100)}); err != nil {
		t.Errorf("groups MaxRecords 100: %v", err)
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("i-%017x", i)
	}
	_, err = c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: many})
	validationError(t, "51 ids", err, "Member must have length less than or equal to 50")
	if out, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: many[:50]}); err != nil || len(out.AutoScalingInstances) != 0 {
		t.Errorf("50 ids in no group: %+v, %v", out, err)
	}
	_, err = c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{NextToken: aws.String("bogus!")})
	var badToken *astypes.InvalidNextToken
	if !errors.As(err, &badToken) || status(err) != 400 {
		t.Errorf("a bad NextToken: %v, want InvalidNextToken", err)
	}
}

// TestAutoScalingErrorShape: the raw answers are Auto Scaling's query protocol shapes: an
// ErrorResponse with Type Sender in Auto Scaling's namespace, a missing required parameter
// refused.
func TestAutoScalingErrorShape(t *testing.T) {
	l, _ := asgLab(t)
	post := func(form url.Values) (int, string) {
		t.Helper()
		resp, err := http.PostForm(l.API.URL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := post(url.Values{"Action": {"EnterStandby"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"nope"},
		"InstanceIds.member.1": {l.Instances[0].ID}, "ShouldDecrementDesiredCapacity": {"true"}})
	if code != 400 || !strings.HasPrefix(body, `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>AutoScalingGroup name not found`) ||
		!strings.Contains(body, "<RequestId>") {
		t.Errorf("%d %s", code, body)
	}
	code, body = post(url.Values{"Action": {"EnterStandby"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"web-asg"},
		"InstanceIds.member.1": {l.Instances[0].ID}})
	if code != 400 || !strings.Contains(body, "<Code>ValidationError</Code><Message>1 validation error detected: Value null at &#39;shouldDecrementDesiredCapacity&#39; failed to satisfy constraint: Member must not be null") {
		t.Errorf("no ShouldDecrementDesiredCapacity: %d %s", code, body)
	}
	code, body = post(url.Values{"Action": {"DescribeAutoScalingInstances"}, "Version": {"2011-01-01"}, "InstanceIds.member.1": {l.Instances[1].ID}})
	if code != 200 || !strings.HasPrefix(body, `<DescribeAutoScalingInstancesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingInstancesResult><AutoScalingInstances><member>`) ||
		!strings.Contains(body, "<HealthStatus>HEALTHY</HealthStatus>") || !strings.HasSuffix(body, "</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>") {
		t.Errorf("%d %s", code, body)
	}
	code, body = post(url.Values{"Action": {"SetDesiredCapacity"}, "Version": {"2011-01-01"}})
	if code != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("an operation the lab does not serve: %d %s", code, body)
	}
}

// TestAutoScalingFaults: the injected faults answer in Auto Scaling's shape, and are
// recorded.
func TestAutoScalingFaults(t *testing.T) {
	l, cfg := asgLab(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(cfg)
	call := func() error {
		_, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{l.Instances[0].ID}})
		return err
	}
	for _, f := range []struct {
		fault  awsapi.Fault
		code   string
		status int
	}{
		{awsapi.InternalError, "InternalFailure", 500},
		{awsapi.ServiceUnavailable, "ServiceUnavailable", 503},
		{awsapi.AccessDenied, "AccessDenied", 403},
		{awsapi.Throttling, "Throttling", 400},
	} {
		before := len(l.Injected())
		if _, err := l.API.Inject(awsapi.Rule{Service: awsapi.ServiceAutoScaling, Operation: "DescribeAutoScalingInstances", Fault: f.fault, Times: 1}); err != nil {
			t.Fatal(err)
		}
		err := call()
		if code(err) != f.code || status(err) != f.status {
			t.Errorf("%s: answered %d %q (%v), want %d %s", f.fault, status(err), code(err), err, f.status, f.code)
		}
		var api smithy.APIError
		if f.fault == awsapi.AccessDenied && (!errors.As(err, &api) ||
			!strings.Contains(api.ErrorMessage(), "is not authorized to perform: autoscaling:DescribeAutoScalingInstances") ||
			!strings.HasSuffix(api.ErrorMessage(), "because no identity-based policy allows the autoscaling:DescribeAutoScalingInstances action")) {
			t.Errorf("access denied message: %v", err)
		}
		if err := call(); err != nil {
			t.Errorf("the call after the one %s: %v", f.fault, err)
		}
		if got := l.Injected()[before:]; len(got) != 1 || got[0].Service != awsapi.ServiceAutoScaling || got[0].Code != f.code || got[0].Status != f.status {
			t.Errorf("recorded %+v", got)
		}
	}
	l.API.Throttle("EnterStandby", 1)
	_, err := c.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{l.Instances[0].ID},
		ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if code(err) != "Throttling" {
		t.Errorf("throttled EnterStandby: %v", err)
	}
	if out, _ := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{l.Instances[0].ID}}); aws.ToString(out.AutoScalingInstances[0].LifecycleState) != "InService" {
		t.Errorf("a throttled EnterStandby took effect")
	}
}

// TestAutoScalingReplacesUnhealthy: in the lab, a stopped InService member is replaced
// once its grace period (20 s) is over, terminated and gone from its group; a stopped
// member entering Standby (its target draining for 30 s) and then in Standby is not; an
// instance in no group is not either.
func TestAutoScalingReplacesUnhealthy(t *testing.T) {
	l, cfg := asgLab(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(cfg)
	id0, id1, id2, id3 := l.Instances[0].ID, l.Instances[1].ID, l.Instances[2].ID, l.Instances[3].ID
	if _, err := c.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web-asg"), InstanceIds: []string{id1},
		ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	for _, id := range []string{id1, id2, id3} {
		if err := l.StopInstance(id); err != nil {
			t.Fatal(err)
		}
	}
	labtest.WaitFor(t, 30*time.Second, 20*time.Millisecond, "batch-asg's stopped instance to be replaced", func() (bool, any) {
		r := l.ASG.Replaced()
		return len(r) == 1 && r[0].InstanceID == id3, r
	})
	if took := time.Since(stopped); took < l.Clock.Seconds(20) {
		t.Errorf("replaced after %v, before the grace period (%v)", took, l.Clock.Seconds(20))
	}
	if s := l.InstanceState(id3); s != "terminated" {
		t.Errorf("the replaced instance is %s, want terminated", s)
	}
	out, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range out.AutoScalingInstances {
		left = append(left, *d.InstanceId+" "+*d.LifecycleState)
	}
	// id1 is still draining (30 s) unless the machine was slow: either is right here.
	if !slices.Equal(left, []string{id0 + " InService", id1 + " EnteringStandby"}) && !slices.Equal(left, []string{id0 + " InService", id1 + " Standby"}) {
		t.Errorf("instances left %v, want %s InService and %s EnteringStandby or Standby", left, id0, id1)
	}
	time.Sleep(l.Clock.Seconds(30)) // thirty lab seconds more: id1 has drained
	if r := l.ASG.Replaced(); len(r) != 1 {
		t.Errorf("replaced %+v: only batch-asg's instance should be", r)
	}
	if out, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id1}}); err != nil ||
		len(out.AutoScalingInstances) != 1 || aws.ToString(out.AutoScalingInstances[0].LifecycleState) != "Standby" {
		t.Errorf("%s after its drain: %+v, %v; want Standby", id1, out, err)
	}
	for _, id := range []string{id1, id2} {
		if s := l.InstanceState(id); s != "stopped" {
			t.Errorf("%s is %s, want stopped", id, s)
		}
	}
	var recorded bool
	for _, in := range l.Injected() {
		recorded = recorded || in.Fault == "AutoScalingTerminate" && in.Target == id3
	}
	if !recorded {
		t.Errorf("the group's termination is not in the record: %+v", l.Injected())
	}
	if ls := l.ASG.Launches(); len(ls) != 1 || ls[0].For != id3 || ls[0].Reason != "unhealthy" {
		t.Errorf("launches %+v", ls)
	}
}
