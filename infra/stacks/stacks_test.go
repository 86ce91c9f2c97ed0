package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/drainpipe/drainpipe/infra/settings"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/statemachine"
)

// TestMain closes the jsii runtime, or every run leaves a jsii-runtime folder behind.
// Every app is built with the default account and region the CDK CLI gives an app
// (CDK_DEFAULT_ACCOUNT, CDK_DEFAULT_REGION), which the templates must not take.
func TestMain(m *testing.M) {
	os.Setenv("CDK_DEFAULT_REGION", "us-east-1")
	os.Setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

const tgARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"

type synthesized struct {
	drainpipe, demo  map[string]any
	stack, demoStack awscdk.Stack
	err              error
}

var (
	once sync.Once
	syn  synthesized
)

// synth builds the app once, with context as cdk.json would give it, and fake function
// code (synth only packages it).
func synth(t *testing.T) synthesized {
	t.Helper()
	once.Do(func() {
		syn = synthWith(baseContext())
	})
	if syn.err != nil {
		t.Fatal(syn.err)
	}
	return syn
}

// baseContext is the context of synth: one target group, a schedule, an e-mail, the
// dashboard's load balancer and the demo stack.
func baseContext() map[string]any {
	return map[string]any{
		"targetGroupArns":       []any{tgARN},
		"functionsDir":          fakeFunctions(),
		"notificationEmails":    []any{"ops@example.com"},
		"dashboardLoadBalancer": "app/hello/0123456789abcdef",
		"alarmLoadBalancer":     "app/hello/0123456789abcdef",
		"demo":                  true,
		"schedules": []any{map[string]any{"name": "weekly", "cron": "cron(0 3 ? * SUN *)", "timezone": "Europe/London",
			"input": map[string]any{"maxConcurrency": 2}}},
	}
}

var (
	blueOnce sync.Once
	blueSyn  synthesized
)

// blue builds, once, a second copy: prefix blue, and the groups' account and region set
// explicitly.
func blue(t *testing.T) synthesized {
	t.Helper()
	blueOnce.Do(func() {
		ctx := baseContext()
		ctx["namePrefix"], ctx["region"], ctx["account"] = "blue", "eu-west-1", "123456789012"
		blueSyn = synthWith(ctx)
	})
	if blueSyn.err != nil {
		t.Fatal(blueSyn.err)
	}
	return blueSyn
}

var (
	fakeOnce sync.Once
	fakeDir  string
)

// fakeFunctions is a folder with a fake bootstrap per function.
func fakeFunctions() string {
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drainpipe-infra-test-")
		if err != nil {
			panic(err)
		}
		for _, f := range catalog.All {
			_ = os.MkdirAll(filepath.Join(dir, f.Name), 0o755)
			_ = os.WriteFile(filepath.Join(dir, f.Name, "bootstrap"), []byte("fake"), 0o755)
		}
		fakeDir = dir
	})
	return fakeDir
}

// synthWith builds an app with the given context and returns its templates (the demo's
// when the context asks for it).
func synthWith(ctx map[string]any) synthesized {
	var out synthesized
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	d, err := NewApp(app)
	if err != nil {
		out.err = err
		return out
	}
	out.stack = d.Stack
	out.drainpipe = *assertions.Template_FromStack(d.Stack, nil).ToJSON()
	if demo, ok := app.Node().TryFindChild(jsii.String("DrainpipeDemo")).(awscdk.Stack); ok {
		out.demoStack = demo
		out.demo = *assertions.Template_FromStack(demo, nil).ToJSON()
	}
	return out
}

func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func TestFunctionsMatchTheCatalog(t *testing.T) {
	s := synth(t)
	fns := resources(s.drainpipe, "AWS::Lambda::Function")
	if len(fns) != len(catalog.All) {
		t.Errorf("%d functions in the template, want %d", len(fns), len(catalog.All))
	}
	byName := map[string]map[string]any{}
	for _, p := range fns {
		byName[fmt.Sprint(p["FunctionName"])] = p
	}
	for _, f := range catalog.All {
		p, ok := byName["drainpipe-"+f.Name]
		if !ok || fmt.Sprint(p["MemorySize"]) != fmt.Sprint(f.MemoryMB) || fmt.Sprint(p["Timeout"]) != fmt.Sprint(f.TimeoutSeconds) {
			t.Errorf("%s: deployed as %v (found %v), want its catalog memory %d MB and timeout %d s", f.Name, p, ok, f.MemoryMB, f.TimeoutSeconds)
		}
	}
	for id, p := range fns {
		if p["Runtime"] != "provided.al2023" || fmt.Sprint(p["Architectures"]) != "[arm64]" || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v", id, p["Runtime"], p["Architectures"], p["Handler"])
		}
		if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogFormat"] != "JSON" || lc["LogGroup"] == nil {
			t.Errorf("%s: logging %v, want JSON to its own log group", id, p["LoggingConfig"])
		}
	}
	for id, p := range resources(s.drainpipe, "AWS::Logs::LogGroup") {
		if p["RetentionInDays"] != float64(30) {
			t.Errorf("log group %s retention %v", id, p["RetentionInDays"])
		}
	}
}

// TestEveryPlaceholderResolvesToAFunction: every ${...} of each definition has a
// substitution; a function's resolves to one of the template's functions of that state
// machine's side, the others to the resources they name; none is unused.
func TestEveryPlaceholderResolvesToAFunction(t *testing.T) {
	s := synth(t)
	machines := resources(s.drainpipe, "AWS::StepFunctions::StateMachine")
	if len(machines) != 3 {
		t.Fatalf("%d state machines, want 3", len(machines))
	}
	fns := resources(s.drainpipe, "AWS::Lambda::Function")
	files := map[string]string{
		"drainpipe-maintain-instance": statemachine.MaintainInstance, "drainpipe-maintain-fleet": statemachine.MaintainFleet,
		"drainpipe-restore-execution": statemachine.RestoreExecution,
	}
	for _, sm := range machines {
		def, _ := statemachine.Definition(files[sm["StateMachineName"].(string)])
		subs := sm["DefinitionSubstitutions"].(map[string]any)
		var keys []string
		for k := range subs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if placeholders := statemachine.Placeholders(def); !slices.Equal(keys, placeholders) {
			t.Errorf("%s: substitutions %v, placeholders %v", sm["StateMachineName"], keys, placeholders)
		}
		for k, v := range subs {
			ref, _ := json.Marshal(v)
			switch {
			case strings.HasSuffix(k, "FunctionArn"):
				getAtt, _ := v.(map[string]any)["Fn::GetAtt"].([]any)
				if len(getAtt) != 2 || getAtt[1] != "Arn" || fns[getAtt[0].(string)] == nil {
					t.Errorf("%s = %s is not a function's ARN", k, ref)
				}
			case k == "MaintainInstanceStateMachineArn" && strings.Contains(string(ref), "MaintainInstance"),
				k == "CapacityTableName" && strings.Contains(string(ref), "Capacity"),
				k == "RolloutTableName" && strings.Contains(string(ref), "Rollouts"),
				k == "NotificationTopicArn" && strings.Contains(string(ref), "Notifications"),
				k == "InstanceTagKey" && string(ref) == `"drainpipe"`, k == "InstanceTagValue" && string(ref) == `"enabled"`:
			default:
				t.Errorf("%s = %s", k, ref)
			}
		}
		if sm["StateMachineType"] != "STANDARD" {
			t.Errorf("state machine type %v", sm["StateMachineType"])
		}
		lc := sm["LoggingConfiguration"].(map[string]any)
		if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != true {
			t.Errorf("logging %v", lc)
		}
		if sm["TracingConfiguration"].(map[string]any)["Enabled"] != true {
			t.Error("X-Ray tracing is off")
		}
	}
	for _, p := range resources(s.drainpipe, "AWS::DynamoDB::Table") {
		if p["BillingMode"] != "PAY_PER_REQUEST" || p["TimeToLiveSpecification"].(map[string]any)["AttributeName"] != "expiresAt" || p["SSESpecification"] == nil {
			t.Errorf("capacity table %v", p)
		}
	}
}

func TestScheduleCarriesTheContext(t *testing.T) {
	s := synth(t)
	var found bool
	for _, p := range resources(s.drainpipe, "AWS::Scheduler::Schedule") {
		found = true
		target := p["Target"].(map[string]any)
		if p["ScheduleExpression"] != "cron(0 3 ? * SUN *)" || p["ScheduleExpressionTimezone"] != "Europe/London" || p["State"] != "ENABLED" {
			t.Errorf("schedule %v", p)
		}
		if target["Input"] != `{"alarms":{"names":["drainpipe-alb-elb-5xx","drainpipe-alb-target-5xx","drainpipe-alb-response-time"]},`+
			`"maintenance":{"action":"patch"},"maxConcurrency":2,"targetGroupArns":["`+tgARN+`"]}` {
			t.Errorf("input %v: the context's input with the default action, the groups and the load balancer's alarms", target["Input"])
		}
		if ref, _ := target["Arn"].(map[string]any)["Ref"].(string); !strings.HasPrefix(ref, "MaintainFleet") {
			t.Errorf("the schedule starts %v, want the fleet state machine", target["Arn"])
		}
		if target["DeadLetterConfig"] == nil || target["RetryPolicy"].(map[string]any)["MaximumRetryAttempts"] != float64(3) {
			t.Errorf("target %v lacks the DLQ or the retry policy", target)
		}
	}
	if !found {
		t.Fatal("no schedule")
	}
}

// TestLoadBalancerAlarms: the alarms the schedules watch, on the configured load balancer,
// with the default thresholds: each metric, statistic, period, comparison and treatment
// of missing data.
func TestLoadBalancerAlarms(t *testing.T) {
	s := synth(t)
	want := map[string]string{
		"drainpipe-alb-elb-5xx":       "HTTPCode_ELB_5XX_Count Sum 60 GreaterThanOrEqualToThreshold 10 1/1",
		"drainpipe-alb-target-5xx":    "HTTPCode_Target_5XX_Count Sum 60 GreaterThanOrEqualToThreshold 10 1/1",
		"drainpipe-alb-response-time": "TargetResponseTime p99 60 GreaterThanThreshold 2 2/2",
	}
	got := map[string]string{}
	for _, p := range resources(s.drainpipe, "AWS::CloudWatch::Alarm") {
		name, _ := p["AlarmName"].(string)
		stat, _ := p["Statistic"].(string)
		if stat == "" {
			stat, _ = p["ExtendedStatistic"].(string)
		}
		got[name] = fmt.Sprintf("%v %v %v %v %v %v/%v", p["MetricName"], stat, p["Period"], p["ComparisonOperator"], p["Threshold"],
			p["DatapointsToAlarm"], p["EvaluationPeriods"])
		dims, _ := json.Marshal(p["Dimensions"])
		if p["Namespace"] != "AWS/ApplicationELB" || string(dims) != `[{"Name":"LoadBalancer","Value":"app/hello/0123456789abcdef"}]` || p["TreatMissingData"] != "notBreaching" {
			t.Errorf("alarm %s: %v %s %v", name, p["Namespace"], dims, p["TreatMissingData"])
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("alarms:\n got  %v\n want %v", got, want)
	}
	if alarms := resources(s.demo, "AWS::CloudWatch::Alarm"); len(alarms) != 0 {
		t.Errorf("the demo stack has %d alarms", len(alarms))
	}
}

// statements returns each IAM policy's statements, by the policy's roles.
func statements(tpl map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for id, p := range resources(tpl, "AWS::IAM::Policy") {
		var roles []string
		for _, r := range p["Roles"].([]any) {
			roles = append(roles, r.(map[string]any)["Ref"].(string))
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out[strings.Join(roles, ",")+" "+id] = append(out[strings.Join(roles, ",")+" "+id], st.(map[string]any))
		}
	}
	return out
}

func list(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			b, _ := json.Marshal(x)
			if s, ok := x.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, string(b))
			}
		}
		return out
	default:
		b, _ := json.Marshal(t)
		return []string{string(b)}
	}
}

func TestNotificationsAndDashboard(t *testing.T) {
	s := synth(t)
	tpl := assertions.Template_FromStack(s.stack, nil)
	must(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": assertions.Match_AnyValue()})
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{"EventPattern": map[string]any{
			"source": []any{"aws.states"}, "detail-type": []any{"Step Functions Execution Status Change"},
			"detail": assertions.Match_ObjectLike(&map[string]any{"status": []any{"FAILED", "TIMED_OUT", "ABORTED"}}),
		}})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
	for _, d := range resources(s.drainpipe, "AWS::CloudWatch::Dashboard") {
		body, _ := json.Marshal(d["DashboardBody"])
		for _, want := range []string{"ExecutionsStarted", "ExecutionsFailed", "RequestCount", "HTTPCode_ELB_5XX_Count", "app/hello/0123456789abcdef"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("dashboard lacks %s", want)
			}
		}
	}
}

func TestDemoStack(t *testing.T) {
	s := synth(t)
	if n := len(resources(s.demo, "AWS::EC2::Instance")); n != 3 {
		t.Errorf("%d instances, want 3", n)
	}
	tpl := assertions.Template_FromStack(s.demoStack, nil)
	must(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"Port": 8080, "HealthCheckIntervalSeconds": 6, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2, "TargetType": "instance"})
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), map[string]any{"Port": 80})
		tpl.HasResourceProperties(jsii.String("AWS::EC2::Instance"), map[string]any{"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "drainpipe", "Value": "enabled"}})})
	})
}

// TestNagFindsNothing: cdk-nag's AwsSolutions checks report no unsuppressed error in
// either stack (every suppression carries its reason in code).
func TestNagFindsNothing(t *testing.T) {
	s := synth(t)
	for _, stack := range []awscdk.Stack{s.stack, s.demoStack} {
		errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		for _, e := range *errs {
			b, _ := json.Marshal(e) // the finding, marshalled: its fields are all deprecated
			t.Errorf("%s: %s", *stack.StackName(), b)
		}
	}
}

func TestBadContextFailsSynth(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"targetGroupArns": []any{"not-an-arn"}, "defaultAction": "restart"}})
	_, err := NewApp(app)
	if err == nil || !strings.Contains(err.Error(), `"not-an-arn" is not a target group ARN`) || !strings.Contains(err.Error(), `"restart" is not an action`) {
		t.Errorf("error %v", err)
	}
}

// must runs jsii assertions, which panic on failure, as a test failure.
func must(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("assertion failed: %v", r)
		}
	}()
	f()
}

func mustSettings() settings.Settings {
	s, err := settings.Parse(func(k string) (any, bool) {
		if k == settings.KeyTargetGroupARNs {
			return []any{tgARN}, true
		}
		return nil, false
	})
	if err != nil {
		panic(err)
	}
	return s
}

// TestTableAccess: every DynamoDB action is on one of the two tables, never on "*". On
// the capacity table, dynamodb:LeadingKeys limits each function to the items it owns:
// the reservation functions to instance# and group# items, the lease functions to lease#
// items. The rollouts table is the fleet's and the recovery's alone.
func TestTableAccess(t *testing.T) {
	s := synth(t)
	capacityKeys := map[string][]string{
		"ReserveCapacityRole": {"instance#*", "group#*"}, "ReleaseCapacityRole": {"instance#*", "group#*"},
		"PlanRolloutRole": {"lease#*"}, "AcquireLeasesRole": {"lease#*"}, "NextWaveRole": {"lease#*"}, "ReleaseLeasesRole": {"lease#*"},
		"RestoreExecutionRole": {"instance#*", "group#*", "lease#*"},
	}
	rollouts := []string{"PlanRolloutRole", "AcquireLeasesRole", "NextWaveRole", "RecordWaveRole", "ReleaseLeasesRole", "SummarizeRolloutRole", "RestoreExecutionRole"}
	seen := map[string]bool{}
	role := func(policy string, of []string) string {
		for _, r := range of {
			if strings.HasPrefix(policy, r) {
				return r
			}
		}
		return ""
	}
	for policy, sts := range statements(s.drainpipe) {
		for _, st := range sts {
			if !strings.HasPrefix(strings.Join(list(st["Action"]), " "), "dynamodb:") {
				continue
			}
			res := strings.Join(list(st["Resource"]), " ")
			switch {
			case strings.Contains(res, "*"):
				t.Errorf("%s: DynamoDB on %s", policy, res)
			case strings.Contains(res, "Capacity"):
				r := role(policy, slices.Collect(maps.Keys(capacityKeys)))
				if r == "" {
					t.Errorf("%s may use the capacity table: %v", policy, st["Action"])
					continue
				}
				seen["capacity "+r] = true
				cond, _ := st["Condition"].(map[string]any)
				like, _ := cond["ForAllValues:StringLike"].(map[string]any)
				if got := list(like["dynamodb:LeadingKeys"]); !slices.Equal(got, capacityKeys[r]) {
					t.Errorf("%s: leading keys %v, want %v", policy, got, capacityKeys[r])
				}
			case strings.Contains(res, "Rollouts"):
				r := role(policy, rollouts)
				if r == "" {
					t.Errorf("%s may use the rollouts table: %v", policy, st["Action"])
				}
				seen["rollouts "+r] = true
			default:
				t.Errorf("%s: DynamoDB on %s, want one of the stack's tables", policy, res)
			}
		}
	}
	for r := range capacityKeys {
		if !seen["capacity "+r] {
			t.Errorf("no capacity table statement for %s: the test saw nothing to check", r)
		}
	}
	for _, r := range rollouts {
		if !seen["rollouts "+r] {
			t.Errorf("no rollouts table statement for %s", r)
		}
	}
}

// TestRestoreOnEnd: the rule sends the status change of every instance or fleet execution
// that ends FAILED, TIMED_OUT or ABORTED to the restore state machine, with retries and a
// dead-letter queue.
func TestRestoreOnEnd(t *testing.T) {
	s := synth(t)
	var found bool
	for id, p := range resources(s.drainpipe, "AWS::Events::Rule") {
		if !strings.HasPrefix(id, "RestoreOnEnd") {
			continue
		}
		found = true
		pattern := p["EventPattern"].(map[string]any)
		detail := pattern["detail"].(map[string]any)
		if got := list(detail["status"]); !slices.Equal(got, statemachine.RestoreOn) {
			t.Errorf("statuses %v, want %v", got, statemachine.RestoreOn)
		}
		machines := strings.Join(list(detail["stateMachineArn"]), " ")
		if !strings.Contains(machines, "MaintainInstance") || !strings.Contains(machines, "MaintainFleet") || strings.Contains(machines, "Restore") {
			t.Errorf("the rule watches %s; want the instance and fleet state machines", machines)
		}
		if list(pattern["detail-type"])[0] != "Step Functions Execution Status Change" || list(pattern["source"])[0] != "aws.states" {
			t.Errorf("pattern %v", pattern)
		}
		targets := p["Targets"].([]any)
		target := targets[0].(map[string]any)
		if ref, _ := json.Marshal(target["Arn"]); len(targets) != 1 || !strings.Contains(string(ref), `"Restore`) {
			t.Errorf("the rule starts %s, want the restore state machine", ref)
		}
		if target["DeadLetterConfig"] == nil || target["RetryPolicy"] == nil {
			t.Errorf("target %v lacks a dead-letter queue or a retry policy", target)
		}
	}
	if !found {
		t.Fatal("no RestoreOnEnd rule")
	}
}

// TestRestoreWaitsOutTheFunctions: a stopped execution's Lambda invocations go on to
// their end, so the restore waits longer than any function that changes what it puts back
// (registrations, commands, reservations and leases in the capacity table) may run.
func TestRestoreWaitsOutTheFunctions(t *testing.T) {
	raw, _ := statemachine.Definition(statemachine.RestoreExecution)
	var def struct {
		StartAt string
		States  map[string]struct {
			Type    string
			Seconds int
		}
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	first := def.States[def.StartAt]
	if first.Type != "Wait" {
		t.Fatalf("the restore starts with %s, want a Wait", first.Type)
	}
	s := synth(t)
	writers := 0
	for _, f := range catalog.All {
		if f.Name == catalog.RestoreExecution.Name {
			continue
		}
		writes := false
		for _, st := range (Env{Stack: s.stack, Settings: mustSettings(), CapacityTableARN: jsii.String("capacity"), RolloutTableARN: jsii.String("rollouts"),
			TopicARN: jsii.String("t"), TopicKeyARN: jsii.String("k")}).Statements(f) {
			onCapacity := slices.ContainsFunc(*st.Resources(), func(r *string) bool { return *r == "capacity" })
			for _, a := range *st.Actions() {
				service, verb, _ := strings.Cut(*a, ":")
				read := strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List") || verb == "Query"
				restored := service == "elasticloadbalancing" || service == "ssm" || service == "dynamodb" && onCapacity
				writes = writes || !read && restored
			}
		}
		if writes {
			writers++
			if first.Seconds <= f.TimeoutSeconds {
				t.Errorf("%s may run %v s, longer than the restore's wait of %d s", f.Name, f.TimeoutSeconds, first.Seconds)
			}
		}
	}
	if writers < 5 {
		t.Errorf("only %d functions that change something: the test checked too little", writers)
	}
}
