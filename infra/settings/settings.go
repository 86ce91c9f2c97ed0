// Package settings owns the CDK app's configuration: the context keys read from cdk.json
// or -c key=value, their defaults, and their validation. Every bad value fails synth with
// a message naming the key and saying what to fix. It has no CDK dependency, so its tests
// are plain Go.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on every machine, offline

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/schema"
)

// Settings is the validated configuration.
type Settings struct {
	// TargetGroupARNs are the groups drainpipe may deregister from and register in; IAM
	// write permissions are limited to them.
	TargetGroupARNs []string
	// Schedules start the fleet state machine.
	Schedules []Schedule
	// DefaultAction is the maintenance action of a schedule whose input has none.
	DefaultAction string
	// NotificationEmails are subscribed to the failure topic.
	NotificationEmails []string
	// InstanceTagKey and InstanceTagValue: SendCommand is allowed only on instances
	// carrying this tag.
	InstanceTagKey, InstanceTagValue string
	// SSMDocuments are the documents, besides AWS-RunShellScript and AWS-RunPatchBaseline,
	// that the "document" action may send.
	SSMDocuments []string
	// LogRetentionDays applies to every log group.
	LogRetentionDays int
	// DashboardLoadBalancer ("app/NAME/ID") adds its RequestCount and 5XX count to the
	// dashboard; empty leaves them out.
	DashboardLoadBalancer string
	// AlarmLoadBalancer ("app/NAME/ID"), when set, gets the LoadBalancerAlarms, with
	// AlarmThresholds; every schedule whose input names no alarms watches them.
	AlarmLoadBalancer string
	AlarmThresholds   AlarmThresholds
	// FunctionsDir holds build/lambdas/<name>/bootstrap from make build.
	FunctionsDir string
	// Demo adds the DrainpipeDemo stack.
	Demo bool
	// DemoAllowedCIDR may reach the demo's load balancer on port 80.
	DemoAllowedCIDR string
	// NamePrefix starts every fixed physical name of the deployment (functions, state
	// machines, tables, topic, log groups, dashboard, schedules and their group, rules,
	// queues, key alias), so that two copies can live in one account and region.
	NamePrefix string
	// Account and Region, when set, make the stacks environment-specific; when empty
	// (the default) the templates are environment-agnostic: every ARN is built from
	// AWS::Partition, AWS::Region and AWS::AccountId and fits any account and region.
	Account, Region string
}

// AlarmThresholds are the thresholds of the load balancer's alarms, each over one
// minute: HTTPCode_ELB_5XX_Count and HTTPCode_Target_5XX_Count summed (at or above), and
// TargetResponseTime's p99 in seconds (above, two minutes running).
type AlarmThresholds struct {
	ELB5xxPerMinute     int     `json:"elb5xxPerMinute"`
	Target5xxPerMinute  int     `json:"target5xxPerMinute"`
	ResponseTimeSeconds float64 `json:"responseTimeSeconds"`
}

// DefaultAlarmThresholds: ten 5XX answers a minute, or a p99 over two seconds.
var DefaultAlarmThresholds = AlarmThresholds{ELB5xxPerMinute: 10, Target5xxPerMinute: 10, ResponseTimeSeconds: 2}

// AlarmNames are the deployed names of the load balancer's alarms (none without
// AlarmLoadBalancer).
func (s Settings) AlarmNames() []string {
	if s.AlarmLoadBalancer == "" {
		return nil
	}
	var out []string
	for _, which := range LoadBalancerAlarms {
		out = append(out, s.Names().Alarm(which))
	}
	return out
}

// Schedule is one EventBridge Scheduler schedule.
type Schedule struct {
	Name string
	// Cron is EventBridge's six fields: minutes hours day-of-month month day-of-week year.
	Cron     Cron
	TimeZone string
	// Input is the execution input, validated as the state machine's first step does.
	Input   json.RawMessage
	Enabled bool
}

// Cron holds the six fields of an EventBridge cron expression.
type Cron struct{ Minute, Hour, Day, Month, WeekDay, Year string }

func (c Cron) String() string {
	return fmt.Sprintf("cron(%s %s %s %s %s %s)", c.Minute, c.Hour, c.Day, c.Month, c.WeekDay, c.Year)
}

// Context keys.
const (
	KeyTargetGroupARNs       = "targetGroupArns"
	KeySchedules             = "schedules"
	KeyDefaultAction         = "defaultAction"
	KeyNotificationEmails    = "notificationEmails"
	KeyInstanceTag           = "instanceTag"
	KeySSMDocuments          = "ssmDocuments"
	KeyLogRetentionDays      = "logRetentionDays"
	KeyDashboardLoadBalancer = "dashboardLoadBalancer"
	KeyAlarmLoadBalancer     = "alarmLoadBalancer"
	KeyAlarmThresholds       = "alarmThresholds"
	KeyFunctionsDir          = "functionsDir"
	KeyDemo                  = "demo"
	KeyDemoAllowedCIDR       = "demoAllowedCidr"
	KeyNamePrefix            = "namePrefix"
	KeyAccount               = "account"
	KeyRegion                = "region"
)

// DefaultNamePrefix is the name prefix when the context sets none.
const DefaultNamePrefix = "drainpipe"

// Named kinds of settings error; Parse's error matches them with errors.Is.
var (
	// ErrNamePrefix: the name prefix has a character some resource name cannot have,
	// or makes a derived physical name longer than AWS allows.
	ErrNamePrefix = errors.New("invalid name prefix")
	// ErrEnvironmentMismatch: the target groups are in another account or region than
	// the stack's explicit one, or in more than one.
	ErrEnvironmentMismatch = errors.New("target groups outside the stack's account and region")
)

// Error lists every problem of the settings, by key.
type Error struct {
	Problems []string
	kinds    []error
}

func (e *Error) Error() string {
	return "drainpipe settings are not valid:\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap gives the named kinds (ErrNamePrefix, ErrEnvironmentMismatch) among the problems.
func (e *Error) Unwrap() []error { return e.kinds }

// Keys lists every context key the app reads.
var Keys = []string{KeyTargetGroupARNs, KeySchedules, KeyDefaultAction, KeyNotificationEmails, KeyInstanceTag,
	KeySSMDocuments, KeyLogRetentionDays, KeyDashboardLoadBalancer, KeyAlarmLoadBalancer, KeyAlarmThresholds, KeyFunctionsDir,
	KeyDemo, KeyDemoAllowedCIDR, KeyNamePrefix, KeyAccount, KeyRegion}

// Retention maps each number of days CloudWatch Logs accepts as a retention to the CDK's
// name for it: the one list the settings are checked against and the stack uses.
var Retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

var (
	loadBalancer = regexp.MustCompile(`^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
	scheduleName = regexp.MustCompile(`^[0-9a-zA-Z-_.]{1,64}$`)
	tagPart      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	documentName = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)
	namePrefix   = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	accountID    = regexp.MustCompile(`^[0-9]{12}$`)
	regionName   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Lookup returns a context value; ok is false when the key is not set.
type Lookup func(key string) (value any, ok bool)

// Parse reads and validates every key. Values may be JSON values (cdk.json) or strings
// (-c key=value on the command line, where lists and objects are JSON text).
func Parse(get Lookup) (Settings, error) {
	s := Settings{DefaultAction: workflow.ActionPatch, InstanceTagKey: "drainpipe", InstanceTagValue: "enabled",
		LogRetentionDays: 30, FunctionsDir: "build/lambdas", DemoAllowedCIDR: "0.0.0.0/0", NamePrefix: DefaultNamePrefix,
		AlarmThresholds: DefaultAlarmThresholds}
	var problems []string
	var kinds []error
	fail := func(key, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("context %q: %s", key, fmt.Sprintf(format, args...)))
	}
	failAs := func(kind error, key, format string, args ...any) {
		fail(key, format, args...)
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
	}

	if err := decode(get, KeyTargetGroupARNs, &s.TargetGroupARNs); err != nil {
		fail(KeyTargetGroupARNs, "%v", err)
	}
	if len(s.TargetGroupARNs) == 0 {
		fail(KeyTargetGroupARNs, "list the ARNs of the target groups drainpipe may change (IAM is limited to them), for example [\"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef\"]")
	}
	for i, arn := range s.TargetGroupARNs {
		if !workflow.IsTargetGroupARN(arn) {
			fail(KeyTargetGroupARNs, "[%d] %q is not a target group ARN", i, arn)
		}
	}
	if err := decode(get, KeyNamePrefix, &s.NamePrefix); err != nil {
		failAs(ErrNamePrefix, KeyNamePrefix, "%v", err)
	} else {
		for _, p := range PrefixProblems(s.NamePrefix) {
			failAs(ErrNamePrefix, KeyNamePrefix, "%s", p)
		}
	}
	if err := decode(get, KeyAccount, &s.Account); err != nil {
		fail(KeyAccount, "%v", err)
	} else if s.Account != "" && !accountID.MatchString(s.Account) {
		fail(KeyAccount, "%q is not an AWS account id (12 digits)", s.Account)
	}
	if err := decode(get, KeyRegion, &s.Region); err != nil {
		fail(KeyRegion, "%v", err)
	} else if s.Region != "" && !regionName.MatchString(s.Region) {
		fail(KeyRegion, "%q is not an AWS region name such as eu-west-1", s.Region)
	}
	if envs := groupEnvironments(s.TargetGroupARNs); len(envs) > 1 {
		failAs(ErrEnvironmentMismatch, KeyTargetGroupARNs, "the groups are in %s; drainpipe changes the groups of one account and region, the stack's: deploy one copy per account and region",
			strings.Join(envs, " and "))
	} else if len(envs) == 1 {
		account, region := s.TargetGroupAccount(), s.TargetGroupRegion()
		if s.Account != "" && s.Account != account {
			failAs(ErrEnvironmentMismatch, KeyAccount, "the stack's account is %s but the target groups are in account %s: drainpipe can only change groups in its own account", s.Account, account)
		}
		if s.Region != "" && s.Region != region {
			failAs(ErrEnvironmentMismatch, KeyRegion, "the stack's region is %s but the target groups are in %s: drainpipe can only change groups in its own region", s.Region, region)
		}
	}
	if err := decode(get, KeyDefaultAction, &s.DefaultAction); err != nil {
		fail(KeyDefaultAction, "%v", err)
	}
	if !slices.Contains(workflow.Actions, s.DefaultAction) {
		fail(KeyDefaultAction, "%q is not an action: use one of %v", s.DefaultAction, workflow.Actions)
	}
	if err := decode(get, KeyNotificationEmails, &s.NotificationEmails); err != nil {
		fail(KeyNotificationEmails, "%v", err)
	}
	for _, e := range s.NotificationEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			fail(KeyNotificationEmails, "%q is not an e-mail address", e)
		}
	}
	var tag struct{ Key, Value string }
	if err := decode(get, KeyInstanceTag, &tag); err != nil {
		fail(KeyInstanceTag, "%v", err)
	} else if tag.Key != "" || tag.Value != "" {
		s.InstanceTagKey, s.InstanceTagValue = tag.Key, tag.Value
		if !tagPart.MatchString(tag.Key) || !tagPart.MatchString(tag.Value) || strings.HasPrefix(tag.Key, "aws:") {
			fail(KeyInstanceTag, `needs {"key": ..., "value": ...}, each 1-128 characters of letters, digits, spaces and _.:/=+-@ (not aws:)`)
		}
	}
	if err := decode(get, KeySSMDocuments, &s.SSMDocuments); err != nil {
		fail(KeySSMDocuments, "%v", err)
	}
	for _, d := range s.SSMDocuments {
		if !documentName.MatchString(d) {
			fail(KeySSMDocuments, "%q is not an SSM document name", d)
		}
	}
	if err := decode(get, KeyLogRetentionDays, &s.LogRetentionDays); err != nil {
		fail(KeyLogRetentionDays, "%v", err)
	} else if _, ok := Retention[s.LogRetentionDays]; !ok {
		days := slices.Sorted(maps.Keys(Retention))
		fail(KeyLogRetentionDays, "%d is not a CloudWatch Logs retention; use one of %v", s.LogRetentionDays, days)
	}
	if err := decode(get, KeyDashboardLoadBalancer, &s.DashboardLoadBalancer); err != nil {
		fail(KeyDashboardLoadBalancer, "%v", err)
	} else if s.DashboardLoadBalancer != "" && !loadBalancer.MatchString(s.DashboardLoadBalancer) {
		fail(KeyDashboardLoadBalancer, "%q is not a load balancer's metric name: use app/NAME/ID, the end of its ARN", s.DashboardLoadBalancer)
	}
	if err := decode(get, KeyAlarmLoadBalancer, &s.AlarmLoadBalancer); err != nil {
		fail(KeyAlarmLoadBalancer, "%v", err)
	} else if s.AlarmLoadBalancer != "" && !loadBalancer.MatchString(s.AlarmLoadBalancer) {
		fail(KeyAlarmLoadBalancer, "%q is not a load balancer's metric name: use app/NAME/ID, the end of its ARN", s.AlarmLoadBalancer)
	}
	if err := decode(get, KeyAlarmThresholds, &s.AlarmThresholds); err != nil {
		fail(KeyAlarmThresholds, "%v", err)
	} else if t := s.AlarmThresholds; t.ELB5xxPerMinute < 1 || t.Target5xxPerMinute < 1 || t.ResponseTimeSeconds <= 0 || t.ResponseTimeSeconds > 60 {
		fail(KeyAlarmThresholds, "%+v: the 5XX counts must be at least 1 a minute, and responseTimeSeconds above 0 and at most 60 (the idle timeout's default)", t)
	}
	if err := decode(get, KeyFunctionsDir, &s.FunctionsDir); err != nil {
		fail(KeyFunctionsDir, "%v", err)
	}
	if err := decode(get, KeyDemo, &s.Demo); err != nil {
		fail(KeyDemo, "%v", err)
	}
	if err := decode(get, KeyDemoAllowedCIDR, &s.DemoAllowedCIDR); err != nil {
		fail(KeyDemoAllowedCIDR, "%v", err)
	} else if p, err := netip.ParsePrefix(s.DemoAllowedCIDR); err != nil || !p.Addr().Is4() {
		fail(KeyDemoAllowedCIDR, "%q is not an IPv4 CIDR such as 203.0.113.7/32", s.DemoAllowedCIDR)
	}
	var raw []struct {
		Name     string          `json:"name"`
		Cron     string          `json:"cron"`
		TimeZone string          `json:"timezone"`
		Input    json.RawMessage `json:"input"`
		Enabled  *bool           `json:"enabled"`
	}
	if err := decode(get, KeySchedules, &raw); err != nil {
		fail(KeySchedules, "%v", err)
	}
	names := map[string]bool{}
	for i, r := range raw {
		where := fmt.Sprintf("[%d] %q", i, r.Name)
		if !scheduleName.MatchString(r.Name) || names[r.Name] {
			fail(KeySchedules, "%s: needs a unique name of 1-64 letters, digits, - _ .", where)
		} else if full := (Names{Prefix: s.NamePrefix}).Schedule(r.Name); len(full) > MaxScheduleName {
			fail(KeySchedules, "%s: the schedule's name %q is %d characters; EventBridge Scheduler allows %d: shorten the name or %q",
				where, full, len(full), MaxScheduleName, KeyNamePrefix)
		}
		names[r.Name] = true
		cron, err := ParseCron(r.Cron)
		if err != nil {
			fail(KeySchedules, "%s: %v", where, err)
		}
		tz := r.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		if _, err := time.LoadLocation(tz); err != nil {
			fail(KeySchedules, "%s: time zone %q is unknown; use an IANA name such as Europe/London", where, tz)
		}
		input, err := scheduleInput(r.Input, s.DefaultAction, s.TargetGroupARNs, s.AlarmNames())
		if err != nil {
			fail(KeySchedules, "%s: input: %v", where, err)
		}
		s.Schedules = append(s.Schedules, Schedule{Name: r.Name, Cron: cron, TimeZone: tz, Input: input, Enabled: r.Enabled == nil || *r.Enabled})
	}
	if len(problems) > 0 {
		return Settings{}, &Error{Problems: problems, kinds: kinds}
	}
	return s, nil
}

// Names are the deployment's fixed physical names.
func (s Settings) Names() Names { return Names{Prefix: s.NamePrefix} }

// TargetGroupAccount and TargetGroupRegion are the account and region of the target
// groups (all in one, which Parse checks).
func (s Settings) TargetGroupAccount() string { return arnField(s.TargetGroupARNs[0], 4) }

// TargetGroupRegion: see TargetGroupAccount.
func (s Settings) TargetGroupRegion() string { return arnField(s.TargetGroupARNs[0], 3) }

// arnField is the i-th colon-separated field of an ARN: 3 is the region, 4 the account.
func arnField(arn string, i int) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[i]
}

// groupEnvironments lists the distinct "account ACCOUNT, region REGION" of well-formed
// target group ARNs.
func groupEnvironments(arns []string) []string {
	var envs []string
	for _, arn := range arns {
		if !workflow.IsTargetGroupARN(arn) {
			continue
		}
		env := fmt.Sprintf("account %s, region %s", arnField(arn, 4), arnField(arn, 3))
		if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	return envs
}

// decode reads a key into v; an absent key leaves v (its default) as it is.
func decode(get Lookup, key string, v any) error {
	value, ok := get(key)
	if !ok || value == nil {
		return nil
	}
	var raw []byte
	switch t := value.(type) {
	case string:
		if _, isString := v.(*string); isString {
			raw, _ = json.Marshal(t)
		} else {
			raw = []byte(t) // -c key=[...] or key=true arrives as text
		}
	default:
		raw, _ = json.Marshal(t)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("cannot read %s as %s", strconv.Quote(string(raw)), describe(v))
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case *[]string:
		return "a list of strings"
	case *bool:
		return "true or false"
	case *int:
		return "a number"
	case *string:
		return "a string"
	default:
		return "the documented shape"
	}
}

// scheduleInput fills the default action, the configured target groups and the load
// balancer's alarms (when the app creates them) into a schedule's input (a fleet
// rollout's), where it does not set them, and validates it as the first step will, and
// against the fleet input's schema.
func scheduleInput(raw json.RawMessage, defaultAction string, groups, alarms []string) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf(`needs the fleet rollout's input as a JSON object, for example {"maxConcurrency": 2, "minHealthyPercent": 75}`)
	}
	if _, ok := m["maintenance"]; !ok {
		m["maintenance"] = map[string]any{"action": defaultAction}
	}
	if _, ok := m["targetGroupArns"]; !ok {
		m["targetGroupArns"] = groups
	}
	if _, ok := m["alarms"]; !ok && len(alarms) > 0 {
		m["alarms"] = map[string]any{"names": alarms}
	}
	out, _ := json.Marshal(m)
	if _, err := rollout.DecodeInput(out); err != nil {
		return nil, err
	}
	// And against the published schema, which tools and people read (a test holds the
	// two to the same answers; this catches any drift at synth).
	if err := schema.Validate(schema.FleetInput, out); err != nil {
		return nil, fmt.Errorf("does not match %s: %v", schema.FleetInput, err)
	}
	return out, nil
}

var cronField = regexp.MustCompile(`^[0-9A-Za-z*?,/\-#L W]+$`)

// ParseCron reads an EventBridge cron expression: "cron(0 3 ? * SUN *)" or its six
// fields alone.
func ParseCron(expr string) (Cron, error) {
	body := strings.TrimSpace(expr)
	if inner, ok := strings.CutPrefix(body, "cron("); ok {
		body = strings.TrimSuffix(inner, ")")
	}
	f := strings.Fields(body)
	if len(f) != 6 {
		return Cron{}, fmt.Errorf("cron %q needs six fields (minutes hours day-of-month month day-of-week year), for example cron(0 3 ? * SUN *)", expr)
	}
	for _, field := range f {
		if !cronField.MatchString(field) {
			return Cron{}, fmt.Errorf("cron %q: field %q has characters a cron field cannot have", expr, field)
		}
	}
	if (f[2] == "?") == (f[4] == "?") {
		return Cron{}, fmt.Errorf("cron %q: exactly one of day-of-month and day-of-week must be ?", expr)
	}
	for i, limit := range map[int][2]int{0: {0, 59}, 1: {0, 23}} {
		for _, part := range strings.FieldsFunc(f[i], func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
			if part == "*" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil || n < limit[0] || n > limit[1] {
				return Cron{}, fmt.Errorf("cron %q: %q is out of range %d-%d", expr, f[i], limit[0], limit[1])
			}
		}
	}
	return Cron{Minute: f[0], Hour: f[1], Day: f[2], Month: f[3], WeekDay: f[4], Year: f[5]}, nil
}
