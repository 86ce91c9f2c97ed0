package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/internal/faults"
)

func TestDecodeInput(t *testing.T) {
	ok := `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxConcurrency":2,"minHealthyPercent":75,"maxErrors":1,"notAfter":"2026-11-22T06:00:00Z","skipIfMaintainedWithin":"7d"}`
	tests := []struct {
		name, input, wantErr string
	}{
		{"valid", ok, ""},
		{"no groups", `{"maintenance":{"action":"patch"}}`, `"targetGroupArns" is required`},
		{"unknown field", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceId":"i-1"}`, `unknown field "instanceId"`},
		{"percent", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"minHealthyPercent":120}`, `"minHealthyPercent" must be between 0 and 100`},
		{"negative errors", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxErrors":-1}`, `"maxErrors" must be between 0 and 2147483647`},
		{"window", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"notAfter":"tomorrow"}`, `"notAfter" "tomorrow" is not an RFC 3339 time`},
		{"resume", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"skipIfMaintainedWithin":"a week"}`, `is not a duration`},
		{"maintenance checked as the instance machine does", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"restart"}}`, `"maintenance.action" "restart" is unknown`},
		{"bad instance", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"instanceIds":["x"]}`, `is not an EC2 instance id`},
		{"wider than an inline Map", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"maxConcurrency":41}`, `"maxConcurrency" must be between 1 and 40`},
		{"capacity wait", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"capacityWaitSeconds":-1}`, `"capacityWaitSeconds" must be between 0 and`},
		{"children's history", `{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"},"pollSeconds":1}`, `raise "pollSeconds" to at least`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeInput([]byte(tt.input))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := in.Budget(); b.MaxConcurrency != 2 || b.MinHealthyPercent != 75 || in.MaintainedWithin() != 7*24*time.Hour {
					t.Errorf("budget %+v, within %v", b, in.MaintainedWithin())
				}
				return
			}
			if faults.NameOf(err) != faults.InvalidInput || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want InvalidInput with %q", err, tt.wantErr)
			}
		})
	}
	in, _ := DecodeInput([]byte(`{"targetGroupArns":["` + web + `"],"maintenance":{"action":"reboot"}}`))
	if b := in.Budget(); b.MaxConcurrency != 1 || b.MinHealthyPercent != DefaultMinHealthyPercent {
		t.Errorf("defaults %+v", b)
	}
	child := in.ChildInput(id(1), []string{web}, map[string]int{web: 3})
	if err := child.Validate(); err != nil || child.MinHealthyTargets[web] != 3 || child.TargetGroupARNs[0] != web || child.CapacityWaitSeconds != DefaultCapacityWaitSeconds {
		t.Errorf("child input %+v: %v", child, err)
	}
}

// validName is Step Functions' rule for execution names.
var validName = regexp.MustCompile("^[^\\s<>{}\\[\\]?*\"#%\\\\^|~`$&,;:/]{1,80}$")

func TestNames(t *testing.T) {
	long := strings.Repeat("weekly-patch-", 6) // 78 characters
	for _, rollout := range []string{"weekly", long, long + "x", "1b4c1c9e-7c07-4a6e-8a4c-2f2f2f2f2f2f"} {
		child := ChildName(rollout, "i-0123456789abcdef0")
		if !validName.MatchString(child) || !strings.HasSuffix(child, "-i-0123456789abcdef0") || ChildName(rollout, "i-0123456789abcdef0") != child {
			t.Errorf("ChildName(%q) = %q (%d characters)", rollout, child, len(child))
		}
		if part := ContinuationName(rollout, 12); !validName.MatchString(part) || !strings.HasSuffix(part, "-part-12") {
			t.Errorf("ContinuationName(%q) = %q", rollout, part)
		}
	}
	if ChildName(long, "i-1") == ChildName(long+"x", "i-1") {
		t.Error("two long rollout names that differ at the end give the same child name")
	}
	if got, want := EstimateEvents(2, 1), partEvents+2*waveEvents+3*childEvents; got != want {
		t.Errorf("EstimateEvents = %d, want %d", got, want)
	}
	if ExecutionARN("arn:aws:states:eu-west-1:1:stateMachine:m", "n") != "arn:aws:states:eu-west-1:1:execution:m:n" {
		t.Error("ExecutionARN")
	}
}

const (
	web = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
)

func id(n int) string { return fmt.Sprintf("i-%017d", n) }

// FuzzDecodeInput checks that no fleet input panics, that every error is a named
// InvalidInput with a message, and that an accepted input survives a round trip and
// yields children the instance state machine accepts. Seeds are in testdata/fuzz.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(`{"targetGroupArns":["` + web + `"],"maintenance":{"action":"patch"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := DecodeInput(raw)
		if err != nil {
			var named *faults.Error
			if !errors.As(err, &named) || named.Name != faults.InvalidInput || named.Message == "" {
				t.Fatalf("error %v is not a named InvalidInput with a message", err)
			}
			return
		}
		if len(in.TargetGroupARNs) == 0 {
			t.Fatal("accepted a rollout with no target groups")
		}
		child := in.ChildInput("i-0123456789abcdef0", in.TargetGroupARNs, nil)
		if err := child.Validate(); err != nil {
			t.Fatalf("accepted input makes a child the instance machine refuses: %v", err)
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
