package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/drainpipe/drainpipe/infra/settings"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Function is how one of drainpipe's functions (internal/functions, same names) is
// deployed: its size, its timeout and exactly the IAM statements it needs.
type Function struct {
	Name           string
	MemoryMB       float64
	TimeoutSeconds float64
	// Statements builds its IAM statements; nil means none beyond its own log group.
	Statements func(env Env) []awsiam.PolicyStatement
	// WildcardReason says, for the cdk-nag suppression, why a statement uses "*".
	WildcardReason string
}

// Functions lists every function. A test checks it against internal/functions.All.
var Functions = []Function{
	{Name: "resolve-targets", MemoryMB: 256, TimeoutSeconds: 60, Statements: describeELB(
		"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth"),
		WildcardReason: "ELB Describe* actions do not support resource-level permissions; they read, never change"},
	{Name: "check-instance", MemoryMB: 128, TimeoutSeconds: 30, Statements: describeELB("elasticloadbalancing:DescribeTargetHealth"),
		WildcardReason: "elasticloadbalancing:DescribeTargetHealth does not support resource-level permissions; it reads, never changes"},
	{Name: "reserve-capacity", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			statement([]string{"elasticloadbalancing:DescribeTargetHealth"}, []string{"*"}, nil),
			e.capacity([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, "instance#*", "group#*"),
		}
	}, WildcardReason: "elasticloadbalancing:DescribeTargetHealth does not support resource-level permissions; it reads, never changes"},
	{Name: "deregister-target", MemoryMB: 128, TimeoutSeconds: 30, Statements: writeELB("elasticloadbalancing:DeregisterTargets")},
	{Name: "check-drain", MemoryMB: 128, TimeoutSeconds: 30, Statements: describeELB("elasticloadbalancing:DescribeTargetHealth"),
		WildcardReason: "elasticloadbalancing:DescribeTargetHealth does not support resource-level permissions; it reads, never changes"},
	{Name: "send-command", MemoryMB: 128, TimeoutSeconds: 30, Statements: sendCommand},
	{Name: "check-command", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{statement([]string{"ssm:GetCommandInvocation", "ssm:CancelCommand"}, []string{"*"}, nil)}
	}, WildcardReason: "ssm:GetCommandInvocation and ssm:CancelCommand name a command id, which IAM cannot scope; SendCommand is the scoped action"},
	{Name: "register-target", MemoryMB: 128, TimeoutSeconds: 30, Statements: writeELB("elasticloadbalancing:RegisterTargets")},
	{Name: "check-target-health", MemoryMB: 128, TimeoutSeconds: 30, Statements: describeELB("elasticloadbalancing:DescribeTargetHealth"),
		WildcardReason: "elasticloadbalancing:DescribeTargetHealth does not support resource-level permissions; it reads, never changes"},
	{Name: "release-capacity", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{e.capacity([]string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, "instance#*", "group#*")}
	}},
	{Name: "summarize", MemoryMB: 128, TimeoutSeconds: 10},
	{Name: "plan-rollout", MemoryMB: 512, TimeoutSeconds: 300, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			statement([]string{"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
				"ec2:DescribeInstances", "ssm:DescribeInstanceInformation"}, []string{"*"}, nil),
			e.capacity([]string{"dynamodb:GetItem"}, "lease#*"),
			e.rollouts("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"),
		}
	}, WildcardReason: "ELB, EC2 and SSM Describe* actions do not support resource-level permissions; planning reads them, and writes only the rollout's plan"},
	{Name: "acquire-leases", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			e.capacity([]string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"}, "lease#*"),
			e.rollouts("dynamodb:GetItem", "dynamodb:UpdateItem"),
		}
	}},
	{Name: "next-wave", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			e.capacity([]string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"}, "lease#*"),
			e.rollouts("dynamodb:GetItem", "dynamodb:UpdateItem"),
		}
	}},
	{Name: "record-wave", MemoryMB: 128, TimeoutSeconds: 60, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			statement([]string{"ec2:CreateTags"}, []string{e.instances()}, map[string]any{
				"StringEquals":              map[string]any{"aws:ResourceTag/" + e.Settings.InstanceTagKey: e.Settings.InstanceTagValue},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{rollout.MaintainedTag}},
			}),
			statement([]string{"states:DescribeExecution"}, []string{e.executions(statemachine.MaintainInstance)}, nil),
			e.rollouts("dynamodb:GetItem", "dynamodb:UpdateItem"),
		}
	}, WildcardReason: "the instances are scoped by the tag condition, and the executions are the instance state machine's (:*), each named after its rollout and instance"},
	{Name: "release-leases", MemoryMB: 128, TimeoutSeconds: 30, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			e.capacity([]string{"dynamodb:DeleteItem"}, "lease#*"),
			e.rollouts("dynamodb:GetItem"),
		}
	}},
	{Name: "summarize-rollout", MemoryMB: 256, TimeoutSeconds: 60, Statements: func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{
			statement([]string{"sns:Publish"}, []string{*e.TopicARN}, nil),
			statement([]string{"kms:GenerateDataKey", "kms:Decrypt"}, []string{*e.TopicKeyARN}, nil),
			e.rollouts("dynamodb:Query", "dynamodb:UpdateItem"),
		}
	}},
	{Name: "restore-execution", MemoryMB: 128, TimeoutSeconds: 60, Statements: func(e Env) []awsiam.PolicyStatement {
		return append(writeELB("elasticloadbalancing:RegisterTargets")(e),
			statement([]string{"ssm:ListCommands", "ssm:CancelCommand"}, []string{"*"}, nil),
			e.capacity([]string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, "instance#*", "group#*", "lease#*"),
			e.rollouts("dynamodb:GetItem", "dynamodb:UpdateItem"),
			statement([]string{"states:DescribeExecution", "states:StopExecution"}, []string{e.executions(statemachine.MaintainInstance)}, nil),
			statement([]string{"sns:Publish"}, []string{*e.TopicARN}, nil),
			statement([]string{"kms:GenerateDataKey", "kms:Decrypt"}, []string{*e.TopicKeyARN}, nil),
		)
	}, WildcardReason: "ssm:ListCommands does not support resource-level permissions and ssm:CancelCommand names a command id, which IAM cannot scope; it cancels only drainpipe's own commands on the instance it restores. The executions are the instance state machine's (:*): a holder still running is stopped, not restored"},
}

// Env is what a function's IAM statements may refer to.
type Env struct {
	Stack                                                    awscdk.Stack
	Settings                                                 settings.Settings
	CapacityTableARN, RolloutTableARN, TopicARN, TopicKeyARN *string
}

// rollouts allows the actions on the rollouts table.
func (e Env) rollouts(actions ...string) awsiam.PolicyStatement {
	return statement(actions, []string{*e.RolloutTableARN}, nil)
}

// executions is the ARN pattern of the executions of a state machine of the stack.
func (e Env) executions(file string) string {
	return fmt.Sprintf("arn:%s:states:%s:%s:execution:%s:*", *e.Stack.Partition(), *e.Stack.Region(), *e.Stack.Account(), statemachine.Name(file))
}

// capacity allows the actions on the capacity table's items whose keys match the
// patterns only: the reservations ("instance#*", "group#*") or the leases ("lease#*").
func (e Env) capacity(actions []string, keys ...string) awsiam.PolicyStatement {
	return statement(actions, []string{*e.CapacityTableARN}, map[string]any{
		"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": keys},
	})
}

func (e Env) instances() string {
	return fmt.Sprintf("arn:%s:ec2:%s:%s:instance/*", *e.Stack.Partition(), *e.Stack.Region(), *e.Stack.Account())
}

func statement(actions, resources []string, conditions map[string]any) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}

func describeELB(actions ...string) func(Env) []awsiam.PolicyStatement {
	return func(Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{statement(actions, []string{"*"}, nil)}
	}
}

// writeELB allows a registration change on the configured target groups only.
func writeELB(action string) func(Env) []awsiam.PolicyStatement {
	return func(e Env) []awsiam.PolicyStatement {
		return []awsiam.PolicyStatement{statement([]string{action}, e.Settings.TargetGroupARNs, nil)}
	}
}

// sendCommand allows the product's documents (and the configured ones) on instances that
// carry the configured tag.
func sendCommand(e Env) []awsiam.PolicyStatement {
	stack, s := e.Stack, e.Settings
	var documents []string
	for _, d := range append([]string{workflow.DocumentShellScript, workflow.DocumentPatchBaseline}, s.SSMDocuments...) {
		documents = append(documents, fmt.Sprintf("arn:%s:ssm:%s::document/%s", *stack.Partition(), *stack.Region(), d))
		if d != workflow.DocumentShellScript && d != workflow.DocumentPatchBaseline {
			// A document of the account's own has the account in its ARN.
			documents = append(documents, fmt.Sprintf("arn:%s:ssm:%s:%s:document/%s", *stack.Partition(), *stack.Region(), *stack.Account(), d))
		}
	}
	return []awsiam.PolicyStatement{
		statement([]string{"ssm:SendCommand"}, documents, nil),
		statement([]string{"ssm:SendCommand"}, []string{e.instances()}, map[string]any{
			"StringEquals": map[string]any{"aws:ResourceTag/" + s.InstanceTagKey: s.InstanceTagValue},
		}),
	}
}
