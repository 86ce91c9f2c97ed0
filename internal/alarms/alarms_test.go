package alarms

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

type alarm struct {
	state     cwtypes.StateValue
	composite bool
}

// fake answers as CloudWatch does, two alarms or history items a page: metric alarms only
// unless AlarmTypes asks for composite ones too.
type fake struct {
	alarms  map[string]alarm
	history []cwtypes.AlarmHistoryItem
	err     error
	calls   int
}

func page[T any](items []T, token *string) ([]T, *string) {
	from := 0
	if token != nil {
		from, _ = strconv.Atoi(*token)
	}
	to := min(from+2, len(items))
	if to < len(items) {
		return items[from:to], aws.String(strconv.Itoa(to))
	}
	return items[from:to], nil
}

func wants(types []cwtypes.AlarmType, composite bool) bool {
	want := cwtypes.AlarmTypeMetricAlarm
	if composite {
		want = cwtypes.AlarmTypeCompositeAlarm
	}
	for _, t := range types {
		if t == want {
			return true
		}
	}
	return !composite && len(types) == 0
}

func (f *fake) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != nil {
		return nil, errors.New("InvalidParameterCombination")
	}
	var names []string
	for _, n := range slices.Sorted(maps.Keys(f.alarms)) {
		named := len(in.AlarmNames) == 0 || slices.Contains(in.AlarmNames, n)
		prefixed := in.AlarmNamePrefix == nil || strings.HasPrefix(n, *in.AlarmNamePrefix)
		if named && prefixed && wants(in.AlarmTypes, f.alarms[n].composite) {
			names = append(names, n)
		}
	}
	got, next := page(names, in.NextToken)
	out := &cloudwatch.DescribeAlarmsOutput{NextToken: next}
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, n := range got {
		a := f.alarms[n]
		if a.composite {
			out.CompositeAlarms = append(out.CompositeAlarms, cwtypes.CompositeAlarm{AlarmName: aws.String(n), StateValue: a.state, StateUpdatedTimestamp: &at, StateReason: aws.String("reason " + n)})
		} else {
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(n), StateValue: a.state, StateUpdatedTimestamp: &at, StateReason: aws.String("reason " + n)})
		}
	}
	return out, nil
}

func (f *fake) DescribeAlarmHistory(_ context.Context, in *cloudwatch.DescribeAlarmHistoryInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	f.calls++
	var items []cwtypes.AlarmHistoryItem
	for _, item := range f.history {
		composite := item.AlarmType == cwtypes.AlarmTypeCompositeAlarm
		if item.HistoryItemType == in.HistoryItemType && !item.Timestamp.Before(*in.StartDate) && !item.Timestamp.After(*in.EndDate) && wants(in.AlarmTypes, composite) {
			items = append(items, item)
		}
	}
	got, next := page(items, in.NextToken)
	return &cloudwatch.DescribeAlarmHistoryOutput{AlarmHistoryItems: got, NextToken: next}, nil
}

func update(name string, at time.Time, from, to string, composite bool) cwtypes.AlarmHistoryItem {
	t := cwtypes.AlarmTypeMetricAlarm
	if composite {
		t = cwtypes.AlarmTypeCompositeAlarm
	}
	return cwtypes.AlarmHistoryItem{AlarmName: aws.String(name), AlarmType: t, Timestamp: aws.Time(at), HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		HistoryData: aws.String(fmt.Sprintf(`{"version":"1.0","oldState":{"stateValue":%q},"newState":{"stateValue":%q}}`, from, to))}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	bake := now.Add(-5 * time.Minute)
	fleet := map[string]alarm{
		"web-5xx": {state: cwtypes.StateValueOk}, "web-latency": {state: cwtypes.StateValueOk}, "web-target-5xx": {state: cwtypes.StateValueInsufficientData},
		"db-cpu": {state: cwtypes.StateValueAlarm}, "web-composite": {state: cwtypes.StateValueOk, composite: true},
		"api-composite": {state: cwtypes.StateValueAlarm, composite: true},
	}
	tests := []struct {
		name    string
		watch   *workflow.Alarms
		since   time.Time
		history []cwtypes.AlarmHistoryItem
		err     error
		fault   string // the named error, "" for none
		says    []string
	}{
		{name: "no alarms named", watch: nil},
		{name: "named, all OK or without data", watch: &workflow.Alarms{Names: []string{"web-5xx", "web-target-5xx", "web-composite"}}},
		{name: "a metric alarm in ALARM", watch: &workflow.Alarms{Names: []string{"web-5xx", "db-cpu"}}, fault: faults.AlarmActive,
			says: []string{"1 alarm(s) in ALARM", "db-cpu (in ALARM since 2026-12-02T03:00:00Z: reason db-cpu)"}},
		{name: "a composite alarm in ALARM", watch: &workflow.Alarms{Names: []string{"api-composite"}}, fault: faults.AlarmActive, says: []string{"api-composite"}},
		{name: "a name that does not exist", watch: &workflow.Alarms{Names: []string{"web-5xx", "web-typo"}}, fault: faults.AlarmNotFound, says: []string{"web-typo"}},
		{name: "a prefix: five alarms over three pages, all OK", watch: &workflow.Alarms{NamePrefix: "web-"}},
		{name: "a prefix matching none", watch: &workflow.Alarms{NamePrefix: "queue-"}, fault: faults.AlarmNotFound, says: []string{`"queue-"`}},
		{name: "names and a prefix", watch: &workflow.Alarms{Names: []string{"db-cpu"}, NamePrefix: "web-"}, fault: faults.AlarmActive, says: []string{"db-cpu"}},
		{name: "the bake: a watched alarm went into ALARM and back", watch: &workflow.Alarms{NamePrefix: "web-"}, since: bake,
			history: []cwtypes.AlarmHistoryItem{update("web-5xx", bake.Add(time.Minute), "OK", "ALARM", false), update("web-5xx", bake.Add(2*time.Minute), "ALARM", "OK", false)},
			fault:   faults.AlarmActive, says: []string{"went into ALARM during the bake", "web-5xx at 2026-12-02T03:56:00Z"}},
		{name: "the bake: a composite alarm fired", watch: &workflow.Alarms{Names: []string{"web-composite"}}, since: bake,
			history: []cwtypes.AlarmHistoryItem{update("web-composite", bake.Add(time.Minute), "OK", "ALARM", true)}, fault: faults.AlarmActive, says: []string{"web-composite"}},
		{name: "the bake: an alarm not watched fired", watch: &workflow.Alarms{Names: []string{"web-5xx"}}, since: bake,
			history: []cwtypes.AlarmHistoryItem{update("db-cpu", bake.Add(time.Minute), "OK", "ALARM", false)}},
		{name: "the bake: fired before it began", watch: &workflow.Alarms{Names: []string{"web-5xx"}}, since: bake,
			history: []cwtypes.AlarmHistoryItem{update("web-5xx", bake.Add(-time.Minute), "OK", "ALARM", false), update("web-5xx", bake.Add(-time.Second), "ALARM", "OK", false)}},
		{name: "the bake: only to INSUFFICIENT_DATA", watch: &workflow.Alarms{Names: []string{"web-target-5xx"}}, since: bake,
			history: []cwtypes.AlarmHistoryItem{update("web-target-5xx", bake.Add(time.Minute), "OK", "INSUFFICIENT_DATA", false)}},
		{name: "CloudWatch fails", watch: &workflow.Alarms{Names: []string{"web-5xx"}}, err: errors.New("ServiceUnavailable"), says: []string{"describing alarms: ServiceUnavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{alarms: fleet, history: tt.history, err: tt.err}
			err := Gate{CW: f, Now: func() time.Time { return now }}.Check(context.Background(), tt.watch, tt.since)
			var named *faults.Error
			switch {
			case tt.fault == "" && tt.err == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.fault != "" && (!errors.As(err, &named) || named.Name != tt.fault):
				t.Fatalf("got %v, want %s", err, tt.fault)
			case tt.err != nil && (err == nil || errors.As(err, &named)):
				t.Fatalf("an API failure: got %v, want it unnamed (the boundary names it)", err)
			}
			for _, s := range tt.says {
				if !strings.Contains(fmt.Sprint(err), s) {
					t.Errorf("%v lacks %q", err, s)
				}
			}
			if tt.watch == nil && f.calls != 0 {
				t.Errorf("%d calls with no alarms named", f.calls)
			}
		})
	}
}
