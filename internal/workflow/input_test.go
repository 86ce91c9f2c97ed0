package workflow

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
)

const (
	testInstance = "i-0123456789abcdef0"
	testARN      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	testARN2     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/fedcba9876543210"
)

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string // substring of the InvalidInput message; empty: valid
	}{
		{"reboot", `{"instanceId":"i-0123456789abcdef0","targetGroupArns":["` + testARN + `"],"maintenance":{"action":"reboot"}}`, ""},
		{"short instance id", `{"instanceId":"i-01234567","maintenance":{"action":"reboot"}}`, ""},
		{"discovery", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"}}`, ""},
		{"patch with options", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"patch","operation":"Scan","rebootOption":"NoReboot","timeoutSeconds":600}}`, ""},
		{"commands", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"commands","commands":["yum -y update","exit 194"]},"healthCheck":{"commands":["curl -fsS localhost:8080/"]}}`, ""},
		{"document", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"document","documentName":"My-Doc_1.0","parameters":{"level":["high"]}}}`, ""},
		{"govcloud arn", `{"instanceId":"i-0123456789abcdef0","targetGroupArns":["arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/a-b/0123456789abcdef"],"maintenance":{"action":"reboot"}}`, ""},
		{"all options", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"timeouts":{"drainSeconds":30,"healthySeconds":60},"pollSeconds":5,"allowLastTarget":true,"dryRun":true}`, ""},

		{"empty", `{}`, `"instanceId" is required`},
		{"not json", `reboot please`, "input is not valid"},
		{"array", `[]`, "input is not valid"},
		{"trailing data", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"}} {}`, "data after the JSON object"},
		{"unknown field", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"instanceIds":["x"]}`, `unknown field "instanceIds"`},
		{"unknown nested field", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot","force":true}}`, `unknown field "force"`},
		{"wrong type", `{"instanceId":42,"maintenance":{"action":"reboot"}}`, `"instanceId" must be a string, but it is a number`},
		{"bad instance id", `{"instanceId":"i-XYZ","maintenance":{"action":"reboot"}}`, `is not an EC2 instance id`},
		{"uppercase instance id", `{"instanceId":"i-0123456789ABCDEF0","maintenance":{"action":"reboot"}}`, `is not an EC2 instance id`},
		{"bad arn", `{"instanceId":"i-0123456789abcdef0","targetGroupArns":["arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0123456789abcdef"],"maintenance":{"action":"reboot"}}`, "is not a target group ARN"},
		{"duplicate arn", `{"instanceId":"i-0123456789abcdef0","targetGroupArns":["` + testARN + `","` + testARN + `"],"maintenance":{"action":"reboot"}}`, "listed twice"},
		{"no action", `{"instanceId":"i-0123456789abcdef0","maintenance":{}}`, `"maintenance.action" is required`},
		{"missing maintenance", `{"instanceId":"i-0123456789abcdef0"}`, `"maintenance.action" is required`},
		{"unknown action", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"restart"}}`, `"maintenance.action" "restart" is unknown`},
		{"commands without commands", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"commands"}}`, `needs at least one shell command`},
		{"blank command", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"commands","commands":["ls"," "]}}`, `"maintenance.commands[1]" is empty`},
		{"reboot with commands", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot","commands":["ls"]}}`, `"maintenance.commands" is not used by action "reboot"`},
		{"bad patch operation", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"patch","operation":"install"}}`, `must be "Install" or "Scan"`},
		{"bad reboot option", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"patch","rebootOption":"Always"}}`, `must be "RebootIfNeeded" or "NoReboot"`},
		{"bad document name", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"document","documentName":"a b"}}`, `must name an SSM document`},
		{"bad parameter name", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"document","documentName":"Doc","parameters":{"a b":["x"]}}}`, `invalid parameter name`},
		{"negative maintenance timeout", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot","timeoutSeconds":-1}}`, `"maintenance.timeoutSeconds" must be between`},
		{"negative drain timeout", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"timeouts":{"drainSeconds":-5}}`, `"timeouts.drainSeconds" must be between`},
		{"negative healthy timeout", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"timeouts":{"healthySeconds":-5}}`, `"timeouts.healthySeconds" must be between`},
		{"huge poll", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"pollSeconds":3600}`, `"pollSeconds" must be between`},
		{"health check without commands", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"healthCheck":{}}`, `"healthCheck.commands" needs at least one`},
		{"negative health check timeout", `{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"},"healthCheck":{"commands":["true"],"timeoutSeconds":-1}}`, `"healthCheck.timeoutSeconds" must be between`},
		{"several problems at once", `{"instanceId":"nope","maintenance":{"action":"x"}}`, `"instanceId" "nope" is not an EC2 instance id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInput([]byte(tt.input))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeInput: unexpected error %v", err)
				}
				return
			}
			var named *faults.Error
			if !errors.As(err, &named) || named.Name != faults.InvalidInput {
				t.Fatalf("DecodeInput error = %v, want %s", err, faults.InvalidInput)
			}
			if !strings.Contains(named.Message, tt.wantErr) {
				t.Errorf("message %q does not contain %q", named.Message, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeInput checks that no input panics, that every error is InvalidInput, and that
// an accepted input survives a round trip unchanged. Seeds are in testdata/fuzz.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(`{"instanceId":"i-0123456789abcdef0","maintenance":{"action":"reboot"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := DecodeInput(raw)
		if err != nil {
			var named *faults.Error
			if !errors.As(err, &named) || named.Name != faults.InvalidInput || named.Message == "" {
				t.Fatalf("error %v is not a named InvalidInput with a message", err)
			}
			return
		}
		if !instanceIDPattern.MatchString(in.InstanceID) {
			t.Fatalf("accepted instance id %q", in.InstanceID)
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeInput(again)
		if err != nil {
			t.Fatalf("re-encoded input %s rejected: %v", again, err)
		}
		if b, _ := json.Marshal(back); string(b) != string(again) {
			t.Fatalf("round trip changed the input:\n%s\n%s", again, b)
		}
	})
}
