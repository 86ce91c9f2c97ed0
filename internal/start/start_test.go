package start

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/catalog"
)

// TestAuditLinesCarryTheRequest: a function's audit line, logged through Bind's context
// with the functions' logger, names the Lambda request and the execution the request is
// for.
func TestAuditLinesCarryTheRequest(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, prev := os.Stdout, slog.Default()
	os.Stdout = w
	slog.SetDefault(Logger()) // writes to the stdout it finds
	os.Stdout = stdout
	t.Cleanup(func() { slog.SetDefault(prev) })
	handle := Bind(catalog.DeregisterTarget, 0, func(_ int, ctx context.Context, _ execReq) (struct{}, error) {
		audit.Record(ctx, audit.Deregister, nil, nil, audit.Instance("i-0123456789abcdef0"))
		return struct{}{}, nil
	})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
	if _, err := handle(ctx, execReq{"arn:aws:states:eu-west-1:123456789012:execution:m:one"}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	out, _ := io.ReadAll(r)
	for _, want := range []string{"requestId=8476a536-e9f4-11e8-9739-2dfe598c3fcd", "message=change", "action=deregister",
		"execution=arn:aws:states:eu-west-1:123456789012:execution:m:one", "instance=i-0123456789abcdef0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the line lacks %s: %s", want, out)
		}
	}
}

type execReq struct{ Execution string }

func (r execReq) AuditExecution() string { return r.Execution }

func TestConfig(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
	cfg, err := Config(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIAEXAMPLE" || creds.SecretAccessKey != "secret" ||
		creds.SessionToken != "token" || cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != env["AWS_ENDPOINT_URL"] {
		t.Errorf("config %+v, credentials %+v, %v", cfg, creds, err)
	}
	delete(env, "AWS_ENDPOINT_URL")
	if cfg, _ := Config(func(k string) string { return env[k] }); cfg.BaseEndpoint != nil {
		t.Errorf("an endpoint without AWS_ENDPOINT_URL: %s", *cfg.BaseEndpoint)
	}
	delete(env, "AWS_REGION")
	delete(env, "AWS_SECRET_ACCESS_KEY")
	if _, err := Config(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "AWS_REGION, AWS_SECRET_ACCESS_KEY") {
		t.Errorf("missing variables: %v", err)
	}
}
