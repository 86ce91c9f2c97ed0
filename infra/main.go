// Command infra is drainpipe's CDK app: it reads the settings from the CDK context
// (cdk.json or -c key=value), builds the Drainpipe stack and, with demo=true, the
// DrainpipeDemo stack, applies cdk-nag's AwsSolutions checks, and synthesizes.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/drainpipe/drainpipe/infra/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if _, err := stacks.NewApp(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}
