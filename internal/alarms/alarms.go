// Package alarms owns the alarm gate: whether a CloudWatch alarm an input names is in
// ALARM now, or went into ALARM since a time (a rollout's bake), read with DescribeAlarms
// and DescribeAlarmHistory, metric and composite alarms alike. check-instance runs it
// before an instance is taken out, next-wave before each wave.
package alarms

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// API is the part of the CloudWatch client the gate uses.
type API interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	DescribeAlarmHistory(ctx context.Context, in *cloudwatch.DescribeAlarmHistoryInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error)
}

// Gate checks alarms.
type Gate struct {
	CW  API
	Now clock.Clock
}

// New makes the gate's client from an AWS config.
func New(cfg aws.Config) Gate { return Gate{CW: cloudwatch.NewFromConfig(cfg)} }

// both: DescribeAlarms and DescribeAlarmHistory return metric alarms only unless asked.
var both = []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}

// Check refuses with AlarmActive while an alarm of w is in ALARM, and, when since is set,
// when one went into ALARM after since, even if it is back to OK now (a short spike during
// a bake still counts). It refuses with AlarmNotFound when a named alarm does not exist or
// the prefix matches none: a gate that watches nothing must not pass for one that holds.
// A nil w passes.
func (g Gate) Check(ctx context.Context, w *workflow.Alarms, since time.Time) error {
	if w == nil {
		return nil
	}
	states := map[string]cwtypes.StateValue{}
	var active []string
	describe := func(in *cloudwatch.DescribeAlarmsInput) error {
		pages := cloudwatch.NewDescribeAlarmsPaginator(g.CW, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describing alarms: %w", err)
			}
			see := func(name string, state cwtypes.StateValue, at *time.Time, reason string) {
				if _, dup := states[name]; dup {
					return
				}
				states[name] = state
				if state == cwtypes.StateValueAlarm {
					active = append(active, fmt.Sprintf("%s (in ALARM since %s: %s)", name, aws.ToTime(at).UTC().Format(time.RFC3339), reason))
				}
			}
			for _, a := range page.MetricAlarms {
				see(aws.ToString(a.AlarmName), a.StateValue, a.StateUpdatedTimestamp, aws.ToString(a.StateReason))
			}
			for _, a := range page.CompositeAlarms {
				see(aws.ToString(a.AlarmName), a.StateValue, a.StateUpdatedTimestamp, aws.ToString(a.StateReason))
			}
		}
		return nil
	}
	if names := w.Gated(); len(names) > 0 {
		if err := describe(&cloudwatch.DescribeAlarmsInput{AlarmNames: names, AlarmTypes: both}); err != nil {
			return err
		}
		var missing []string
		for _, n := range names {
			if _, ok := states[n]; !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return faults.New(faults.AlarmNotFound, "no CloudWatch alarm named %s in this account and region: a gate on an alarm that does not exist would never hold", strings.Join(missing, ", "))
		}
	}
	if w.NamePrefix != "" {
		if err := describe(&cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: &w.NamePrefix, AlarmTypes: both}); err != nil {
			return err
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(states)), func(n string) bool { return strings.HasPrefix(n, w.NamePrefix) }) {
			return faults.New(faults.AlarmNotFound, "no CloudWatch alarm's name starts with %q in this account and region", w.NamePrefix)
		}
	}
	if len(active) > 0 {
		slices.Sort(active)
		return faults.New(faults.AlarmActive, "%d alarm(s) in ALARM: %s; nothing more is taken out until they are OK", len(active), strings.Join(active, "; "))
	}
	if since.IsZero() {
		return nil
	}
	fired, err := g.firedSince(ctx, states, since)
	if err != nil {
		return err
	}
	if len(fired) > 0 {
		return faults.New(faults.AlarmActive, "%d alarm(s) went into ALARM during the bake, since %s: %s; they are OK now, but the rollout stops",
			len(fired), since.UTC().Format(time.RFC3339), strings.Join(fired, "; "))
	}
	return nil
}

// firedSince lists the watched alarms that went into ALARM after since, by their history
// of state updates: one paginated call for every alarm, filtered here.
func (g Gate) firedSince(ctx context.Context, watched map[string]cwtypes.StateValue, since time.Time) ([]string, error) {
	now := g.Now.Now()
	in := &cloudwatch.DescribeAlarmHistoryInput{AlarmTypes: both, HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		StartDate: aws.Time(since), EndDate: aws.Time(now.Add(time.Minute))}
	pages := cloudwatch.NewDescribeAlarmHistoryPaginator(g.CW, in)
	seen := map[string]bool{}
	var fired []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the alarms' history: %w", err)
		}
		for _, item := range page.AlarmHistoryItems {
			name := aws.ToString(item.AlarmName)
			if _, ok := watched[name]; !ok || seen[name] || aws.ToTime(item.Timestamp).Before(since) {
				continue
			}
			var data struct {
				NewState struct {
					StateValue string `json:"stateValue"`
				} `json:"newState"`
			}
			if json.Unmarshal([]byte(aws.ToString(item.HistoryData)), &data) != nil || data.NewState.StateValue != string(cwtypes.StateValueAlarm) {
				continue
			}
			seen[name] = true
			fired = append(fired, fmt.Sprintf("%s at %s", name, aws.ToTime(item.Timestamp).UTC().Format(time.RFC3339)))
		}
	}
	slices.Sort(fired)
	return fired, nil
}
