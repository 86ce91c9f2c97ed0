package stacks

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/drainpipe/drainpipe/infra/settings"
)

// NewApp reads the settings from the app's context and adds drainpipe's stacks and the
// cdk-nag AwsSolutions checks to it.
func NewApp(app awscdk.App) (*Drainpipe, error) {
	s, err := settings.Parse(func(key string) (any, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	})
	if err != nil {
		return nil, err
	}
	env := &awscdk.Environment{Account: envOrNil("CDK_DEFAULT_ACCOUNT"), Region: envOrNil("CDK_DEFAULT_REGION")}
	d := NewDrainpipeStack(app, "Drainpipe", &DrainpipeStackProps{
		StackProps: awscdk.StackProps{Env: env, Description: jsii.String("drainpipe: zero-downtime maintenance of EC2 instances behind ALBs")},
		Settings:   s,
	})
	if s.Demo {
		NewDemoStack(app, "DrainpipeDemo", &DemoStackProps{
			StackProps:     awscdk.StackProps{Env: env, Description: jsii.String("drainpipe demo: the post's hello-world fleet behind an ALB")},
			InstanceTagKey: s.InstanceTagKey, InstanceTagValue: s.InstanceTagValue, AllowedCIDR: s.DemoAllowedCIDR,
		})
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return d, nil
}

func envOrNil(name string) *string {
	if v := os.Getenv(name); v != "" {
		return &v
	}
	return nil
}
