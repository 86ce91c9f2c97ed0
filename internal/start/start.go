// Package start is the whole of a Lambda function's main: JSON logs, the AWS config
// (failing fast when it cannot be loaded), the handler built from it, and the Lambda
// runtime loop. The handler's signature is checked when the main compiles, and the main
// links only the SDK clients its handler's constructor makes.
package start

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/faults"
)

// Lambda runs the catalog's function f: build makes the receiver from the AWS config,
// and handle is the method that answers each invocation, for example
//
//	start.Lambda(catalog.CheckDrain, targets.NewChecker, targets.Checker.CheckDrain)
func Lambda[S, Req, Resp any](f catalog.Function, build func(aws.Config) S, handle func(S, context.Context, Req) (Resp, error)) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("loading AWS config", "function", f.Name, "error", err)
		os.Exit(1)
	}
	lambda.StartHandlerFunc(Bind(f, build(cfg), handle))
}

// Func runs the catalog's function f, whose handler needs no AWS client.
func Func[Req, Resp any](f catalog.Function, handle func(context.Context, Req) (Resp, error)) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	lambda.StartHandlerFunc(faults.Lambda(f.Name, handle))
}

// Bind is the handler of f: handle bound to its receiver, its errors named at the
// boundary (faults.Lambda).
func Bind[S, Req, Resp any](f catalog.Function, s S, handle func(S, context.Context, Req) (Resp, error)) func(context.Context, Req) (Resp, error) {
	return faults.Lambda(f.Name, func(ctx context.Context, req Req) (Resp, error) { return handle(s, ctx, req) })
}
