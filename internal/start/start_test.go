package start

import (
	"context"
	"strings"
	"testing"
)

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
