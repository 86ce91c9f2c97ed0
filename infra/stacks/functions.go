package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/drainpipe/drainpipe/infra/settings"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Env is what a function's permissions (catalog.Permission) are resolved against: the
// deployment's stack, settings, tables, topic and key.
type Env struct {
	Stack                                                    awscdk.Stack
	Settings                                                 settings.Settings
	CapacityTableARN, RolloutTableARN, TopicARN, TopicKeyARN *string
}

// Statements are the IAM statements of a function's permissions, one per permission,
// each on the resources of its kind in this deployment.
func (e Env) Statements(f catalog.Function) []awsiam.PolicyStatement {
	var out []awsiam.PolicyStatement
	for _, p := range f.Permissions {
		out = append(out, e.statement(p))
	}
	return out
}

func (e Env) statement(p catalog.Permission) awsiam.PolicyStatement {
	tagged := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + e.Settings.InstanceTagKey: e.Settings.InstanceTagValue}}
	switch p.On {
	case catalog.AnyResource:
		return statement(p.Actions, []string{"*"}, nil)
	case catalog.ConfiguredTargetGroups:
		return statement(p.Actions, e.Settings.TargetGroupARNs, nil)
	case catalog.TaggedInstances:
		if len(p.TagKeys) > 0 {
			tagged["ForAllValues:StringEquals"] = map[string]any{"aws:TagKeys": p.TagKeys}
		}
		return statement(p.Actions, []string{e.instances()}, tagged)
	case catalog.Documents:
		return statement(p.Actions, e.documents(), nil)
	case catalog.CapacityItems:
		return statement(p.Actions, []string{*e.CapacityTableARN}, map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": p.Keys},
		})
	case catalog.RolloutTable:
		return statement(p.Actions, []string{*e.RolloutTableARN}, nil)
	case catalog.Topic:
		return statement(p.Actions, []string{*e.TopicARN}, nil)
	case catalog.TopicKey:
		return statement(p.Actions, []string{*e.TopicKeyARN}, nil)
	case catalog.InstanceExecutions:
		return statement(p.Actions, []string{e.executions(statemachine.MaintainInstance)}, nil)
	case catalog.AutoScalingGroups:
		return statement(p.Actions, []string{arn(e.Stack, "autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")}, nil)
	}
	panic(fmt.Sprintf("no resources for permission kind %q", p.On))
}

// documents are the product's documents (and the configured ones), by ARN.
func (e Env) documents() []string {
	stack := e.Stack
	var documents []string
	for _, d := range append([]string{workflow.DocumentShellScript, workflow.DocumentPatchBaseline, workflow.DocumentPatchBaselineWithHooks}, e.Settings.SSMDocuments...) {
		documents = append(documents, fmt.Sprintf("arn:%s:ssm:%s::document/%s", *stack.Partition(), *stack.Region(), d))
		if !strings.HasPrefix(d, "AWS-") {
			// A document of the account's own has the account in its ARN.
			documents = append(documents, fmt.Sprintf("arn:%s:ssm:%s:%s:document/%s", *stack.Partition(), *stack.Region(), *stack.Account(), d))
		}
	}
	return documents
}

// executions is the ARN pattern of the executions of a state machine of the stack.
func (e Env) executions(file string) string {
	return arn(e.Stack, "states", "execution:"+e.Settings.Names().StateMachine(file)+":*")
}

func (e Env) instances() string { return arn(e.Stack, "ec2", "instance/*") }

func statement(actions, resources []string, conditions map[string]any) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}
