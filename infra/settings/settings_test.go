package settings

import (
	"errors"
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
		{name: "no alarm load balancer: no alarms, none watched", context: schedule(nil), check: func(t *testing.T, s Settings) {
			if s.AlarmNames() != nil || strings.Contains(string(s.Schedules[0].Input), "alarms") {
				t.Errorf("alarms %v, input %s", s.AlarmNames(), s.Schedules[0].Input)
			}
		}},
		{name: "alarms on the load balancer, watched by default", context: func() map[string]any {
			m := schedule(nil)
			m[KeyAlarmLoadBalancer] = "app/web/0123456789abcdef"
			return m
		}(), check: func(t *testing.T, s Settings) {
			want := `"alarms":{"names":["drainpipe-alb-elb-5xx","drainpipe-alb-target-5xx","drainpipe-alb-response-time"]}`
			if s.AlarmThresholds != DefaultAlarmThresholds || !strings.Contains(string(s.Schedules[0].Input), want) {
				t.Errorf("thresholds %+v, input %s", s.AlarmThresholds, s.Schedules[0].Input)
			}
		}},
		{name: "a schedule naming its own alarms keeps them", context: func() map[string]any {
			m := schedule(map[string]any{"input": map[string]any{"alarms": map[string]any{"namePrefix": "payments-"}, "bakeSeconds": 300}})
			m[KeyAlarmLoadBalancer] = "app/web/0123456789abcdef"
			m[KeyAlarmThresholds] = map[string]any{"elb5xxPerMinute": 1, "target5xxPerMinute": 50, "responseTimeSeconds": 0.5}
			return m
		}(), check: func(t *testing.T, s Settings) {
			if in := string(s.Schedules[0].Input); !strings.Contains(in, `"alarms":{"namePrefix":"payments-"}`) || strings.Contains(in, "drainpipe-alb") ||
				s.AlarmThresholds != (AlarmThresholds{ELB5xxPerMinute: 1, Target5xxPerMinute: 50, ResponseTimeSeconds: 0.5}) {
				t.Errorf("thresholds %+v, input %s", s.AlarmThresholds, in)
			}
		}},
		{name: "bad alarm load balancer", context: with(KeyAlarmLoadBalancer, "web"), wantErr: `"alarmLoadBalancer": "web" is not a load balancer's metric name`},
		{name: "bad alarm thresholds", context: with(KeyAlarmThresholds, map[string]any{"elb5xxPerMinute": 0, "target5xxPerMinute": 10, "responseTimeSeconds": 2}),
			wantErr: `"alarmThresholds"`},
		{name: "a schedule's alarms invalid", context: schedule(map[string]any{"input": map[string]any{"alarms": map[string]any{}}}), wantErr: `"alarms" names no alarm`},
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
		{name: "default prefix and environment", context: base(), check: func(t *testing.T, s Settings) {
			if s.NamePrefix != "drainpipe" || s.Account != "" || s.Region != "" || s.TargetGroupAccount() != "123456789012" || s.TargetGroupRegion() != "eu-west-1" {
				t.Errorf("prefix %q, account %q, region %q, groups in %s %s", s.NamePrefix, s.Account, s.Region, s.TargetGroupAccount(), s.TargetGroupRegion())
			}
		}},
		{name: "explicit environment of the groups", context: with(KeyRegion, "eu-west-1"), check: func(t *testing.T, s Settings) {
			if s.Region != "eu-west-1" {
				t.Errorf("region %q", s.Region)
			}
		}},
		{name: "prefix of 44 characters", context: with(KeyNamePrefix, strings.Repeat("a", 44)), check: func(t *testing.T, s Settings) {
			if got := s.Names().Function("check-target-health"); len(got) != 64 {
				t.Errorf("longest function name %q (%d characters)", got, len(got))
			}
		}},
		{name: "prefix of 45 characters", context: with(KeyNamePrefix, strings.Repeat("a", 45)),
			wantErr: `makes the Lambda function name "` + strings.Repeat("a", 45) + `-check-target-health" 65 characters long; AWS allows 64: use a prefix of at most 44 characters`},
		{name: "prefix with capitals", context: with(KeyNamePrefix, "Blue"), wantErr: `"Blue" is not a name prefix`},
		{name: "prefix with an underscore", context: with(KeyNamePrefix, "blue_green"), wantErr: `"blue_green" is not a name prefix`},
		{name: "prefix ending with a hyphen", context: with(KeyNamePrefix, "blue-"), wantErr: `"blue-" is not a name prefix`},
		{name: "empty prefix", context: with(KeyNamePrefix, ""), wantErr: `"" is not a name prefix`},
		{name: "prefix default", context: with(KeyNamePrefix, "default"), wantErr: "every account's own schedule group"},
		{name: "schedule name too long with the prefix", context: func() map[string]any {
			m := schedule(map[string]any{"name": strings.Repeat("w", 60)})
			m[KeyNamePrefix] = "blue"
			return m
		}(), wantErr: `the schedule's name "blue-` + strings.Repeat("w", 60) + `" is 65 characters; EventBridge Scheduler allows 64`},
		{name: "bad account", context: with(KeyAccount, "12345"), wantErr: `"12345" is not an AWS account id`},
		{name: "bad region", context: with(KeyRegion, "Ireland"), wantErr: `"Ireland" is not an AWS region name`},
		{name: "groups in another region", context: with(KeyRegion, "us-east-1"),
			wantErr: `the stack's region is us-east-1 but the target groups are in eu-west-1`},
		{name: "groups in another account", context: with(KeyAccount, "210987654321"),
			wantErr: `the stack's account is 210987654321 but the target groups are in account 123456789012`},
		{name: "groups in two regions", context: with(KeyTargetGroupARNs, []any{arn, strings.Replace(arn, "eu-west-1", "eu-central-1", 1)}),
			wantErr: `the groups are in account 123456789012, region eu-west-1 and account 123456789012, region eu-central-1`},
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

// TestNamedErrors: a bad prefix and a mismatched environment fail with their named
// errors (errors.Is), among the other problems.
func TestNamedErrors(t *testing.T) {
	for _, tt := range []struct {
		context map[string]any
		want    error
	}{
		{map[string]any{KeyTargetGroupARNs: []any{arn}, KeyNamePrefix: strings.Repeat("x", 50)}, ErrNamePrefix},
		{map[string]any{KeyTargetGroupARNs: []any{arn}, KeyNamePrefix: "x y"}, ErrNamePrefix},
		{map[string]any{KeyTargetGroupARNs: []any{arn}, KeyRegion: "us-west-2", KeyDefaultAction: "restart"}, ErrEnvironmentMismatch},
		{map[string]any{KeyTargetGroupARNs: []any{arn}, KeyAccount: "111111111111"}, ErrEnvironmentMismatch},
	} {
		_, err := Parse(ctx(tt.context))
		if !errors.Is(err, tt.want) {
			t.Errorf("%v: error %v, want %v", tt.context, err, tt.want)
		}
	}
	if _, err := Parse(ctx(map[string]any{KeyTargetGroupARNs: []any{"nope"}})); errors.Is(err, ErrNamePrefix) || errors.Is(err, ErrEnvironmentMismatch) {
		t.Errorf("a bad ARN alone is %v", err)
	}
}

// TestEveryNameFitsAtTheLongestPrefix: at the longest prefix Parse accepts, every name
// is within AWS's limit, and one of them is exactly at it.
func TestEveryNameFitsAtTheLongestPrefix(t *testing.T) {
	prefix := strings.Repeat("p", 44)
	if problems := PrefixProblems(prefix); problems != nil {
		t.Fatal(problems)
	}
	atLimit := false
	for _, n := range (Names{Prefix: prefix}).AllNames() {
		if len(n.Value) > n.Max {
			t.Errorf("%s %q: %d > %d", n.Kind, n.Value, len(n.Value), n.Max)
		}
		atLimit = atLimit || len(n.Value) == n.Max
		if !strings.Contains(n.Value, prefix) {
			t.Errorf("%s %q does not carry the prefix", n.Kind, n.Value)
		}
	}
	if !atLimit {
		t.Error("no name is at its limit: 44 is not the longest prefix")
	}
}
