// Package catalog lists every drainpipe Lambda function once: its name, the state machine
// that runs it, its memory and timeout, the IAM permissions it needs (as data the CDK app
// turns into statements) and the placeholder that stands for its ARN in the state machine
// definitions. It also names the placeholders that are not functions.
//
// Everything else starts here: each lambdas/<name>/main.go starts its catalog entry, the
// CDK app deploys the entries, and the lab substitutes their placeholders. It imports no
// AWS SDK, so the CDK app and every function can use it for nothing. A test checks the
// catalog against the lambdas/ folders and the definitions.
package catalog

import (
	"fmt"
	"strings"

	"github.com/drainpipe/drainpipe/statemachine"
)

// Function is one Lambda function.
type Function struct {
	// Name is kebab-case: the folder under lambdas/, the deployed function's name after
	// the deployment's name prefix and a hyphen (drainpipe- by default; infra/settings'
	// Names), and the stem of its placeholder.
	Name string
	// StateMachine is the definition file (package statemachine) whose Tasks invoke it.
	StateMachine string
	MemoryMB     int
	// TimeoutSeconds bounds one invocation.
	TimeoutSeconds int
	// Permissions are what it may do, beyond writing its own logs.
	Permissions []Permission
	// WildcardReason says why a permission uses a wildcard resource (AnyResource, or
	// an ARN ending in *); the CDK app records it for cdk-nag.
	WildcardReason string
}

// Placeholder is the ${...} name that stands for the function's ARN in its definition:
// "deregister-target" -> "DeregisterTargetFunctionArn".
func (f Function) Placeholder() string { return Pascal(f.Name) + "FunctionArn" }

// Permission allows Actions On a kind of resource of the deployment.
type Permission struct {
	Actions []string
	On      Resource
	// Keys, for CapacityItems, are the partition-key patterns the actions are limited to
	// (dynamodb:LeadingKeys): "instance#*", "group#*", "lease#*".
	Keys []string
	// TagKeys, for TaggedInstances, are the only tag keys the actions may write.
	TagKeys []string
}

// Resource is a kind of resource of a deployment. The CDK app turns each into ARNs.
type Resource string

const (
	// AnyResource ("*") is for actions that support no resource-level permission.
	AnyResource Resource = "*"
	// ConfiguredTargetGroups are the target groups the settings list.
	ConfiguredTargetGroups Resource = "configured-target-groups"
	// TaggedInstances are the instances carrying the configured tag (a condition).
	TaggedInstances Resource = "tagged-instances"
	// Documents are the SSM documents drainpipe runs: its own and the configured ones.
	Documents Resource = "documents"
	// CapacityItems are the capacity table's items whose keys match Keys.
	CapacityItems Resource = "capacity-items"
	// RolloutTable is the rollouts table.
	RolloutTable Resource = "rollout-table"
	// Topic is the notification topic, and TopicKey the KMS key that encrypts it.
	Topic    Resource = "topic"
	TopicKey Resource = "topic-key"
	// InstanceExecutions are the executions of the instance state machine.
	InstanceExecutions Resource = "instance-executions"
	// AutoScalingGroups are the account's Auto Scaling groups in the region.
	AutoScalingGroups Resource = "auto-scaling-groups"
)

// The placeholders that stand for something other than a function; the deployment (and
// the lab) gives each a value.
const (
	// MaintainInstanceStateMachineArn: the instance state machine, run per instance.
	MaintainInstanceStateMachineArn = "MaintainInstanceStateMachineArn"
	// CapacityTableName: reservations and rollout leases (package capacity).
	CapacityTableName = "CapacityTableName"
	// RolloutTableName: rollouts' plans and results (package rollout).
	RolloutTableName = "RolloutTableName"
	// NotificationTopicArn: where summaries and restorations are published.
	NotificationTopicArn = "NotificationTopicArn"
	// InstanceTagKey and InstanceTagValue: the deployment's instanceTag, which the
	// planner requires of every instance it plans (the functions may send commands only to
	// instances that carry it).
	InstanceTagKey   = "InstanceTagKey"
	InstanceTagValue = "InstanceTagValue"
)

// Resources lists the placeholders that are not functions.
var Resources = []string{MaintainInstanceStateMachineArn, CapacityTableName, RolloutTableName, NotificationTopicArn, InstanceTagKey, InstanceTagValue}

// Reasons for wildcards, shared by the functions that read the same APIs.
const (
	standbyReason = "autoscaling:DescribeAutoScalingInstances does not support resource-level permissions; it reads, never changes. " +
		"Enter and exit Standby name any Auto Scaling group of the account and region, since the instance's group is known only when it is maintained"
	describeHealthReason = "elasticloadbalancing:DescribeTargetHealth does not support resource-level permissions; it reads, never changes"
)

var (
	// describeAlarmsReason: the alarm gate reads metric and composite alarms, and
	// CloudWatch answers for composite alarms only to a permission scoped to "*".
	describeAlarmsReason = "cloudwatch:DescribeAlarms and DescribeAlarmHistory return composite alarms only when the permission is scoped to *"
	describeHealth       = Permission{Actions: []string{"elasticloadbalancing:DescribeTargetHealth"}, On: AnyResource}
	reservations         = []string{"instance#*", "group#*"}
	leases               = []string{"lease#*"}
	publish              = []Permission{
		{Actions: []string{"sns:Publish"}, On: Topic},
		{Actions: []string{"kms:GenerateDataKey", "kms:Decrypt"}, On: TopicKey},
	}
)

// The instance state machine's functions, in the order it uses them.
var (
	ResolveTargets = Function{Name: "resolve-targets", StateMachine: statemachine.MaintainInstance, MemoryMB: 256, TimeoutSeconds: 60,
		Permissions: []Permission{{Actions: []string{"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
			"elasticloadbalancing:DescribeTargetHealth"}, On: AnyResource}},
		WildcardReason: "ELB Describe* actions do not support resource-level permissions; they read, never change"}
	CheckInstance = Function{Name: "check-instance", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{describeHealth, {Actions: []string{"ec2:DescribeInstances"}, On: AnyResource},
			{Actions: []string{"cloudwatch:DescribeAlarms", "autoscaling:DescribeAutoScalingInstances"}, On: AnyResource}},
		WildcardReason: describeHealthReason + "; ec2:DescribeInstances and autoscaling:DescribeAutoScalingInstances do not support resource-level permissions either; " + describeAlarmsReason}
	ReserveCapacity = Function{Name: "reserve-capacity", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{describeHealth,
			{Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, On: CapacityItems, Keys: reservations}},
		WildcardReason: describeHealthReason}
	EnterStandby = Function{Name: "enter-standby", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"autoscaling:DescribeAutoScalingInstances"}, On: AnyResource},
			{Actions: []string{"autoscaling:EnterStandby"}, On: AutoScalingGroups}},
		WildcardReason: standbyReason}
	DeregisterTarget = Function{Name: "deregister-target", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"elasticloadbalancing:DeregisterTargets"}, On: ConfiguredTargetGroups}}}
	CheckDrain = Function{Name: "check-drain", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{describeHealth, {Actions: []string{"ssm:SendCommand"}, On: Documents}, {Actions: []string{"ssm:SendCommand"}, On: TaggedInstances},
			{Actions: []string{"ssm:GetCommandInvocation", "ssm:CancelCommand", "ssm:ListCommands"}, On: AnyResource}},
		WildcardReason: describeHealthReason + "; the idle drain's check is an SSM command: ssm:GetCommandInvocation and ssm:CancelCommand name a command id, which IAM cannot scope, " +
			"and ssm:ListCommands does not support resource-level permissions; SendCommand is the scoped action"}
	SendCommand = Function{Name: "send-command", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"ssm:SendCommand"}, On: Documents}, {Actions: []string{"ssm:SendCommand"}, On: TaggedInstances},
			{Actions: []string{"ssm:ListCommands", "cloudwatch:DescribeAlarms"}, On: AnyResource}},
		WildcardReason: "ssm:ListCommands does not support resource-level permissions; it reads, never changes (a retried send finds the command it sent); " +
			"SSM reads the state of a command's alarm (commandAlarm) as its caller, and " + describeAlarmsReason}
	CheckCommand = Function{Name: "check-command", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"ssm:GetCommandInvocation", "ssm:CancelCommand", "ssm:ListCommands", "ssm:DescribeInstancePatchStates"}, On: AnyResource}},
		WildcardReason: "ssm:GetCommandInvocation and ssm:CancelCommand name a command id, which IAM cannot scope, and ssm:ListCommands (which alarm stopped a command) " +
			"and ssm:DescribeInstancePatchStates (what a patch Scan found) do not support resource-level permissions; SendCommand is the scoped action"}
	ExitStandby = Function{Name: "exit-standby", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"autoscaling:DescribeAutoScalingInstances"}, On: AnyResource},
			{Actions: []string{"autoscaling:ExitStandby"}, On: AutoScalingGroups}},
		WildcardReason: standbyReason}
	RegisterTarget = Function{Name: "register-target", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"elasticloadbalancing:RegisterTargets"}, On: ConfiguredTargetGroups}}}
	CheckTargetHealth = Function{Name: "check-target-health", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{describeHealth}, WildcardReason: describeHealthReason}
	ReleaseCapacity = Function{Name: "release-capacity", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, On: CapacityItems, Keys: reservations}}}
	Summarize = Function{Name: "summarize", StateMachine: statemachine.MaintainInstance, MemoryMB: 128, TimeoutSeconds: 10}
)

// The fleet state machine's functions, in the order it uses them.
var (
	PlanRollout = Function{Name: "plan-rollout", StateMachine: statemachine.MaintainFleet, MemoryMB: 512, TimeoutSeconds: 300,
		Permissions: []Permission{
			{Actions: []string{"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
				"elasticloadbalancing:DescribeTargetHealth", "ec2:DescribeInstances", "ssm:DescribeInstanceInformation"}, On: AnyResource},
			{Actions: []string{"dynamodb:GetItem"}, On: CapacityItems, Keys: leases},
			{Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"}, On: RolloutTable},
		},
		WildcardReason: "ELB, EC2 and SSM Describe* actions do not support resource-level permissions; planning reads them, and writes only the rollout's plan"}
	AcquireLeases = Function{Name: "acquire-leases", StateMachine: statemachine.MaintainFleet, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{
			{Actions: []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"}, On: CapacityItems, Keys: leases},
			{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, On: RolloutTable},
		}}
	NextWave = Function{Name: "next-wave", StateMachine: statemachine.MaintainFleet, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{
			{Actions: []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"}, On: CapacityItems, Keys: leases},
			{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, On: RolloutTable},
			{Actions: []string{"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"}, On: AnyResource},
		},
		WildcardReason: describeAlarmsReason}
	RecordWave = Function{Name: "record-wave", StateMachine: statemachine.MaintainFleet, MemoryMB: 128, TimeoutSeconds: 60,
		Permissions: []Permission{
			describeHealth,
			{Actions: []string{"ec2:CreateTags"}, On: TaggedInstances, TagKeys: []string{MaintainedTag}},
			{Actions: []string{"states:DescribeExecution"}, On: InstanceExecutions},
			{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, On: RolloutTable},
		},
		WildcardReason: "DescribeTargetHealth does not support resource-level permissions (it reads where a failed instance stands); the instances are scoped by the tag condition, and the executions are the instance state machine's (:*), each named after its rollout and instance"}
	ReleaseLeases = Function{Name: "release-leases", StateMachine: statemachine.MaintainFleet, MemoryMB: 128, TimeoutSeconds: 30,
		Permissions: []Permission{
			{Actions: []string{"dynamodb:DeleteItem"}, On: CapacityItems, Keys: leases},
			{Actions: []string{"dynamodb:GetItem"}, On: RolloutTable},
		}}
	SummarizeRollout = Function{Name: "summarize-rollout", StateMachine: statemachine.MaintainFleet, MemoryMB: 256, TimeoutSeconds: 60,
		Permissions: append([]Permission{{Actions: []string{"dynamodb:Query", "dynamodb:UpdateItem"}, On: RolloutTable}}, publish...)}
)

// RestoreExecution is the restore state machine's function.
var RestoreExecution = Function{Name: "restore-execution", StateMachine: statemachine.RestoreExecution, MemoryMB: 128, TimeoutSeconds: 60,
	Permissions: append([]Permission{
		{Actions: []string{"elasticloadbalancing:RegisterTargets"}, On: ConfiguredTargetGroups},
		{Actions: []string{"ssm:ListCommands", "ssm:CancelCommand"}, On: AnyResource},
		{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, On: CapacityItems, Keys: append(reservations, leases...)},
		{Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, On: RolloutTable},
		{Actions: []string{"states:DescribeExecution", "states:StopExecution"}, On: InstanceExecutions},
		{Actions: []string{"autoscaling:DescribeAutoScalingInstances"}, On: AnyResource},
		{Actions: []string{"autoscaling:ExitStandby"}, On: AutoScalingGroups},
	}, publish...),
	WildcardReason: "ssm:ListCommands does not support resource-level permissions and ssm:CancelCommand names a command id, which IAM cannot scope; it cancels only drainpipe's own commands on the instance it restores. The executions are the instance state machine's (:*): a holder still running is stopped, not restored. " + standbyReason}

// All lists every function: the instance state machine's, then the fleet's, then the
// restore's.
var All = []Function{
	ResolveTargets, CheckInstance, ReserveCapacity, EnterStandby, DeregisterTarget, CheckDrain, SendCommand, CheckCommand,
	RegisterTarget, CheckTargetHealth, ExitStandby, ReleaseCapacity, Summarize,
	PlanRollout, AcquireLeases, NextWave, RecordWave, ReleaseLeases, SummarizeRollout,
	RestoreExecution,
}

// MaintainedTag is the EC2 tag record-wave writes on each instance it maintained: the
// time, in RFC 3339. Planning reads it to skip instances maintained recently.
const MaintainedTag = "drainpipe:last-maintained"

// Lookup returns the function with the given name.
func Lookup(name string) (Function, error) {
	for _, f := range All {
		if f.Name == name {
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("no function named %q", name)
}

// Pascal turns a kebab-case name into PascalCase, the CDK construct id of the function.
func Pascal(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
