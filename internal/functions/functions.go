// Package functions is the catalogue of drainpipe's Lambda functions. One entry per check
// or action names it and builds its handler from an AWS config; the lambdas/<name> main
// packages, the state machine's placeholders, the CDK app and the lab all start from this
// one list, so a name seen in one place leads to the others.
package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/recovery"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Deps is what a handler is built from.
type Deps struct {
	// Config is the AWS configuration the SDK clients are made from.
	Config aws.Config
	// The clients; nil means made from Config.
	ELB      ELBAPI
	SSM      SSMAPI
	EC2      EC2API
	DynamoDB DynamoDBAPI
	SNS      rollout.PublisherAPI
	SFN      SFNAPI
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now func() time.Time
	// Token makes the reboot flag unique per execution; nil means random.
	Token func() string
}

// ELBAPI is every ELBv2 operation the functions use.
type ELBAPI interface {
	targets.ResolverAPI
	targets.RegistrarAPI
}

// SSMAPI is every SSM operation the functions use.
type SSMAPI interface {
	command.API
	rollout.SSMAPI
	recovery.SSMAPI
}

// EC2API is every EC2 operation the functions use.
type EC2API interface {
	rollout.EC2API
	rollout.TaggerAPI
}

// Function is one Lambda function.
type Function struct {
	// Name is kebab-case; it is the folder under lambdas/ and the stem of the state
	// machine placeholder (see Placeholder).
	Name string
	// Build returns the handler, a function aws-lambda-go's Start accepts. Its errors
	// already carry drainpipe's stable error names.
	Build func(Deps) any
}

// All lists every function: the instance state machine's, in the order it uses them,
// then the fleet state machine's, then the recovery's.
var All = []Function{
	{"resolve-targets", func(d Deps) any {
		return faults.Lambda("resolve-targets", targets.Resolver{API: elb(d), Token: d.Token}.Resolve)
	}},
	{"check-instance", func(d Deps) any {
		return faults.Lambda("check-instance", checker(d).CheckInstance)
	}},
	{"reserve-capacity", func(d Deps) any {
		return faults.Lambda("reserve-capacity", reserver(d).Reserve)
	}},
	{"deregister-target", func(d Deps) any {
		return faults.Lambda("deregister-target", registrar(d).Deregister)
	}},
	{"check-drain", func(d Deps) any {
		return faults.Lambda("check-drain", checker(d).CheckDrain)
	}},
	{"send-command", func(d Deps) any {
		return faults.Lambda("send-command", runner(d).Send)
	}},
	{"check-command", func(d Deps) any {
		return faults.Lambda("check-command", runner(d).Check)
	}},
	{"register-target", func(d Deps) any {
		return faults.Lambda("register-target", registrar(d).Register)
	}},
	{"check-target-health", func(d Deps) any {
		return faults.Lambda("check-target-health", checker(d).CheckHealthy)
	}},
	{"release-capacity", func(d Deps) any {
		return faults.Lambda("release-capacity", reserver(d).Release)
	}},
	{"summarize", func(Deps) any {
		return faults.Lambda("summarize", func(_ context.Context, s workflow.State) (workflow.Summary, error) {
			return workflow.Summarize(s)
		})
	}},
	{"plan-rollout", func(d Deps) any {
		return faults.Lambda("plan-rollout", rollout.Planner{ELB: elb(d), EC2: ec2Client(d), SSM: ssmClient(d), DB: dynamoDB(d), Now: d.Now}.Plan)
	}},
	{"acquire-leases", func(d Deps) any {
		return faults.Lambda("acquire-leases", fleet(d).AcquireLeases)
	}},
	{"next-wave", func(d Deps) any {
		return faults.Lambda("next-wave", fleet(d).NextWave)
	}},
	{"record-wave", func(d Deps) any {
		return faults.Lambda("record-wave", fleet(d).RecordWave)
	}},
	{"release-leases", func(d Deps) any {
		return faults.Lambda("release-leases", fleet(d).ReleaseLeases)
	}},
	{"summarize-rollout", func(d Deps) any {
		return faults.Lambda("summarize-rollout", fleet(d).Summarize)
	}},
	{"restore-execution", func(d Deps) any {
		return faults.Lambda("restore-execution", recovery.Recoverer{ELB: elb(d), SSM: ssmClient(d), SFN: sfnClient(d), DB: dynamoDB(d), SNS: snsClient(d), Now: d.Now}.Restore)
	}},
}

func ssmClient(d Deps) SSMAPI {
	if d.SSM != nil {
		return d.SSM
	}
	return ssm.NewFromConfig(d.Config)
}

func ec2Client(d Deps) EC2API {
	if d.EC2 != nil {
		return d.EC2
	}
	return ec2.NewFromConfig(d.Config)
}

// SFNAPI is every Step Functions operation the functions use.
type SFNAPI interface {
	rollout.DescriberAPI
	recovery.SFNAPI
}

// DynamoDBAPI is every DynamoDB operation the functions use.
type DynamoDBAPI interface {
	capacity.DynamoDBAPI
	rollout.StoreAPI
}

func dynamoDB(d Deps) DynamoDBAPI {
	if d.DynamoDB != nil {
		return d.DynamoDB
	}
	return dynamodb.NewFromConfig(d.Config)
}

func fleet(d Deps) rollout.Fleet {
	return rollout.Fleet{DB: dynamoDB(d), EC2: ec2Client(d), SFN: sfnClient(d), SNS: snsClient(d), Now: d.Now}
}

func sfnClient(d Deps) SFNAPI {
	if d.SFN != nil {
		return d.SFN
	}
	return sfn.NewFromConfig(d.Config)
}

func reserver(d Deps) capacity.Reserver {
	return capacity.Reserver{DB: dynamoDB(d), ELB: elb(d), Now: d.Now}
}

func snsClient(d Deps) rollout.PublisherAPI {
	if d.SNS != nil {
		return d.SNS
	}
	return sns.NewFromConfig(d.Config)
}

func elb(d Deps) ELBAPI {
	if d.ELB != nil {
		return d.ELB
	}
	return elbv2.NewFromConfig(d.Config)
}

func checker(d Deps) targets.Checker { return targets.Checker{API: elb(d), Now: d.Now} }

func registrar(d Deps) targets.Registrar { return targets.Registrar{API: elb(d), Now: d.Now} }

func runner(d Deps) command.Runner {
	return command.Runner{API: ssmClient(d), Now: d.Now}
}

// Lookup returns the function with the given name.
func Lookup(name string) (Function, error) {
	for _, f := range All {
		if f.Name == name {
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("no function named %q", name)
}

// Placeholder is the state machine placeholder that stands for a function's ARN:
// "deregister-target" -> "DeregisterTargetFunctionArn", written ${DeregisterTargetFunctionArn}.
func Placeholder(name string) string { return Pascal(name) + "FunctionArn" }

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

// Main is the whole of a Lambda's main: JSON logs, the AWS config (failing fast when it
// cannot be loaded), the handler, and the Lambda runtime loop.
func Main(name string) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	f, err := Lookup(name)
	if err != nil {
		slog.Error("unknown function", "error", err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("loading AWS config", "function", name, "error", err)
		os.Exit(1)
	}
	lambda.Start(f.Build(Deps{Config: cfg}))
}

// Invoke runs a function's handler on a JSON payload through aws-lambda-go's handler path,
// as the Lambda runtime does, and returns the response payload or the function error.
func Invoke(ctx context.Context, handler any, payload json.RawMessage) ([]byte, error) {
	return lambda.NewHandler(handler).Invoke(ctx, payload)
}
