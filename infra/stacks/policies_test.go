package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The expected policies of the Drainpipe stack synthesized by synth (prefix drainpipe,
// one target group, one schedule, no extra SSM documents), written out here, statement
// by statement, from what each function and service must be able to do (README,
// Deploy): not derived from internal/catalog or from the code that builds the stack.
// Tokens render as ${AWS::Region}, references as ${LogicalId} or ${LogicalId.Attribute}
// (without CDK's hash).

const (
	topicRef    = "${Notifications}"
	keyARN      = "${TopicKey.Arn}"
	capacityARN = "${Capacity.Arn}"
	rolloutsARN = "${Rollouts.Arn}"
)

// here is an ARN of the stack's partition, region and account.
func here(service, resource string) string {
	return "arn:${AWS::Partition}:" + service + ":${AWS::Region}:${AWS::AccountId}:" + resource
}

var (
	instances          = here("ec2", "instance/*")
	instanceExecutions = here("states", "execution:drainpipe-maintain-instance:*")
	autoScalingGroups  = here("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")
	fleetExecutions    = here("states", "execution:drainpipe-maintain-fleet:*")
	taggedOnly         = `{"StringEquals": {"aws:ResourceTag/drainpipe": "enabled"}}`
	reservationKeys    = `{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["instance#*", "group#*"]}}`
	leaseKeys          = `{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["lease#*"]}}`
)

func allow(actions string, resources ...string) want {
	return want{actions: strings.Fields(actions), resources: resources}
}

func allowIf(condition, actions string, resources ...string) want {
	w := allow(actions, resources...)
	w.condition = condition
	return w
}

// trusted: only service may assume the role; with sourceArn, only for that resource
// of the stack's account (confused-deputy prevention).
func trusted(service, sourceArn string) want {
	w := want{principal: "Service:" + service, actions: []string{"sts:AssumeRole"}}
	if sourceArn != "" {
		w.condition = fmt.Sprintf(`{"StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}, "ArnEquals": {"aws:SourceArn": %q}}`, sourceArn)
	}
	return w
}

// lambdaRole adds a function's role: trusted by Lambda (no condition: see
// NewDrainpipeStack), writing its own log group, and the statements given.
func lambdaRole(e map[string][]want, construct string, statements ...want) {
	e["role "+construct+"Role trust"] = []want{trusted("lambda.amazonaws.com", "")}
	e["role "+construct+"Role"] = append([]want{allow("logs:CreateLogStream logs:PutLogEvents", "${"+construct+"Logs.Arn}")}, statements...)
}

// machineRole adds a state machine's role: trusted by Step Functions for that state machine
// only, delivering its logs and traces, invoking exactly the functions named.
func machineRole(e map[string][]want, construct, name string, functions []string, more ...want) {
	e["role "+construct+"Role trust"] = []want{trusted("states.amazonaws.com", here("states", "stateMachine:"+name))}
	statements := []want{
		allow("logs:CreateLogDelivery logs:GetLogDelivery logs:UpdateLogDelivery logs:DeleteLogDelivery logs:ListLogDeliveries logs:PutResourcePolicy logs:DescribeResourcePolicies logs:DescribeLogGroups", "*"),
		allow("xray:PutTraceSegments xray:PutTelemetryRecords xray:GetSamplingRules xray:GetSamplingTargets", "*"),
	}
	for _, f := range functions {
		statements = append(statements, allow("lambda:InvokeFunction", "${"+f+".Arn}", "${"+f+".Arn}:*"))
	}
	e["role "+construct+"Role"] = append(statements, more...)
}

// expected is the expectation of the stack that synth builds.
func expected() expectation {
	describeHealth := allow("elasticloadbalancing:DescribeTargetHealth", "*")
	publish := []want{allow("sns:Publish", topicRef), allow("kms:GenerateDataKey kms:Decrypt", keyARN)}
	p := map[string][]want{}

	// The instance state machine's functions.
	lambdaRole(p, "ResolveTargets", allow("elasticloadbalancing:DescribeTargetGroups elasticloadbalancing:DescribeTargetGroupAttributes elasticloadbalancing:DescribeTargetHealth", "*"))
	lambdaRole(p, "CheckInstance", describeHealth, allow("ec2:DescribeInstances", "*"), allow("cloudwatch:DescribeAlarms autoscaling:DescribeAutoScalingInstances", "*"))
	lambdaRole(p, "ReserveCapacity", describeHealth,
		allowIf(reservationKeys, "dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem dynamodb:DeleteItem", capacityARN))
	lambdaRole(p, "EnterStandby", allow("autoscaling:DescribeAutoScalingInstances", "*"), allow("autoscaling:EnterStandby", autoScalingGroups))
	lambdaRole(p, "DeregisterTarget", allow("elasticloadbalancing:DeregisterTargets", tgARN))
	sendToDocuments := allow("ssm:SendCommand", "arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript", "arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline",
		"arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaselineWithHooks")
	// The idle drain's check is an SSM command check-drain sends and checks itself.
	lambdaRole(p, "CheckDrain", describeHealth, sendToDocuments, allowIf(taggedOnly, "ssm:SendCommand", instances),
		allow("ssm:GetCommandInvocation ssm:CancelCommand ssm:ListCommands", "*"))
	lambdaRole(p, "SendCommand", sendToDocuments, allowIf(taggedOnly, "ssm:SendCommand", instances), allow("ssm:ListCommands cloudwatch:DescribeAlarms", "*"))
	lambdaRole(p, "CheckCommand", allow("ssm:GetCommandInvocation ssm:CancelCommand ssm:ListCommands ssm:DescribeInstancePatchStates", "*"))
	lambdaRole(p, "RegisterTarget", allow("elasticloadbalancing:RegisterTargets", tgARN))
	lambdaRole(p, "CheckTargetHealth", describeHealth)
	lambdaRole(p, "ExitStandby", allow("autoscaling:DescribeAutoScalingInstances", "*"), allow("autoscaling:ExitStandby", autoScalingGroups))
	lambdaRole(p, "ReleaseCapacity", allowIf(reservationKeys, "dynamodb:GetItem dynamodb:UpdateItem dynamodb:DeleteItem", capacityARN))
	lambdaRole(p, "Summarize")

	// The fleet's.
	lambdaRole(p, "PlanRollout",
		allow("elasticloadbalancing:DescribeTargetGroups elasticloadbalancing:DescribeTargetGroupAttributes elasticloadbalancing:DescribeTargetHealth ec2:DescribeInstances ssm:DescribeInstanceInformation", "*"),
		allowIf(leaseKeys, "dynamodb:GetItem", capacityARN),
		allow("dynamodb:GetItem dynamodb:PutItem dynamodb:BatchWriteItem", rolloutsARN))
	lambdaRole(p, "AcquireLeases", allowIf(leaseKeys, "dynamodb:PutItem dynamodb:DeleteItem dynamodb:GetItem", capacityARN),
		allow("dynamodb:GetItem dynamodb:UpdateItem", rolloutsARN))
	lambdaRole(p, "NextWave", allowIf(leaseKeys, "dynamodb:PutItem dynamodb:DeleteItem dynamodb:GetItem", capacityARN),
		allow("dynamodb:GetItem dynamodb:UpdateItem", rolloutsARN), allow("cloudwatch:DescribeAlarms cloudwatch:DescribeAlarmHistory", "*"))
	lambdaRole(p, "RecordWave", describeHealth,
		allowIf(`{"StringEquals": {"aws:ResourceTag/drainpipe": "enabled"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["drainpipe:last-maintained"]}}`,
			"ec2:CreateTags", instances),
		allow("states:DescribeExecution", instanceExecutions),
		allow("dynamodb:GetItem dynamodb:UpdateItem", rolloutsARN))
	lambdaRole(p, "ReleaseLeases", allowIf(leaseKeys, "dynamodb:DeleteItem", capacityARN), allow("dynamodb:GetItem", rolloutsARN))
	lambdaRole(p, "SummarizeRollout", append([]want{allow("dynamodb:Query dynamodb:UpdateItem", rolloutsARN)}, publish...)...)

	// The restore's.
	lambdaRole(p, "RestoreExecution", append([]want{
		allow("elasticloadbalancing:RegisterTargets", tgARN),
		allow("ssm:ListCommands ssm:CancelCommand", "*"),
		allowIf(`{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["instance#*", "group#*", "lease#*"]}}`,
			"dynamodb:GetItem dynamodb:UpdateItem dynamodb:DeleteItem", capacityARN),
		allow("dynamodb:GetItem dynamodb:UpdateItem", rolloutsARN),
		allow("states:DescribeExecution states:StopExecution", instanceExecutions),
		allow("autoscaling:DescribeAutoScalingInstances", "*"),
		allow("autoscaling:ExitStandby", autoScalingGroups),
	}, publish...)...)

	// The state machines.
	machineRole(p, "MaintainInstance", "drainpipe-maintain-instance", []string{"ResolveTargets", "CheckInstance", "ReserveCapacity", "EnterStandby",
		"DeregisterTarget", "CheckDrain", "SendCommand", "CheckCommand", "RegisterTarget", "CheckTargetHealth", "ExitStandby", "ReleaseCapacity", "Summarize"})
	machineRole(p, "MaintainFleet", "drainpipe-maintain-fleet", []string{"PlanRollout", "AcquireLeases", "NextWave", "RecordWave", "ReleaseLeases", "SummarizeRollout"},
		allow("states:StartExecution", "${MaintainInstance}"),
		allow("states:StartExecution", here("states", "stateMachine:drainpipe-maintain-fleet")),
		allow("states:DescribeExecution states:StopExecution", instanceExecutions, fleetExecutions),
		allow("events:PutTargets events:PutRule events:DescribeRule", here("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")))
	machineRole(p, "Restore", "drainpipe-restore-execution", []string{"RestoreExecution"})

	// The rules' and the schedules' roles.
	p["role RestoreOnEndRole trust"] = []want{trusted("events.amazonaws.com", here("events", "rule/drainpipe-restore-on-end"))}
	p["role RestoreOnEndRole"] = []want{allow("states:StartExecution", "${Restore}")}
	p["role ExecutionFailedRole trust"] = []want{trusted("events.amazonaws.com", here("events", "rule/drainpipe-execution-failed"))}
	p["role ExecutionFailedRole"] = publish
	p["role ScheduleRole trust"] = []want{trusted("scheduler.amazonaws.com", here("scheduler", "schedule-group/drainpipe"))}
	p["role ScheduleRole"] = []want{allow("states:StartExecution", "${MaintainFleet}"), allow("sqs:SendMessage", "${ScheduleDeadLetters.Arn}")}

	// Resource policies: the key is the account's alone (IAM policies decide, and
	// EventBridge publishes through its role, so no service is named); the topic and the
	// queues refuse plain HTTP; EventBridge may send to the restore queue for its rule.
	insecure := `{"Bool": {"aws:SecureTransport": "false"}}`
	p["key TopicKey"] = []want{{principal: "AWS:arn:${AWS::Partition}:iam::${AWS::AccountId}:root", actions: []string{"kms:*"}, resources: []string{"*"}}}
	p["topic Notifications"] = []want{{effect: "Deny", principal: "*", actions: []string{"sns:Publish"}, resources: []string{topicRef}, condition: insecure}}
	p["queue ScheduleDeadLetters"] = []want{{effect: "Deny", principal: "AWS:*", actions: []string{"sqs:*"}, resources: []string{"${ScheduleDeadLetters.Arn}"}, condition: insecure}}
	p["queue RestoreDeadLetters"] = []want{
		{effect: "Deny", principal: "AWS:*", actions: []string{"sqs:*"}, resources: []string{"${RestoreDeadLetters.Arn}"}, condition: insecure},
		{principal: "Service:events.amazonaws.com", actions: []string{"sqs:SendMessage"}, resources: []string{"${RestoreDeadLetters.Arn}"},
			condition: `{"StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}, "ArnEquals": {"aws:SourceArn": "${RestoreOnEnd.Arn}"}}`},
	}

	statusChange := func(machines ...string) string {
		return fmt.Sprintf(`{"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
			"detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": ["%s"]}}`, strings.Join(machines, `", "`))
	}
	return expectation{
		policies: p,
		rules: map[string]ruleWant{
			"drainpipe-restore-on-end": {
				pattern: statusChange("${MaintainInstance}", "${MaintainFleet}"),
				targets: `[{"Id": "restore", "Arn": "${Restore}", "RoleArn": "${RestoreOnEndRole.Arn}",
					"DeadLetterConfig": {"Arn": "${RestoreDeadLetters.Arn}"},
					"RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}}]`,
			},
			"drainpipe-execution-failed": {
				pattern: statusChange("${MaintainInstance}", "${MaintainFleet}", "${Restore}"),
				// The topic gets a text built from the event's name, status, error, cause
				// and execution ARN (the console link).
				targets: `[{"Id": "topic", "Arn": "${Notifications}", "RoleArn": "${ExecutionFailedRole.Arn}",
					"InputTransformer": {
						"InputPathsMap": {"name": "$.detail.name", "status": "$.detail.status", "error": "$.detail.error",
							"cause": "$.detail.cause", "executionArn": "$.detail.executionArn"},
						"InputTemplate": "\"drainpipe execution <name> ended <status>.\\nError: <error>\\nCause: <cause>\\nConsole: https://${AWS::Region}.console.aws.amazon.com/states/home?region=${AWS::Region}#/v2/executions/details/<executionArn>\""}}]`,
			},
		},
		schedules: map[string]scheduleWant{
			"drainpipe-weekly": {
				group: "drainpipe", expression: "cron(0 3 ? * SUN *)", timezone: "Europe/London", state: "ENABLED",
				target: `{"Arn": "${MaintainFleet}", "RoleArn": "${ScheduleRole.Arn}", "DeadLetterConfig": {"Arn": "${ScheduleDeadLetters.Arn}"},
					"RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
					"Input": "{\"alarms\":{\"names\":[\"drainpipe-alb-elb-5xx\",\"drainpipe-alb-target-5xx\",\"drainpipe-alb-response-time\"]},\"maintenance\":{\"action\":\"patch\"},\"maxConcurrency\":2,\"targetGroupArns\":[\"` + tgARN + `\"]}"}`,
			},
		},
	}
}

// TestPoliciesAreExactlyTheExpected: every role's trust and statements, the key's, the
// topic's and the queues' policies, each rule's pattern and target (its role, retries,
// dead-letter queue, input paths) and the schedule's target are exactly as written above:
// nothing missing, nothing more.
func TestPoliciesAreExactlyTheExpected(t *testing.T) {
	s := synth(t)
	e := expected()
	for _, p := range e.check(s.drainpipe) {
		t.Error(p)
	}
	// The expectation covers every role and policy-bearing resource of the template.
	got, _ := holders(s.drainpipe)
	if len(got) != len(e.policies) {
		t.Errorf("%d policy holders in the template, %d expected", len(got), len(e.policies))
	}
	var n int
	for _, sts := range got {
		n += len(sts)
	}
	t.Logf("%d holders, %d statements, %d rules, %d schedules checked", len(got), n, len(e.rules), len(e.schedules))
}

// TestPolicyMutationsAreCaught: the checker fails every template in which one policy
// statement (IAM, KMS, SNS or SQS) is deleted, widened to Resource "*", stripped of its
// Condition or given one more action.
func TestPolicyMutationsAreCaught(t *testing.T) {
	s := synth(t)
	e := expected()
	if problems := e.check(s.drainpipe); len(problems) > 0 {
		t.Fatalf("the unmutated template already fails: %v", problems)
	}
	kinds := map[string][2]int{}
	var tried, caught int
	for _, m := range mutations(s.drainpipe) {
		tpl := deepCopy(s.drainpipe)
		m.apply(tpl)
		tried++
		k := kinds[m.kind]
		k[0]++
		if len(e.check(tpl)) > 0 {
			caught++
			k[1]++
		} else {
			t.Errorf("survived: %s %s", m.where, m.kind)
		}
		kinds[m.kind] = k
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		t.Logf("%-22s %3d tried, %3d caught", k, kinds[k][0], kinds[k][1])
	}
	t.Logf("mutations: %d tried, %d caught", tried, caught)
	if tried < 100 {
		t.Errorf("only %d mutations: the template has fewer statements than it should", tried)
	}
}

// writes are every action that changes something; each may appear only where listed,
// on exactly these resources and under exactly these conditions.
var writes = map[string][]string{
	"elasticloadbalancing:DeregisterTargets": {"role DeregisterTargetRole on " + tgARN},
	"elasticloadbalancing:RegisterTargets": {
		"role RegisterTargetRole on " + tgARN,
		"role RestoreExecutionRole on " + tgARN,
	},
	"ssm:SendCommand": {
		"role SendCommandRole on arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaselineWithHooks arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript",
		// Instances only with the instance tag, drainpipe=enabled, exactly.
		`role SendCommandRole on ` + here("ec2", "instance/*") + ` if {"StringEquals":{"aws:ResourceTag/drainpipe":"enabled"}}`,
		// The idle drain's check, under the same two rules.
		"role CheckDrainRole on arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaselineWithHooks arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript",
		`role CheckDrainRole on ` + here("ec2", "instance/*") + ` if {"StringEquals":{"aws:ResourceTag/drainpipe":"enabled"}}`,
	},
	"ssm:CancelCommand": {"role CheckCommandRole on *", "role CheckDrainRole on *", "role RestoreExecutionRole on *"},
	// Standby in and out: any Auto Scaling group of the account and region (the
	// instance's is known only when it is maintained).
	"autoscaling:EnterStandby": {"role EnterStandbyRole on " + autoScalingGroups},
	"autoscaling:ExitStandby":  {"role ExitStandbyRole on " + autoScalingGroups, "role RestoreExecutionRole on " + autoScalingGroups},
	"ec2:CreateTags": {
		// Only the drainpipe:last-maintained tag, only on tagged instances.
		`role RecordWaveRole on ` + here("ec2", "instance/*") + ` if {"ForAllValues:StringEquals":{"aws:TagKeys":"drainpipe:last-maintained"},"StringEquals":{"aws:ResourceTag/drainpipe":"enabled"}}`,
	},
	"dynamodb:PutItem": {
		`role ReserveCapacityRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*"]}}`,
		`role AcquireLeasesRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"lease#*"}}`,
		`role NextWaveRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"lease#*"}}`,
		"role PlanRolloutRole on ${Rollouts.Arn}",
	},
	"dynamodb:UpdateItem": {
		`role ReserveCapacityRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*"]}}`,
		`role ReleaseCapacityRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*"]}}`,
		`role RestoreExecutionRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*","lease#*"]}}`,
		"role AcquireLeasesRole on ${Rollouts.Arn}", "role NextWaveRole on ${Rollouts.Arn}", "role RecordWaveRole on ${Rollouts.Arn}",
		"role SummarizeRolloutRole on ${Rollouts.Arn}", "role RestoreExecutionRole on ${Rollouts.Arn}",
	},
	"dynamodb:DeleteItem": {
		`role ReserveCapacityRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*"]}}`,
		`role ReleaseCapacityRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*"]}}`,
		`role RestoreExecutionRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["instance#*","group#*","lease#*"]}}`,
		`role AcquireLeasesRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"lease#*"}}`,
		`role NextWaveRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"lease#*"}}`,
		`role ReleaseLeasesRole on ${Capacity.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"lease#*"}}`,
	},
	"dynamodb:BatchWriteItem": {"role PlanRolloutRole on ${Rollouts.Arn}"},
	"sns:Publish": {
		"role SummarizeRolloutRole on ${Notifications}", "role RestoreExecutionRole on ${Notifications}",
		"role ExecutionFailedRole on ${Notifications}",
	},
	"states:StartExecution": {
		"role MaintainFleetRole on ${MaintainInstance}",
		"role MaintainFleetRole on " + here("states", "stateMachine:drainpipe-maintain-fleet"),
		"role RestoreOnEndRole on ${Restore}",
		"role ScheduleRole on ${MaintainFleet}",
	},
	"states:StopExecution": {
		"role RestoreExecutionRole on " + here("states", "execution:drainpipe-maintain-instance:*"),
		"role MaintainFleetRole on " + here("states", "execution:drainpipe-maintain-fleet:*") + " " + here("states", "execution:drainpipe-maintain-instance:*"),
	},
	"sqs:SendMessage":   {"role ScheduleRole on ${ScheduleDeadLetters.Arn}"},
	"events:PutRule":    {"role MaintainFleetRole on " + here("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")},
	"events:PutTargets": {"role MaintainFleetRole on " + here("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")},
	// Step Functions' logging to CloudWatch Logs needs these on "*" (CloudWatch Logs
	// cannot scope log deliveries).
	"logs:CreateLogDelivery": {"role MaintainInstanceRole on *", "role MaintainFleetRole on *", "role RestoreRole on *"},
	"logs:UpdateLogDelivery": {"role MaintainInstanceRole on *", "role MaintainFleetRole on *", "role RestoreRole on *"},
	"logs:DeleteLogDelivery": {"role MaintainInstanceRole on *", "role MaintainFleetRole on *", "role RestoreRole on *"},
	"logs:PutResourcePolicy": {"role MaintainInstanceRole on *", "role MaintainFleetRole on *", "role RestoreRole on *"},
}

// TestNoWriteActionOnEverything: every action that changes something (registrations,
// commands, tags, the tables, the topic, executions, the managed rule, log deliveries)
// is granted to exactly the roles listed, on exactly the resources listed, under exactly
// the conditions listed. On "*" only what IAM cannot scope: CancelCommand (it names a
// command id) and the log delivery actions Step Functions' logging needs. Every other
// action of a role is a read, or one of the few listed in selfService (a function
// writing its own log group, a state machine tracing, invoking, the topic's key).
func TestNoWriteActionOnEverything(t *testing.T) {
	s := synth(t)
	got, _ := holders(s.drainpipe)
	found := map[string][]string{}
	for holder, sts := range got {
		if !strings.HasPrefix(holder, "role ") || strings.HasSuffix(holder, " trust") {
			continue
		}
		for _, st := range sts {
			for _, a := range st.Actions {
				if _, listed := writes[a]; listed {
					entry := holder + " on " + strings.Join(st.Resources, " ")
					if st.Condition != "" {
						entry += " if " + st.Condition
					}
					found[a] = append(found[a], entry)
					continue
				}
				_, verb, _ := strings.Cut(a, ":")
				switch {
				case a == "logs:CreateLogStream" || a == "logs:PutLogEvents":
					// Only the function's own log group: role XRole, log group XLogs.
					own := "${" + strings.TrimSuffix(strings.TrimPrefix(holder, "role "), "Role") + "Logs.Arn}"
					if !slices.Equal(st.Resources, []string{own}) || st.Condition != "" {
						t.Errorf("%s: %s on %v, want its own log group %s only", holder, a, st.Resources, own)
					}
				case slices.Contains(selfService, a):
				case strings.Contains(a, "*"):
					t.Errorf("%s: %s is a wildcard action", holder, a)
				case !slices.ContainsFunc([]string{"Describe", "Get", "List", "Query"}, func(p string) bool { return strings.HasPrefix(verb, p) }):
					t.Errorf("%s: %s is neither a listed write, nor a read, nor self-service", holder, a)
				}
			}
		}
	}
	for _, a := range slices.Sorted(maps.Keys(writes)) {
		want := slices.Sorted(slices.Values(writes[a]))
		if g := slices.Sorted(slices.Values(found[a])); !slices.Equal(g, want) {
			t.Errorf("%s granted as\n  %s\nwant\n  %s", a, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// selfService are the actions a role may have that change nothing of drainpipe's
// resources or the account's: tracing (X-Ray needs "*"), invoking drainpipe's functions
// (the checker holds each state machine to its own), using the topic's key for what it
// publishes.
var selfService = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
	"lambda:InvokeFunction", "kms:Decrypt", "kms:GenerateDataKey"}
