// Command drainpipe is the operators' command: validate, start, plan, watch and abort
// drainpipe executions, and list reservations and rollouts (internal/cli). It takes AWS
// settings from the standard chain: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/drainpipe/drainpipe/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainpipe: the AWS config:", err)
		os.Exit(cli.ExitAWS)
	}
	size, _ := cli.Terminal(os.Stdout)
	os.Exit(cli.Run(ctx, cli.Env{Config: cfg, Stdout: os.Stdout, Stderr: os.Stderr, Size: size}, os.Args[1:]))
}
