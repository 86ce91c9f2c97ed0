// Package start is the whole of a Lambda function's main: JSON logs, the AWS config
// (failing fast when it cannot be made), the handler built from it, and the Lambda
// runtime loop. The handler's signature is checked when the main compiles, and the main
// links only the SDK clients its handler's constructor makes.
//
// The config comes from what Lambda puts in every function's environment (see Config),
// not from the SDK's config package: that package links the clients of every credential
// source (STS, SSO, SSO OIDC, sign-in), about 1.5 MB of each bootstrap, none of which a
// Lambda function uses: its credentials are its role's, in the environment.
package start

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/faults"
)

// Lambda runs the catalog's function f: build makes the receiver from the AWS config,
// and handle is the method that answers each invocation, for example
//
//	start.Lambda(catalog.CheckDrain, targets.NewChecker, targets.Checker.CheckDrain)
func Lambda[S, Req, Resp any](f catalog.Function, build func(aws.Config) S, handle func(S, context.Context, Req) (Resp, error)) {
	slog.SetDefault(Logger())
	cfg, err := Config(os.Getenv)
	if err != nil {
		slog.Error("making the AWS config", "function", f.Name, "error", err)
		os.Exit(1)
	}
	lambda.StartHandlerFunc(Bind(f, build(cfg), handle))
}

// Func runs the catalog's function f, whose handler needs no AWS client.
func Func[Req, Resp any](f catalog.Function, handle func(context.Context, Req) (Resp, error)) {
	slog.SetDefault(Logger())
	lambda.StartHandlerFunc(faults.Lambda(f.Name, handle))
}

// Logger is every function's logger: aws-lambda-go's, which writes JSON when the function's
// log format is JSON (AWS_LAMBDA_LOG_FORMAT, set by the stack) and adds the invocation's
// request id to every line logged with its context, the audit trail's included.
func Logger() *slog.Logger { return lambdacontext.NewLogger() }

// Bind is the handler of f: handle bound to its receiver, its errors named at the
// boundary (faults.Lambda).
func Bind[S, Req, Resp any](f catalog.Function, s S, handle func(S, context.Context, Req) (Resp, error)) func(context.Context, Req) (Resp, error) {
	return faults.Lambda(f.Name, func(ctx context.Context, req Req) (Resp, error) {
		return handle(s, audit.FromRequest(ctx, req), req)
	})
}

// Config is the AWS config of a Lambda function, from the variables Lambda sets in its
// environment: the region (AWS_REGION) and the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which the SDK's default
// chain would also take from the environment first; and AWS_ENDPOINT_URL when set. The
// SDK's defaults apply to the rest (its standard retryer, 3 attempts). A missing region
// or credential is an error that names it.
func Config(getenv func(string) string) (aws.Config, error) {
	var missing []string
	for _, v := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return aws.Config{}, fmt.Errorf("the environment has no %s; Lambda sets them for every function", strings.Join(missing, ", "))
	}
	cfg := aws.Config{
		Region: getenv("AWS_REGION"),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))),
	}
	if url := getenv("AWS_ENDPOINT_URL"); url != "" {
		cfg.BaseEndpoint = &url
	}
	return cfg, nil
}
