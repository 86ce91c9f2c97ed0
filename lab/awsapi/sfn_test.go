package awsapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// TestStepFunctionsWire drives lab executions through aws-sdk-go-v2's Step Functions
// client, as the drainpipe command drives AWS: start, describe, list, read the history a
// page at a time and in reverse, stop; and the errors AWS answers.
func TestStepFunctionsWire(t *testing.T) {
	l, cfg := wireLab(t)
	ctx := context.Background()
	c := sfn.NewFromConfig(cfg)
	input, _ := json.Marshal(map[string]any{"instanceId": l.Instances[0].ID, "maintenance": map[string]any{"action": "reboot"}, "dryRun": true})
	started, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(lab.InstanceStateMachineARN), Name: aws.String("wire"), Input: aws.String(string(input))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(started.ExecutionArn)
	var d *sfn.DescribeExecutionOutput
	labtest.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the dry run to end", func() (bool, any) {
		d, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		return err == nil && d.Status != sfntypes.ExecutionStatusRunning, d
	})
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Input) != string(input) || d.StopDate == nil {
		t.Fatalf("describe: %+v", d)
	}
	list, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(lab.InstanceStateMachineARN), StatusFilter: sfntypes.ExecutionStatusSucceeded})
	if err != nil || len(list.Executions) != 1 || aws.ToString(list.Executions[0].ExecutionArn) != arn {
		t.Errorf("list: %v %+v", err, list)
	}

	// The whole history in one page, then a page of 3 at a time, then in reverse.
	full, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	events := full.Events
	if n := len(events); n < 4 || full.NextToken != nil {
		t.Fatalf("history: %d events, next %v", n, full.NextToken)
	}
	first, last := events[0], events[len(events)-1]
	if first.Type != sfntypes.HistoryEventTypeExecutionStarted || first.Id != 1 || aws.ToString(first.ExecutionStartedEventDetails.Input) != string(input) {
		t.Errorf("the first event: %+v", first)
	}
	if last.Type != sfntypes.HistoryEventTypeExecutionSucceeded || last.ExecutionSucceededEventDetails == nil {
		t.Errorf("the last event: %+v", last)
	}
	if e := events[1]; e.Type != sfntypes.HistoryEventTypeTaskStateEntered || aws.ToString(e.StateEnteredEventDetails.Name) != "ResolveTargets" {
		t.Errorf("the second event: %s %+v", e.Type, e.StateEnteredEventDetails)
	}
	for i, e := range events {
		if e.Id != int64(i+1) || e.PreviousEventId != int64(i) || e.Timestamp == nil || (i > 0 && e.Timestamp.Before(*events[i-1].Timestamp)) {
			t.Errorf("event %d: id %d, previous %d, at %v", i, e.Id, e.PreviousEventId, e.Timestamp)
		}
	}
	hasChoice := slices.ContainsFunc(events, func(e sfntypes.HistoryEvent) bool {
		return e.Type == sfntypes.HistoryEventTypeChoiceStateEntered && aws.ToString(e.StateEnteredEventDetails.Name) == "IsCapacityReserved"
	})
	if !hasChoice {
		t.Error("no ChoiceStateEntered for IsDryRun")
	}
	ids := func(es []sfntypes.HistoryEvent) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.Id)
		}
		return out
	}
	var paged []sfntypes.HistoryEvent
	pages := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 3})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 3 {
			t.Errorf("a page of %d events", len(page.Events))
		}
		paged = append(paged, page.Events...)
	}
	if !slices.Equal(ids(paged), ids(events)) {
		t.Errorf("paged: %v, want %v", ids(paged), ids(events))
	}
	rev, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, ReverseOrder: true, MaxResults: 2})
	if err != nil || len(rev.Events) != 2 || rev.Events[0].Id != last.Id || rev.NextToken == nil {
		t.Errorf("reverse: %v %v", err, ids(rev.Events))
	}
	noData, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1, IncludeExecutionData: aws.Bool(false)})
	if err != nil || noData.Events[0].ExecutionStartedEventDetails.Input != nil {
		t.Errorf("without execution data: %v %+v", err, noData.Events[0].ExecutionStartedEventDetails)
	}

	// Stop a running execution: ABORTED, and the history ends with ExecutionAborted.
	long, _ := json.Marshal(map[string]any{"instanceId": l.Instances[1].ID, "maintenance": map[string]any{"action": "reboot"}})
	running, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(lab.InstanceStateMachineARN), Name: aws.String("stopped"), Input: aws.String(string(long))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: running.ExecutionArn, Error: aws.String("Operator"), Cause: aws.String("a test")}); err != nil {
		t.Fatal(err)
	}
	stopped, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: running.ExecutionArn, ReverseOrder: true, MaxResults: 1})
	if err != nil || len(stopped.Events) != 1 || stopped.Events[0].Type != sfntypes.HistoryEventTypeExecutionAborted ||
		aws.ToString(stopped.Events[0].ExecutionAbortedEventDetails.Error) != "Operator" {
		t.Errorf("stopped: %v %+v", err, stopped)
	}

	// The errors AWS answers.
	for _, c2 := range []struct {
		name string
		in   sfn.GetExecutionHistoryInput
		code string
	}{
		{"an unknown execution", sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn + "-nope")}, "ExecutionDoesNotExist"},
		{"a bad token", sfn.GetExecutionHistoryInput{ExecutionArn: &arn, NextToken: aws.String("nope")}, "InvalidToken"},
		{"too many a page", sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1001}, "ValidationException"},
	} {
		if _, err := c.GetExecutionHistory(ctx, &c2.in); code(err) != c2.code {
			t.Errorf("%s: %v, want %s", c2.name, err, c2.code)
		}
	}
}
