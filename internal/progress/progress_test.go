package progress_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/drainpipe/drainpipe/internal/alarms"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

// TestContinueAsNew: when a wave would take the execution's history past the budget, the
// rollout is handed over; the continuation takes it over and the first execution can no
// longer release its leases.
func TestContinueAsNew(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	f := progress.Steps{DB: db}
	l := leases.Steps{DB: db}
	s := rollouttest.New(t, db, "big", rollout.Input{}, 40, 40)
	s, err := l.Acquire(ctx, leases.AcquireRequest{State: s, Execution: s.Rollout.ID})
	if err != nil {
		t.Fatal(err)
	}
	s.Cursor.Events = rollout.PartEventBudget - rollout.WaveEvents(40) + 1
	s, err = f.NextWave(ctx, s)
	if err != nil || !s.Wave.Continue || len(s.Wave.Items) != 0 || s.Wave.ContinuationName != "big-part-2" {
		t.Fatalf("next wave at the budget: %+v, %v", s.Wave, err)
	}
	part2 := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:big-part-2"
	handed := s.Wave.ContinuationInput.State
	taken, err := l.Acquire(ctx, leases.AcquireRequest{State: handed, Execution: part2})
	if err != nil || taken.Rollout.Part != 2 || taken.Rollout.Execution != part2 || taken.Cursor.Events != rollout.EstimateEvents() {
		t.Fatalf("the continuation: %+v, %v", taken.Rollout, err)
	}
	if released, err := l.Release(ctx, s); err != nil || len(released) != 0 {
		t.Errorf("the first part released %v (%v) after handing over", released, err)
	}
	// A second execution cannot take over from the first any more.
	if _, err := l.Acquire(ctx, leases.AcquireRequest{State: handed, Execution: part2 + "-again"}); faults.NameOf(err) != faults.RolloutInProgress {
		t.Errorf("a second continuation: %v", err)
	}
	next, err := f.NextWave(ctx, taken)
	if err != nil || len(next.Wave.Items) != 40 {
		t.Errorf("the continuation's wave: %+v, %v", next.Wave, err)
	}
}

// history is CloudWatch with one alarm, and the state updates given.
type history struct {
	state   cwtypes.StateValue
	updates []cwtypes.AlarmHistoryItem
}

func (h history) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{{AlarmName: aws.String("web-5xx"), StateValue: h.state}}}, nil
}

func (h history) DescribeAlarmHistory(context.Context, *cloudwatch.DescribeAlarmHistoryInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	return &cloudwatch.DescribeAlarmHistoryOutput{AlarmHistoryItems: h.updates}, nil
}

// TestAlarmGate: no wave starts while a watched alarm is in ALARM, and an alarm that fired
// during the bake after a wave stops the rollout even when it is OK again; either way the
// rollout is aborted with the alarm's error and its record says why.
func TestAlarmGate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := rollout.Input{Alarms: &workflow.Alarms{Names: []string{"web-5xx"}}, BakeSeconds: 60}
	fired := cwtypes.AlarmHistoryItem{AlarmName: aws.String("web-5xx"), Timestamp: aws.Time(time.Now().Add(30 * time.Second)), HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		HistoryData: aws.String(`{"newState":{"stateValue":"ALARM"}}`)}
	for _, c := range []struct {
		name      string
		cw        history
		afterWave bool
		stops     string
	}{
		{"OK before the first wave", history{state: cwtypes.StateValueOk}, false, ""},
		{"in ALARM before the first wave", history{state: cwtypes.StateValueAlarm}, false, "in ALARM"},
		{"fired during the bake, OK again", history{state: cwtypes.StateValueOk, updates: []cwtypes.AlarmHistoryItem{fired}}, true, "during the bake"},
		{"a history item before the bake", history{state: cwtypes.StateValueOk, updates: []cwtypes.AlarmHistoryItem{fired}}, false, ""},
	} {
		db := rollouttest.Tables(t) // a table each: every case locks the same group
		s := rollouttest.New(t, db, strings.ReplaceAll(c.name, " ", "-"), in, 2, 2)
		s, err := leases.Steps{DB: db}.Acquire(ctx, leases.AcquireRequest{State: s, Execution: s.Rollout.ID})
		if err != nil {
			t.Fatal(err)
		}
		if c.afterWave {
			s.Cursor.Wave, s.Cursor.BakeSince = 1, time.Now().Unix()
		}
		next, err := progress.Steps{DB: db, Alarms: alarms.Gate{CW: c.cw}}.NextWave(ctx, s)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.stops == "" {
			if next.Cursor.Aborted || len(next.Wave.Items) != 2 {
				t.Errorf("%s: the wave did not start: %+v %+v", c.name, next.Cursor, next.Wave)
			}
			continue
		}
		if !next.Wave.Done || len(next.Wave.Items) != 0 || !next.Cursor.Aborted || next.Cursor.StopError != faults.AlarmActive || !strings.Contains(next.Cursor.StopReason, c.stops) {
			t.Errorf("%s: %+v %+v", c.name, next.Cursor, next.Wave)
		}
		meta, err := next.Store(db).Meta(ctx, next.Rollout.ID)
		if err != nil || !strings.Contains(meta.StopReason, c.stops) {
			t.Errorf("%s: the record says %q (%v)", c.name, meta.StopReason, err)
		}
	}
}
