package settings

import (
	"fmt"
	"strings"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Names derives every fixed physical name of a deployment from its prefix. The stacks
// take each name from here, and Parse checks with AllNames that the longest of each kind
// fits AWS's limit. (internal/catalog and package statemachine describe the names with
// "drainpipe-"; the deployment's names are these.)
type Names struct{ Prefix string }

// AWS's limits on the names drainpipe sets.
const (
	MaxFunctionName      = 64  // Lambda function name
	MaxStateMachineName  = 80  // Step Functions state machine name
	MaxLogGroupName      = 512 // CloudWatch Logs log group name
	MaxTableName         = 255 // DynamoDB table name
	MaxTopicName         = 256 // SNS topic name
	MaxKeyAliasName      = 256 // KMS alias name, "alias/" included
	MaxDashboardName     = 255 // CloudWatch dashboard name
	MaxScheduleName      = 64  // EventBridge Scheduler schedule name
	MaxScheduleGroupName = 64  // EventBridge Scheduler schedule group name
	MaxRuleName          = 64  // EventBridge rule name
	MaxQueueName         = 80  // SQS queue name
	MaxAlarmName         = 255 // CloudWatch alarm name
)

// LoadBalancerAlarms are the alarms the app creates on the configured load balancer:
// its own 5XX answers, its targets' 5XX answers, and its targets' response time.
var LoadBalancerAlarms = []string{"elb-5xx", "target-5xx", "response-time"}

// Alarm is one of LoadBalancerAlarms' deployed names: PREFIX-alb-elb-5xx.
func (n Names) Alarm(which string) string { return n.Prefix + "-alb-" + which }

// Function is a catalog function's deployed name: PREFIX-check-drain.
func (n Names) Function(name string) string { return n.Prefix + "-" + name }

// FunctionLogGroup is the log group of a function.
func (n Names) FunctionLogGroup(name string) string { return "/aws/lambda/" + n.Function(name) }

// StateMachine is the deployed name of a definition file: PREFIX-maintain-instance.
func (n Names) StateMachine(file string) string {
	return n.Prefix + "-" + strings.TrimSuffix(file, ".asl.json")
}

// StateMachineLogGroup is the log group of a state machine (the vended-logs path, whose
// resource policy CloudWatch Logs manages for Step Functions).
func (n Names) StateMachineLogGroup(file string) string {
	return "/aws/vendedlogs/states/" + n.StateMachine(file)
}

// CapacityTable holds the reservations and the rollouts' leases.
func (n Names) CapacityTable() string { return n.Prefix + "-capacity" }

// RolloutTable holds the rollouts' plans and results.
func (n Names) RolloutTable() string { return n.Prefix + "-rollouts" }

// Topic is the notification topic.
func (n Names) Topic() string { return n.Prefix + "-notifications" }

// KeyAlias names the topic's KMS key.
func (n Names) KeyAlias() string { return "alias/" + n.Prefix + "-notifications" }

// Dashboard is the CloudWatch dashboard.
func (n Names) Dashboard() string { return n.Prefix }

// ScheduleGroup holds the deployment's schedules.
func (n Names) ScheduleGroup() string { return n.Prefix }

// Schedule is a configured schedule's deployed name.
func (n Names) Schedule(name string) string { return n.Prefix + "-" + name }

// RestoreRule sends ended executions to the restore state machine.
func (n Names) RestoreRule() string { return n.Prefix + "-restore-on-end" }

// FailureRule sends failed, timed-out and aborted executions to the topic.
func (n Names) FailureRule() string { return n.Prefix + "-execution-failed" }

// RestoreDeadLetters keeps what the restore rule could not deliver.
func (n Names) RestoreDeadLetters() string { return n.Prefix + "-restore-dead-letters" }

// ScheduleDeadLetters keeps what the schedules could not deliver.
func (n Names) ScheduleDeadLetters() string { return n.Prefix + "-schedule-dead-letters" }

// Name is one physical name with what it names and AWS's limit on it.
type Name struct {
	Kind, Value string
	Max         int
}

// AllNames lists every fixed name of a deployment without schedules (each schedule's
// name is checked with the schedule).
func (n Names) AllNames() []Name {
	var out []Name
	for _, f := range catalog.All {
		out = append(out, Name{"Lambda function", n.Function(f.Name), MaxFunctionName},
			Name{"log group", n.FunctionLogGroup(f.Name), MaxLogGroupName})
	}
	for _, file := range statemachine.Names() {
		out = append(out, Name{"state machine", n.StateMachine(file), MaxStateMachineName},
			Name{"log group", n.StateMachineLogGroup(file), MaxLogGroupName})
	}
	return append(out,
		Name{"DynamoDB table", n.CapacityTable(), MaxTableName},
		Name{"DynamoDB table", n.RolloutTable(), MaxTableName},
		Name{"SNS topic", n.Topic(), MaxTopicName},
		Name{"KMS alias", n.KeyAlias(), MaxKeyAliasName},
		Name{"CloudWatch dashboard", n.Dashboard(), MaxDashboardName},
		Name{"schedule group", n.ScheduleGroup(), MaxScheduleGroupName},
		Name{"EventBridge rule", n.RestoreRule(), MaxRuleName},
		Name{"EventBridge rule", n.FailureRule(), MaxRuleName},
		Name{"SQS queue", n.RestoreDeadLetters(), MaxQueueName},
		Name{"SQS queue", n.ScheduleDeadLetters(), MaxQueueName},
		Name{"CloudWatch alarm", n.Alarm("target-5xx"), MaxAlarmName},
	)
}

// PrefixProblems says what is wrong with a name prefix: a character one of the names
// cannot have (the common ground of every kind is lower-case letters, digits and inner
// hyphens, starting with a letter), a reserved name, or a derived name over its limit;
// nil when it is fine.
func PrefixProblems(prefix string) []string {
	if !namePrefix.MatchString(prefix) {
		return []string{fmt.Sprintf("%q is not a name prefix: use lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen, for example %q",
			prefix, DefaultNamePrefix)}
	}
	if prefix == "default" {
		// The schedule group takes the prefix as its name, and every account has a
		// schedule group called default.
		return []string{`"default" is the name of every account's own schedule group: choose another prefix`}
	}
	// The binding name is the one with the least room left: it says how long the prefix
	// may be.
	var tightest Name
	slack := -1
	for i, name := range (Names{Prefix: prefix}).AllNames() {
		if room := name.Max - len(name.Value); i == 0 || room < slack {
			tightest, slack = name, room
		}
	}
	if slack < 0 {
		return []string{fmt.Sprintf("%q makes the %s name %q %d characters long; AWS allows %d: use a prefix of at most %d characters",
			prefix, tightest.Kind, tightest.Value, len(tightest.Value), tightest.Max, len(prefix)+slack)}
	}
	return nil
}
