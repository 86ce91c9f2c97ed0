package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/drainpipe/drainpipe/infra/settings"
)

// NewApp reads the settings from the app's context and adds drainpipe's stacks and the
// cdk-nag AwsSolutions checks to it.
//
// The stacks are environment-agnostic unless the context sets "account" or "region":
// the CDK CLI's default account and region (CDK_DEFAULT_ACCOUNT, CDK_DEFAULT_REGION) are
// not read, so an offline synth writes AWS::Region, AWS::AccountId and AWS::Partition
// into every ARN and the template deploys to whichever account and region it is given.
// No CDKMetadata resource either (AnalyticsReporting off): in an environment-agnostic
// stack it comes with a condition that lists every region by name.
// With the default name prefix the stacks keep their names (Drainpipe, DrainpipeDemo);
// with another, the stack names carry it too, so that two copies live side by side.
func NewApp(app awscdk.App) (*Drainpipe, error) {
	s, err := settings.Parse(func(key string) (any, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	})
	if err != nil {
		return nil, err
	}
	var env *awscdk.Environment
	if s.Account != "" || s.Region != "" {
		env = &awscdk.Environment{}
		if s.Account != "" {
			env.Account = jsii.String(s.Account)
		}
		if s.Region != "" {
			env.Region = jsii.String(s.Region)
		}
	}
	d := NewDrainpipeStack(app, "Drainpipe", &DrainpipeStackProps{
		StackProps: awscdk.StackProps{Env: env, StackName: jsii.String(StackName("Drainpipe", s.NamePrefix)), AnalyticsReporting: jsii.Bool(false),
			Description: jsii.String("drainpipe: zero-downtime maintenance of EC2 instances behind ALBs")},
		Settings: s,
	})
	if s.Demo {
		NewDemoStack(app, "DrainpipeDemo", &DemoStackProps{
			StackProps: awscdk.StackProps{Env: env, StackName: jsii.String(StackName("DrainpipeDemo", s.NamePrefix)), AnalyticsReporting: jsii.Bool(false),
				Description: jsii.String("drainpipe demo: the post's hello-world fleet behind an ALB")},
			InstanceTagKey: s.InstanceTagKey, InstanceTagValue: s.InstanceTagValue, AllowedCIDR: s.DemoAllowedCIDR,
		})
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return d, nil
}

// StackName is the CloudFormation stack name of a stack (its construct id, which
// `cdk deploy` selects, stays the same): the id itself with the default prefix, so that
// an existing deployment keeps its stack, and id-PREFIX with any other.
func StackName(id, prefix string) string {
	if prefix == settings.DefaultNamePrefix {
		return id
	}
	return id + "-" + prefix
}
