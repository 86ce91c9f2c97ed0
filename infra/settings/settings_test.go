package settings

import (
	"strings"
	"testing"
)

const arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"

func ctx(m map[string]any) Lookup {
	return func(k string) (any, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	base := func() map[string]any { return map[string]any{KeyTargetGroupARNs: []any{arn}} }
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	schedule := func(fields map[string]any) map[string]any {
		s := map[string]any{"name": "weekly", "cron": "cron(0 3 ? * SUN *)", "timezone": "Europe/London", "input": map[string]any{"maxConcurrency": 2}}
		for k, v := range fields {
			s[k] = v
		}
		return with(KeySchedules, []any{s})
	}
	tests := []struct {
		name    string
		context map[string]any
		wantErr string
		check   func(t *testing.T, s Settings)
	}{
		{name: "defaults", context: base(), check: func(t *testing.T, s Settings) {
			if s.DefaultAction != "patch" || s.LogRetentionDays != 30 || s.InstanceTagKey != "drainpipe" || s.FunctionsDir != "build/lambdas" || s.Demo {
				t.Errorf("defaults %+v", s)
			}
		}},
		{name: "command-line strings", context: map[string]any{KeyTargetGroupARNs: `["` + arn + `"]`, KeyDemo: "true", KeyLogRetentionDays: "90", KeyDefaultAction: "reboot"},
			check: func(t *testing.T, s Settings) {
				if len(s.TargetGroupARNs) != 1 || !s.Demo || s.LogRetentionDays != 90 || s.DefaultAction != "reboot" {
					t.Errorf("parsed %+v", s)
				}
			}},
		{name: "schedule gets the default action", context: schedule(nil), check: func(t *testing.T, s Settings) {
			sc := s.Schedules[0]
			if sc.Cron.String() != "cron(0 3 ? * SUN *)" || sc.TimeZone != "Europe/London" || !sc.Enabled || !strings.Contains(string(sc.Input), `"action":"patch"`) ||
				!strings.Contains(string(sc.Input), arn) {
				t.Errorf("schedule %+v input %s", sc, sc.Input)
			}
		}},
		{name: "disabled schedule, bare cron", context: schedule(map[string]any{"cron": "30 2 1 * ? *", "enabled": false}), check: func(t *testing.T, s Settings) {
			if s.Schedules[0].Enabled || s.Schedules[0].Cron.Day != "1" {
				t.Errorf("schedule %+v", s.Schedules[0])
			}
		}},
		{name: "no target groups", context: map[string]any{}, wantErr: `"targetGroupArns": list the ARNs`},
		{name: "malformed ARN", context: with(KeyTargetGroupARNs, []any{"arn:aws:ec2:eu-west-1:123456789012:instance/i-1"}), wantErr: "is not a target group ARN"},
		{name: "ARNs not a list", context: with(KeyTargetGroupARNs, 42), wantErr: "as a list of strings"},
		{name: "unknown action", context: with(KeyDefaultAction, "restart"), wantErr: `"restart" is not an action`},
		{name: "bad e-mail", context: with(KeyNotificationEmails, []any{"ops at example.com"}), wantErr: "is not an e-mail address"},
		{name: "bad retention", context: with(KeyLogRetentionDays, 31), wantErr: "31 is not a CloudWatch Logs retention"},
		{name: "bad load balancer", context: with(KeyDashboardLoadBalancer, "my-alb"), wantErr: "use app/NAME/ID"},
		{name: "bad tag", context: with(KeyInstanceTag, map[string]any{"key": "aws:secret", "value": "x"}), wantErr: `"instanceTag"`},
		{name: "bad document", context: with(KeySSMDocuments, []any{"a b"}), wantErr: "is not an SSM document name"},
		{name: "cron with five fields", context: schedule(map[string]any{"cron": "0 3 * * SUN"}), wantErr: "needs six fields"},
		{name: "cron with both days", context: schedule(map[string]any{"cron": "cron(0 3 1 * SUN *)"}), wantErr: "exactly one of day-of-month and day-of-week must be ?"},
		{name: "cron hour out of range", context: schedule(map[string]any{"cron": "cron(0 25 ? * SUN *)"}), wantErr: "out of range 0-23"},
		{name: "unknown time zone", context: schedule(map[string]any{"timezone": "Mars/Olympus"}), wantErr: `time zone "Mars/Olympus" is unknown`},
		{name: "schedule input invalid", context: schedule(map[string]any{"input": map[string]any{"maxConcurrency": -1}}), wantErr: `"maxConcurrency" must be between`},
		{name: "schedule input with an unknown field", context: schedule(map[string]any{"input": map[string]any{"instanceId": "i-0123456789abcdef0"}}), wantErr: `unknown field "instanceId"`},
		{name: "schedule input not an object", context: schedule(map[string]any{"input": []any{1}}), wantErr: "needs the fleet rollout's input as a JSON object"},
		{name: "bad demo CIDR", context: with(KeyDemoAllowedCIDR, "203.0.113.7"), wantErr: "is not an IPv4 CIDR"},
		{name: "bad schedule name", context: schedule(map[string]any{"name": "every sunday"}), wantErr: "needs a unique name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(ctx(tt.context))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}
