package cfnspec

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	once   sync.Once
	loaded *Spec
	err    error
)

// spec loads the schemas once; without them the tests fail (make tools installs them).
func spec(t *testing.T) *Spec {
	t.Helper()
	once.Do(func() {
		var path string
		if path, err = Find("."); err != nil {
			return
		}
		start := time.Now()
		loaded, err = Load(path)
		if err == nil {
			t.Logf("%d resource types from %s (version %s) in %v", loaded.Types(), path, loaded.Version(), time.Since(start).Round(time.Millisecond))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// TestValidate: each kind of problem is found in a template that has it, and a
// well-formed template has none.
func TestValidate(t *testing.T) {
	s := spec(t)
	queue := `{"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q", "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": true}}`
	for _, tt := range []struct {
		name, resource, want string
	}{
		{"well formed", queue, ""},
		{"intrinsics are left to CloudFormation", `{"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Join": ["", ["a", {"Ref": "AWS::Region"}]]}, "DelaySeconds": {"Ref": "P"}}}`, ""},
		{"numeric string for an integer", `{"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": "5"}}`, ""},
		{"unknown type", `{"Type": "AWS::SQS::Queues", "Properties": {}}`, `unknown resource type "AWS::SQS::Queues"`},
		{"unknown property", `{"Type": "AWS::SQS::Queue", "Properties": {"QueueNames": "q"}}`, `unknown property "QueueNames"`},
		{"unknown resource attribute", `{"Type": "AWS::SQS::Queue", "Propertiess": {}}`, `unknown resource attribute "Propertiess"`},
		{"required property missing", `{"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": ["t"]}}`, `required property "PolicyDocument" is missing`},
		{"no properties, none required", `{"Type": "AWS::Events::Rule"}`, ""},
		{"integer given a word", `{"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": "five"}}`, `X (AWS::SQS::Queue).DelaySeconds: "five" is not an integer`},
		{"integer given a fraction", `{"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 1.5}}`, `1.5 is not an integer`},
		{"boolean given yes", `{"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "yes"}}`, `"yes" is not a boolean`},
		{"string given a list", `{"Type": "AWS::SQS::Queue", "Properties": {"QueueName": ["q"]}}`, `["q"] is not a string`},
		{"list given a string", `{"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": "t", "PolicyDocument": {}}}`, `"t" is not a list`},
		{"nested unknown property", `{"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Id": "a", "Arn": "b", "RetryPolicy": {"MaxAttempts": 3}}]}}`,
			`X (AWS::Events::Rule).Targets[0].RetryPolicy: unknown property "MaxAttempts"`},
		{"nested required property", `{"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Arn": "b"}]}}`, `Targets[0]: required property "Id" is missing`},
		{"nested primitive", `{"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Id": "a", "Arn": "b", "RetryPolicy": {"MaximumRetryAttempts": "many"}}]}}`,
			`"many" is not an integer`},
		{"tag without a value", `{"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "k"}]}}`, `Tags[0]: required property "Value" is missing`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tpl map[string]any
			if err := json.Unmarshal([]byte(`{"Resources": {"X": `+tt.resource+`}}`), &tpl); err != nil {
				t.Fatal(err)
			}
			problems, checked := s.Validate(tpl)
			if checked != 1 {
				t.Errorf("checked %d resources", checked)
			}
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("problems %v, want none", problems)
			case tt.want != "" && (len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tt.want)):
				t.Errorf("problems %v, want one with %q", problems, tt.want)
			}
		})
	}
}
