package awsapi_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/drainpipe/drainpipe/internal/alarms"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/awsapi"
)

// TestCloudWatchWire drives the lab's CloudWatch with aws-sdk-go-v2's client (RPC v2
// CBOR): alarms by name and by prefix a page at a time, composite ones only when asked,
// their history, AWS's errors and faults; then the alarm gate over the wire.
func TestCloudWatchWire(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	cw := cloudwatch.NewFromConfig(cfg)
	for _, name := range []string{"web-5xx", "web-latency", "web-target-5xx", "db-cpu"} {
		l.API.Alarms.Create(name, false)
	}
	l.API.Alarms.Create("web-composite", true)
	before := l.Clock.Now()
	if err := l.API.Alarms.Set("web-5xx", "ALARM", "Threshold Crossed"); err != nil {
		t.Fatal(err)
	}

	named, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx", "db-cpu", "nope"}})
	if err != nil || len(named.MetricAlarms) != 2 || named.MetricAlarms[1].StateValue != cwtypes.StateValueAlarm ||
		aws.ToString(named.MetricAlarms[1].StateReason) != "Threshold Crossed" || named.MetricAlarms[1].StateUpdatedTimestamp.Before(before.Add(-time.Second)) {
		t.Fatalf("by name: %v %+v", err, named)
	}
	var got []string
	pages := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("web-"), MaxRecords: aws.Int32(2),
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}})
	calls := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		for _, a := range page.MetricAlarms {
			got = append(got, aws.ToString(a.AlarmName))
		}
		for _, a := range page.CompositeAlarms {
			got = append(got, "composite:"+aws.ToString(a.AlarmName))
		}
	}
	if want := []string{"composite:web-composite", "web-5xx", "web-latency", "web-target-5xx"}; calls != 2 || !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Errorf("by prefix, two a page: %d calls, %v", calls, got)
	}
	metricOnly, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("web-c")})
	if err != nil || len(metricOnly.CompositeAlarms) != 0 || len(metricOnly.MetricAlarms) != 0 {
		t.Errorf("without AlarmTypes, composite alarms are not returned: %v %+v", err, metricOnly)
	}
	history, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{HistoryItemType: cwtypes.HistoryItemTypeStateUpdate, StartDate: aws.Time(before.Add(-time.Second))})
	if err != nil || len(history.AlarmHistoryItems) != 1 || aws.ToString(history.AlarmHistoryItems[0].AlarmName) != "web-5xx" ||
		aws.ToString(history.AlarmHistoryItems[0].HistoryData) == "" {
		t.Errorf("history: %v %+v", err, history)
	}

	var apiErr interface{ ErrorCode() string }
	_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("b")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterCombination" {
		t.Errorf("names and a prefix: %v", err)
	}
	_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{NextToken: aws.String("nope")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidNextToken" {
		t.Errorf("a bad token: %v", err)
	}
	l.API.Inject(awsapi.Rule{Service: awsapi.ServiceCloudWatch, Operation: "DescribeAlarms", Fault: awsapi.AccessDenied, Times: 1})
	_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("an injected fault: %v", err)
	}

	// The gate over the wire: in ALARM now; then OK again, but fired during a bake.
	gate := alarms.Gate{CW: cw, Now: l.Clock.Now}
	watch := &workflow.Alarms{NamePrefix: "web-"}
	if err := gate.Check(ctx, watch, time.Time{}); faults.NameOf(err) != faults.AlarmActive {
		t.Errorf("the gate with web-5xx in ALARM: %v", err)
	}
	if err := l.API.Alarms.Set("web-5xx", "OK", "back"); err != nil {
		t.Fatal(err)
	}
	if err := gate.Check(ctx, watch, time.Time{}); err != nil {
		t.Errorf("the gate, all OK: %v", err)
	}
	if err := gate.Check(ctx, watch, before.Add(-time.Second)); faults.NameOf(err) != faults.AlarmActive {
		t.Errorf("the gate, fired during the bake: %v", err)
	}
	if err := gate.Check(ctx, watch, l.Clock.Now().Add(time.Second)); err != nil {
		t.Errorf("the gate, a bake after it fired: %v", err)
	}
	if err := gate.Check(ctx, &workflow.Alarms{Names: []string{"web-typo"}}, time.Time{}); faults.NameOf(err) != faults.AlarmNotFound {
		t.Errorf("the gate on a typo: %v", err)
	}
}
