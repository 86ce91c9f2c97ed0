// Package stacks owns drainpipe's CloudFormation stacks: Drainpipe (the functions, the
// state machine, schedules, notifications, dashboard, least-privilege IAM) and the
// optional DrainpipeDemo (the post's environment: three instances behind an ALB).
package stacks

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/drainpipe/drainpipe/infra/settings"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/statemachine"
)

// DrainpipeStackProps configure the Drainpipe stack.
type DrainpipeStackProps struct {
	awscdk.StackProps
	Settings settings.Settings
}

// Drainpipe is the built stack, with the constructs tests and other stacks refer to.
type Drainpipe struct {
	Stack     awscdk.Stack
	Functions map[string]awslambda.Function
	// StateMachine maintains one instance; Fleet runs rollouts of it.
	StateMachine awsstepfunctions.StateMachine
	Fleet        awsstepfunctions.StateMachine
	// Restore puts back what an execution of the other two held when it ends without its
	// own rollback (stopped, timed out, failed outside a Catch).
	Restore awsstepfunctions.StateMachine
	Topic   awssns.Topic
	// Capacity holds the reservations and the rollouts' leases (package capacity);
	// Rollouts the rollouts' plans and results (package rollout).
	Capacity, Rollouts awsdynamodb.Table
}

// NewDrainpipeStack builds the Drainpipe stack.
//
// Every service principal that acts for the stack is held to it (confused-deputy
// prevention, aws:SourceAccount and aws:SourceArn, as each service documents):
//   - each state machine's role trusts states.amazonaws.com only for that state
//     machine (its exact ARN, written from its name: a Ref would be circular);
//   - each EventBridge rule reaches its target through a role of its own that trusts
//     events.amazonaws.com only for that rule (the rule's ARN is written from its name,
//     for the same reason), and the restore rule's dead-letter queue lets EventBridge
//     send only for that rule; the failure rule publishes to the topic through its role,
//     so neither the topic policy nor the key policy grants EventBridge anything;
//   - the schedules' role trusts scheduler.amazonaws.com only for the deployment's
//     schedule group (EventBridge Scheduler sets the group's ARN as aws:SourceArn);
//   - the Lambda execution roles trust lambda.amazonaws.com without a condition, as the
//     Lambda documentation's execution role does: Lambda documents aws:SourceArn for
//     policies whose resource is a function (who may invoke it), not for the execution
//     role's trust, and only a principal of this account with iam:PassRole on the role
//     can give it to a function (a role cannot be passed to another account).
func NewDrainpipeStack(scope constructs.Construct, id string, props *DrainpipeStackProps) *Drainpipe {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := props.Settings
	n := s.Names()
	d := &Drainpipe{Stack: stack, Functions: map[string]awslambda.Function{}}
	logs := func(id, name string) awslogs.LogGroup {
		return awslogs.NewLogGroup(stack, jsii.String(id), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String(name),
			Retention:     settings.Retention[s.LogRetentionDays],
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
	}
	var key awskms.Key
	d.Topic, key = topic(stack, s)
	d.Capacity = table(stack, "Capacity", n.CapacityTable(), ddbitem.CapacityKey, "", ddbitem.CapacityExpiry)
	d.Rollouts = table(stack, "Rollouts", n.RolloutTable(), rollout.PartitionKey, rollout.SortKey, rollout.ExpiryAttribute)
	env := Env{Stack: stack, Settings: s, CapacityTableARN: d.Capacity.TableArn(), RolloutTableARN: d.Rollouts.TableArn(),
		TopicARN: d.Topic.TopicArn(), TopicKeyARN: key.KeyArn()}

	// Every placeholder's value; each state machine takes those its definition uses, and
	// may invoke exactly the functions it names. The names reach the functions only this
	// way (and the function ARNs the state machines), so the prefix needs nothing else.
	values := map[string]*string{
		catalog.CapacityTableName:    d.Capacity.TableName(),
		catalog.RolloutTableName:     d.Rollouts.TableName(),
		catalog.NotificationTopicArn: d.Topic.TopicArn(),
		// The instanceTag, which planning requires of every instance (the functions may
		// command only instances carrying it).
		catalog.InstanceTagKey:   jsii.String(s.InstanceTagKey),
		catalog.InstanceTagValue: jsii.String(s.InstanceTagValue),
	}
	for _, f := range catalog.All {
		fn := function(stack, s, env, f, logs)
		d.Functions[f.Name] = fn
		values[f.Placeholder()] = fn.FunctionArn()
	}
	d.StateMachine = stateMachine(stack, s, logs, "MaintainInstance", statemachine.MaintainInstance, values, d.Functions)
	values[catalog.MaintainInstanceStateMachineArn] = d.StateMachine.StateMachineArn()
	d.Fleet = stateMachine(stack, s, logs, "MaintainFleet", statemachine.MaintainFleet, values, d.Functions)
	d.Restore = stateMachine(stack, s, logs, "Restore", statemachine.RestoreExecution, values, d.Functions)
	restoreOnEnd(stack, s, d.Restore, d.StateMachine, d.Fleet)
	// The fleet runs each instance as a child execution (startExecution.sync:2), and hands
	// a long rollout to a new execution of itself the same way: it may start both state
	// machines, follow and stop their executions, and use the rule Step Functions manages
	// to hear of their end. (Its own ARN is written out: a Ref to itself would be circular.)
	d.StateMachine.GrantStartExecution(d.Fleet)
	d.Fleet.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: jsii.Strings(arn(stack, "states", "stateMachine:"+n.StateMachine(statemachine.MaintainFleet))),
	}))
	d.Fleet.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:DescribeExecution", "states:StopExecution"),
		Resources: jsii.Strings(env.executions(statemachine.MaintainInstance), env.executions(statemachine.MaintainFleet)),
	}))
	d.Fleet.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("events:PutTargets", "events:PutRule", "events:DescribeRule"),
		Resources: jsii.Strings(arn(stack, "events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")),
	}))

	notifyFailures(stack, s, d.Topic, key, d.StateMachine, d.Fleet, d.Restore)
	schedules(stack, s, d.Fleet)
	dashboard(stack, s, d.StateMachine, d.Fleet)
	loadBalancerAlarms(stack, s)
	targetGroupsHere(stack, s)

	awscdk.NewCfnOutput(stack, jsii.String("InstanceStateMachineArn"), &awscdk.CfnOutputProps{Value: d.StateMachine.StateMachineArn()})
	awscdk.NewCfnOutput(stack, jsii.String("FleetStateMachineArn"), &awscdk.CfnOutputProps{Value: d.Fleet.StateMachineArn()})
	awscdk.NewCfnOutput(stack, jsii.String("TopicArn"), &awscdk.CfnOutputProps{Value: d.Topic.TopicArn()})
	return d
}

// arn is the ARN of a resource of the stack's account and region, in its partition:
// tokens (AWS::Partition, AWS::Region, AWS::AccountId) unless the stack's environment is
// explicit.
func arn(stack awscdk.Stack, service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", *stack.Partition(), service, *stack.Region(), *stack.Account(), resource)
}

// heldTo is the confused-deputy condition of a service principal acting for the stack:
// for the stack's account, and for the resource sourceArn only.
func heldTo(stack awscdk.Stack, sourceArn string) map[string]any {
	return map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *stack.Account()},
		"ArnEquals":    map[string]any{"aws:SourceArn": sourceArn},
	}
}

// serviceRole is a role that service (events.amazonaws.com, ...) may assume only when
// acting for sourceArn in the stack's account.
func serviceRole(stack awscdk.Stack, id, service, description, sourceArn string) awsiam.Role {
	conditions := heldTo(stack, sourceArn)
	return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String(service), &awsiam.ServicePrincipalOpts{Conditions: &conditions}),
		Description: jsii.String(description),
	})
}

// targetGroupsHere: at deploy, CloudFormation refuses the stack (before any change) when
// its account or region is not the target groups' (a Rules assertion on AWS::AccountId
// and AWS::Region); at synth, settings.Parse refuses an explicit account or region that
// differs.
func targetGroupsHere(stack awscdk.Stack, s settings.Settings) {
	account, region := s.TargetGroupAccount(), s.TargetGroupRegion()
	awscdk.NewCfnRule(stack, jsii.String("TargetGroupsInThisAccountAndRegion"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{
			{
				Assert:            awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(region)),
				AssertDescription: jsii.String("the target groups (context targetGroupArns) are in region " + region + ": deploy the stack there"),
			},
			{
				Assert:            awscdk.Fn_ConditionEquals(awscdk.Aws_ACCOUNT_ID(), jsii.String(account)),
				AssertDescription: jsii.String("the target groups (context targetGroupArns) are in account " + account + ": deploy the stack there"),
			},
		},
	})
}

// function builds one function with its own log group and its own role.
func function(stack awscdk.Stack, s settings.Settings, env Env, f catalog.Function, logs func(id, name string) awslogs.LogGroup) awslambda.Function {
	construct := catalog.Pascal(f.Name)
	name := s.Names().Function(f.Name)
	logGroup := logs(construct+"Logs", s.Names().FunctionLogGroup(f.Name))
	// A role per function with only its own statements and its own log group: no
	// managed policy, nothing shared. Its trust has no condition (see NewDrainpipeStack).
	role := awsiam.NewRole(stack, jsii.String(construct+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("drainpipe " + f.Name),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	statements := env.Statements(f)
	for _, st := range statements {
		role.AddToPolicy(st)
	}
	fn := awslambda.NewFunction(stack, jsii.String(construct), &awslambda.FunctionProps{
		FunctionName:  jsii.String(name),
		Description:   jsii.String("drainpipe: " + f.Name),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(s.FunctionsDir, f.Name)), nil),
		MemorySize:    jsii.Number(f.MemoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(f.TimeoutSeconds)),
		Role:          role,
		LogGroup:      logGroup,
		LoggingFormat: awslambda.LoggingFormat_JSON,
	})
	var wildcards []any
	for _, st := range statements {
		for _, r := range *st.Resources() {
			switch {
			case *r == "*":
				wildcards = append(wildcards, "Resource::*")
			case strings.Contains(*r, "*"):
				// cdk-nag renders tokens (<AWS::Partition>); match the literal tail.
				tail := (*r)[strings.LastIndex(*r, ":")+1:]
				wildcards = append(wildcards, map[string]string{"regex": "/^Resource::arn:.*:" + regexp.QuoteMeta(tail) + "$/"})
			}
		}
	}
	if len(wildcards) > 0 {
		reason := f.WildcardReason
		if reason == "" {
			reason = "the instances are scoped by the tag condition aws:ResourceTag/" + s.InstanceTagKey
		}
		cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String(reason), AppliesTo: &wildcards,
		}}, jsii.Bool(true))
	}
	return fn
}

// stateMachine builds a Standard state machine from an embedded definition, logging
// everything with execution data, traced; its placeholders take their values from values,
// and it may invoke the functions it names. Its role trusts Step Functions only for this
// state machine.
func stateMachine(stack awscdk.Stack, s settings.Settings, logs func(id, name string) awslogs.LogGroup, id, file string, values map[string]*string, fns map[string]awslambda.Function) awsstepfunctions.StateMachine {
	def, err := statemachine.Definition(file)
	if err != nil {
		panic(err) // embedded at build time
	}
	subs := map[string]*string{}
	for _, p := range statemachine.Placeholders(def) {
		v, ok := values[p]
		if !ok {
			panic(fmt.Sprintf("%s: no value for placeholder ${%s}", file, p)) // the structure tests keep this from happening
		}
		subs[p] = v
	}
	name := s.Names().StateMachine(file)
	role := serviceRole(stack, id+"Role", "states.amazonaws.com", "drainpipe state machine "+name, arn(stack, "states", "stateMachine:"+name))
	sm := awsstepfunctions.NewStateMachine(stack, jsii.String(id), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(name),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(def))),
		DefinitionSubstitutions: &subs,
		Role:                    role,
		Logs:                    &awsstepfunctions.LogOptions{Destination: logs(id+"Logs", s.Names().StateMachineLogGroup(file)), Level: awsstepfunctions.LogLevel_ALL, IncludeExecutionData: jsii.Bool(true)},
		TracingEnabled:          jsii.Bool(true),
	})
	for _, f := range catalog.All {
		if _, uses := subs[f.Placeholder()]; uses {
			fns[f.Name].GrantInvoke(sm)
		}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("CloudWatch Logs delivery and X-Ray need Resource *; lambda:InvokeFunction covers the versions (:*) of drainpipe's own functions; the fleet follows the executions (:*) of the instance state machine"),
	}}, jsii.Bool(true))
	return sm
}

// topic: an encrypted topic with the configured e-mail subscriptions. Its key's policy is
// the account's alone (the CDK default: IAM policies decide); whoever publishes, the
// functions and the failure rule's role, has the key in its own policy.
func topic(stack awscdk.Stack, s settings.Settings) (awssns.Topic, awskms.Key) {
	key := awskms.NewKey(stack, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String("drainpipe notifications"),
		Alias:             jsii.String(s.Names().KeyAlias()),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	t := awssns.NewTopic(stack, jsii.String("Notifications"), &awssns.TopicProps{
		TopicName:   jsii.String(s.Names().Topic()),
		DisplayName: jsii.String("drainpipe"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, e := range s.NotificationEmails {
		t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
	return t, key
}

// table is an on-demand, encrypted table with point-in-time recovery, keyed by the string
// attribute pk (and sk, if not empty), whose items expire by the ttl attribute.
func table(stack awscdk.Stack, id, name, pk, sk, ttl string) awsdynamodb.Table {
	props := &awsdynamodb.TableProps{
		TableName:                        jsii.String(name),
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute:              jsii.String(ttl),
		Encryption:                       awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		RemovalPolicy:                    awscdk.RemovalPolicy_DESTROY,
	}
	if sk != "" {
		props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(sk), Type: awsdynamodb.AttributeType_STRING}
	}
	return awsdynamodb.NewTable(stack, jsii.String(id), props)
}

// notifyFailures tells the topic of every execution that fails, times out or is aborted.
// The rule publishes through a role of its own (sns:Publish on the topic, and the key for
// its data keys) that EventBridge may assume for this rule only.
func notifyFailures(stack awscdk.Stack, s settings.Settings, t awssns.Topic, key awskms.Key, machines ...awsstepfunctions.StateMachine) {
	name := s.Names().FailureRule()
	role := serviceRole(stack, "ExecutionFailedRole", "events.amazonaws.com", "drainpipe: "+name+" publishes to the topic", arn(stack, "events", "rule/"+name))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sns:Publish"), Resources: jsii.Strings(*t.TopicArn()),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"), Resources: jsii.Strings(*key.KeyArn()),
	}))
	// EventBridge's input transformer: each <name> is the value at its path; the
	// template is a JSON string, so the topic gets the text.
	paths := map[string]*string{
		"name": jsii.String("$.detail.name"), "status": jsii.String("$.detail.status"), "error": jsii.String("$.detail.error"),
		"cause": jsii.String("$.detail.cause"), "executionArn": jsii.String("$.detail.executionArn"),
	}
	text := fmt.Sprintf("drainpipe execution <name> ended <status>.\nError: <error>\nCause: <cause>\nConsole: https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/<executionArn>",
		*stack.Region(), *stack.Region())
	rule := awsevents.NewCfnRule(stack, jsii.String("ExecutionFailed"), &awsevents.CfnRuleProps{
		Name:         jsii.String(name),
		Description:  jsii.String("drainpipe executions that failed, timed out or were aborted"),
		EventPattern: statusChange([]string{"FAILED", "TIMED_OUT", "ABORTED"}, machines),
		State:        jsii.String("ENABLED"),
		Targets: &[]*awsevents.CfnRule_TargetProperty{{
			Id: jsii.String("topic"), Arn: t.TopicArn(), RoleArn: role.RoleArn(),
			InputTransformer: &awsevents.CfnRule_InputTransformerProperty{InputPathsMap: &paths, InputTemplate: jsii.String(jsonString(text))},
		}},
	})
	rule.Node().AddDependency(role)
}

// restoreOnEnd starts the restore state machine with the status change event of every
// execution of the given state machines that ends in a status of statemachine.RestoreOn,
// retrying delivery and keeping what cannot be delivered in a dead-letter queue. The
// rule starts it through a role of its own that EventBridge may assume for this rule
// only, and may send to the queue for this rule only.
func restoreOnEnd(stack awscdk.Stack, s settings.Settings, restore awsstepfunctions.StateMachine, machines ...awsstepfunctions.StateMachine) {
	name := s.Names().RestoreRule()
	role := serviceRole(stack, "RestoreOnEndRole", "events.amazonaws.com", "drainpipe: "+name+" starts the restore", arn(stack, "events", "rule/"+name))
	restore.GrantStartExecution(role)
	dlq := deadLetterQueue(stack, "RestoreDeadLetters", s.Names().RestoreDeadLetters(), "this queue is the restore rule's dead-letter queue")
	rule := awsevents.NewCfnRule(stack, jsii.String("RestoreOnEnd"), &awsevents.CfnRuleProps{
		Name:         jsii.String(name),
		Description:  jsii.String("drainpipe executions that ended without their own rollback: put back what they held"),
		EventPattern: statusChange(statemachine.RestoreOn, machines),
		State:        jsii.String("ENABLED"),
		Targets: &[]*awsevents.CfnRule_TargetProperty{{
			Id: jsii.String("restore"), Arn: restore.StateMachineArn(), RoleArn: role.RoleArn(),
			DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
			RetryPolicy:      &awsevents.CfnRule_RetryPolicyProperty{MaximumRetryAttempts: jsii.Number(185), MaximumEventAgeInSeconds: jsii.Number(24 * 60 * 60)},
		}},
	})
	rule.Node().AddDependency(role)
	conditions := heldTo(stack, *rule.AttrArn())
	dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*dlq.QueueArn()),
		Conditions: &conditions,
	}))
}

// statusChange is the event pattern of the Step Functions status change events of the
// given state machines' executions that end in one of statuses.
func statusChange(statuses []string, machines []awsstepfunctions.StateMachine) map[string]any {
	var arns []*string
	for _, sm := range machines {
		arns = append(arns, sm.StateMachineArn())
	}
	return map[string]any{
		"source":      []string{"aws.states"},
		"detail-type": []string{"Step Functions Execution Status Change"},
		"detail":      map[string]any{"status": statuses, "stateMachineArn": arns},
	}
}

// jsonString is text as a JSON string literal, < and > kept (EventBridge's placeholders).
func jsonString(text string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(text) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// deadLetterQueue is an encrypted queue that keeps for 14 days what a rule or schedule
// could not deliver.
func deadLetterQueue(stack awscdk.Stack, id, name, reason string) awssqs.Queue {
	dlq := awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		QueueName:       jsii.String(name),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"), Reason: jsii.String(reason),
	}}, nil)
	return dlq
}

// schedules: one EventBridge Scheduler schedule per configured entry, in the deployment's
// schedule group, with a retry policy and a dead-letter queue; they start the fleet
// through one role that EventBridge Scheduler may assume for that group only.
func schedules(stack awscdk.Stack, s settings.Settings, sm awsstepfunctions.StateMachine) {
	if len(s.Schedules) == 0 {
		return
	}
	n := s.Names()
	group := awsscheduler.NewScheduleGroup(stack, jsii.String("ScheduleGroup"), &awsscheduler.ScheduleGroupProps{
		ScheduleGroupName: jsii.String(n.ScheduleGroup()),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	role := serviceRole(stack, "ScheduleRole", "scheduler.amazonaws.com", "drainpipe: the schedules of group "+n.ScheduleGroup()+" start the fleet",
		arn(stack, "scheduler", "schedule-group/"+n.ScheduleGroup()))
	dlq := deadLetterQueue(stack, "ScheduleDeadLetters", n.ScheduleDeadLetters(), "this queue is the schedules' dead-letter queue")
	for _, sc := range s.Schedules {
		cron := &awsscheduler.CronOptionsWithTimezone{
			Minute: jsii.String(sc.Cron.Minute), Hour: jsii.String(sc.Cron.Hour), Month: jsii.String(sc.Cron.Month),
			Year: jsii.String(sc.Cron.Year), TimeZone: awscdk.TimeZone_Of(jsii.String(sc.TimeZone)),
		}
		// EventBridge takes exactly one of day-of-month and day-of-week; CDK writes "?"
		// for the one left out.
		if sc.Cron.Day != "?" {
			cron.Day = jsii.String(sc.Cron.Day)
		}
		if sc.Cron.WeekDay != "?" {
			cron.WeekDay = jsii.String(sc.Cron.WeekDay)
		}
		awsscheduler.NewSchedule(stack, jsii.String("Schedule"+catalog.Pascal(strings.ReplaceAll(sc.Name, "_", "-"))), &awsscheduler.ScheduleProps{
			ScheduleName:  jsii.String(n.Schedule(sc.Name)),
			ScheduleGroup: group,
			Description:   jsii.String("drainpipe: " + sc.Name),
			Schedule:      awsscheduler.ScheduleExpression_Cron(cron),
			Enabled:       jsii.Bool(sc.Enabled),
			Target: awsschedulertargets.NewStepFunctionsStartExecution(sm, &awsschedulertargets.ScheduleTargetBaseProps{
				Role:            role,
				Input:           awsscheduler.ScheduleTargetInput_FromText(jsii.String(string(sc.Input))),
				DeadLetterQueue: dlq,
				RetryAttempts:   jsii.Number(3),
				MaxEventAge:     awscdk.Duration_Hours(jsii.Number(1)),
			}),
		})
	}
}

// loadBalancerAlarms creates, for the configured load balancer, the alarms schedules
// watch by default (settings.LoadBalancerAlarms): its own 5XX answers and its targets'
// 5XX answers summed over a minute (at or above the threshold; no data is no error), and
// its targets' p99 response time (above the threshold two minutes running). They notify
// nobody: drainpipe's alarm gate reads them.
func loadBalancerAlarms(stack awscdk.Stack, s settings.Settings) {
	if s.AlarmLoadBalancer == "" {
		return
	}
	t := s.AlarmThresholds
	for _, a := range []struct {
		which, metric, statistic, what string
		threshold                      float64
		op                             awscloudwatch.ComparisonOperator
		periods                        float64
	}{
		{"elb-5xx", "HTTPCode_ELB_5XX_Count", "Sum", "5XX answers from the load balancer itself", float64(t.ELB5xxPerMinute),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1},
		{"target-5xx", "HTTPCode_Target_5XX_Count", "Sum", "5XX answers from its targets", float64(t.Target5xxPerMinute),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1},
		{"response-time", "TargetResponseTime", "p99", "its targets' p99 response time, in seconds", t.ResponseTimeSeconds,
			awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 2},
	} {
		metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/ApplicationELB"), MetricName: jsii.String(a.metric),
			DimensionsMap: &map[string]*string{"LoadBalancer": jsii.String(s.AlarmLoadBalancer)},
			Statistic:     jsii.String(a.statistic), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		})
		awscloudwatch.NewAlarm(stack, jsii.String("Alarm-"+a.which), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(s.Names().Alarm(a.which)),
			AlarmDescription:   jsii.String("drainpipe's alarm gate: no wave starts while " + a.what + " cross the threshold (" + s.AlarmLoadBalancer + ")"),
			Metric:             metric,
			Threshold:          jsii.Number(a.threshold),
			ComparisonOperator: a.op,
			EvaluationPeriods:  jsii.Number(a.periods),
			DatapointsToAlarm:  jsii.Number(a.periods),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
}

// dashboard: executions started, succeeded and failed, and, for a configured load
// balancer, RequestCount beside HTTPCode_ELB_5XX_Count (the post's graph).
func dashboard(stack awscdk.Stack, s settings.Settings, machines ...awsstepfunctions.StateMachine) {
	var widgets []awscloudwatch.IWidget
	for _, sm := range machines {
		widgets = append(widgets, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(*sm.Node().Id() + " executions"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{sm.MetricStarted(nil), sm.MetricSucceeded(nil), sm.MetricFailed(nil), sm.MetricTimedOut(nil)},
		}))
	}
	if s.DashboardLoadBalancer != "" {
		metric := func(name string) awscloudwatch.IMetric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/ApplicationELB"), MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{"LoadBalancer": jsii.String(s.DashboardLoadBalancer)},
				Statistic:     jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
			})
		}
		widgets = append(widgets, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("load balancer: requests and ELB 5XX"), Width: jsii.Number(12),
			Left:  &[]awscloudwatch.IMetric{metric("RequestCount")},
			Right: &[]awscloudwatch.IMetric{metric("HTTPCode_ELB_5XX_Count")},
		}))
	}
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(s.Names().Dashboard()),
		Widgets:       &[]*[]awscloudwatch.IWidget{&widgets},
	})
}
