package sfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab/awsapi"
	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/labtest"
	"github.com/drainpipe/drainpipe/lab/sfn"
)

// service starts a Step Functions service behind a lab endpoint (which startExecution.sync:2
// Tasks call) at twenty times AWS speed.
func service(t *testing.T) *sfn.Service {
	t.Helper()
	wd, _ := os.Getwd()
	tools, err := sfn.FindTools(wd)
	if err != nil {
		t.Fatal(err)
	}
	s := &sfn.Service{Tools: tools, Scale: 0.05, Region: awsapi.Region, Account: awsapi.Account, Values: map[string]string{}}
	api, err := awsapi.Start(awsapi.Backends{SFN: s}, clock.New(s.Scale))
	if err != nil {
		t.Fatal(err)
	}
	s.Env = api.Env()
	t.Cleanup(func() {
		s.Close()
		api.Close()
	})
	return s
}

func create(t *testing.T, s *sfn.Service, name, def string) string {
	t.Helper()
	arn, err := s.CreateStateMachine(name, []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

func run(t *testing.T, s *sfn.Service, arn string, input any) sfn.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.Run(ctx, arn, "", input, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPayloadQuota: a state output over 256 KiB fails the execution with
// States.DataLimitExceeded, and neither a Catch on States.ALL nor one naming the error
// runs; the same inside a Map iteration fails the whole execution.
func TestPayloadQuota(t *testing.T) {
	t.Parallel()
	s := service(t)
	blob := strings.Repeat("x", 140*1024) // two copies exceed 256 KiB
	// A child whose output is 130 KiB: its answer is under the limit, the parent's state
	// with it added to the blob is not.
	child := create(t, s, "echo", `{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Result": {"copy": "`+strings.Repeat("y", 130*1024)+`"}, "End": true}}}`)
	for name, def := range map[string]string{
		"state": `{"StartAt": "Grow", "States": {
			"Grow": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
				"Parameters": {"StateMachineArn": "` + child + `", "Input": {}},
				"ResultSelector": {"copy.$": "$.Output.copy"}, "ResultPath": "$.child",
				"Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}, {"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
				"Next": "Done"},
			"Caught": {"Type": "Pass", "End": true},
			"Done": {"Type": "Succeed"}}}`,
		"map": `{"StartAt": "Each", "States": {
			"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"blob.$": "$.blob"},
				"ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"a.$": "$.blob", "b.$": "$.blob"}, "End": true}}},
				"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
				"ResultPath": null, "Next": "Done"},
			"Caught": {"Type": "Pass", "End": true},
			"Done": {"Type": "Succeed"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := run(t, s, create(t, s, "quota-"+name, def), map[string]any{"blob": blob, "items": []int{1}})
			if res.Status != sfn.StatusFailed || res.Error != "States.DataLimitExceeded" {
				t.Errorf("%s %s: %s; want FAILED with States.DataLimitExceeded", res.Status, res.Error, res.Cause)
			}
			if slices.Contains(res.States, "Caught") {
				t.Errorf("a Catch ran: %v", res.States)
			}
			if res.MaxPayloadBytes <= sfn.PayloadLimit {
				t.Errorf("largest payload %d bytes; the execution should have seen the one over the limit", res.MaxPayloadBytes)
			}
		})
	}
	// Just under the limit passes.
	res := run(t, s, create(t, s, "quota-under", `{"StartAt": "Copy", "States": {"Copy": {"Type": "Pass", "Parameters": {"a.$": "$.blob"}, "End": true}}}`),
		map[string]any{"blob": strings.Repeat("x", sfn.PayloadLimit-20)})
	if !res.Succeeded {
		t.Errorf("an input just under 256 KiB failed: %s: %s", res.Error, res.Cause)
	}
}

// TestHistoryCounting: the events are counted as Step Functions records them.
func TestHistoryCounting(t *testing.T) {
	t.Parallel()
	s := service(t)
	tests := []struct {
		name string
		def  string
		want int
	}{
		// ExecutionStarted, Pass 2, Wait 2, Choice 2, Succeed 2, ExecutionSucceeded.
		{"states", `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
			"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "S"}], "Default": "S"}, "S": {"Type": "Succeed"}}}`, 10},
		// ExecutionStarted, MapStateEntered and Started, per item MapIterationStarted, Pass 2
		// and MapIterationSucceeded, MapStateSucceeded and Exited, ExecutionSucceeded.
		{"map", `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
			"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}`, 1 + 2 + 3*4 + 2 + 1},
		// ExecutionStarted, FailStateEntered, ExecutionFailed.
		{"fail", `{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom"}}}`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, s, create(t, s, "count-"+tt.name, tt.def), map[string]any{"items": []int{1, 2, 3}})
			if res.Events != tt.want {
				t.Errorf("%d events (%s), want %d", res.Events, res.Status, tt.want)
			}
		})
	}
}

// TestHistoryQuota: an execution whose history would pass 25,000 events fails, and its
// Catch does not run.
func TestHistoryQuota(t *testing.T) {
	t.Parallel()
	s := service(t)
	arn := create(t, s, "loop", `{"StartAt": "Count", "States": {
		"Count": {"Type": "Map", "ItemsPath": "$.one", "ItemSelector": {"n.$": "$.n"},
			"ItemProcessor": {"StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": true}}},
			"ResultSelector": {"n.$": "States.MathAdd($[0].n, 1)", "one": [1]},
			"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "Next": "More"},
		"More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 20000, "Next": "Count"}], "Default": "Done"},
		"Caught": {"Type": "Pass", "End": true},
		"Done": {"Type": "Succeed"}}}`)
	res := run(t, s, arn, map[string]any{"n": 0, "one": []int{1}})
	if res.Status != sfn.StatusFailed || !strings.Contains(res.Cause, "25000") {
		t.Errorf("%s %s: %s; want FAILED past 25,000 events", res.Status, res.Error, res.Cause)
	}
	if slices.Contains(res.States, "Caught") || slices.Contains(res.States, "Done") {
		t.Errorf("the execution went on past the limit: %v", res.States[len(res.States)-3:])
	}
	if res.Events != sfn.HistoryLimit {
		t.Errorf("%d events at the end, want %d, the last one ExecutionFailed", res.Events, sfn.HistoryLimit)
	}
}

// TestStartExecutionNames: names are unique per state machine; the same name and input
// while running returns the running execution; otherwise ExecutionAlreadyExists; names
// are checked as AWS checks them.
func TestStartExecutionNames(t *testing.T) {
	t.Parallel()
	s := service(t)
	arn := create(t, s, "waiter", `{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.seconds", "End": true}}}`)
	first, err := s.StartExecution(arn, "once", json.RawMessage(`{"seconds": 20}`), "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.StartExecution(arn, "once", json.RawMessage(`{ "seconds":20 }`), "")
	if err != nil || again != first {
		t.Errorf("the same start while running: %v, %v; want the running execution", again, err)
	}
	var apiErr *sfn.APIError
	if _, err := s.StartExecution(arn, "once", json.RawMessage(`{"seconds": 1}`), ""); !errors.As(err, &apiErr) || apiErr.Code != "ExecutionAlreadyExists" {
		t.Errorf("another input under the same name: %v", err)
	}
	if err := s.StopExecution(first.ARN, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartExecution(arn, "once", json.RawMessage(`{"seconds": 20}`), ""); !errors.As(err, &apiErr) || apiErr.Code != "ExecutionAlreadyExists" {
		t.Errorf("the same name after its end: %v", err)
	}
	for _, bad := range []string{"a/b", "with space", strings.Repeat("n", 81), "x:y", ""[0:0] + "tab\t"} {
		if _, err := s.StartExecution(arn, bad, nil, ""); !errors.As(err, &apiErr) || apiErr.Code != "InvalidName" {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, err := s.StartExecution(arn+"-missing", "", nil, ""); !errors.As(err, &apiErr) || apiErr.Code != "StateMachineDoesNotExist" {
		t.Errorf("unknown state machine: %v", err)
	}
}

// TestStopRunsNoCatchAndStopsChildren: stopping a parent while its
// startExecution.sync:2 child runs ends both as ABORTED, runs no Catch, and publishes a
// status change for each.
func TestStopRunsNoCatchAndStopsChildren(t *testing.T) {
	t.Parallel()
	s := service(t)
	child := create(t, s, "child", `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}`)
	parent := create(t, s, "parent", `{"StartAt": "Start", "States": {
		"Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
			"Parameters": {"StateMachineArn": "`+child+`", "Name": "the-child", "Input": {}},
			"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
		"Caught": {"Type": "Pass", "End": true}}}`)
	var mu sync.Mutex
	changes := map[string]string{}
	s.OnStatusChange(func(c sfn.StatusChange) {
		mu.Lock()
		defer mu.Unlock()
		if c.Detail.Status != sfn.StatusRunning {
			changes[c.Detail.Name] = c.Detail.Status
		}
	})
	ex, err := s.StartExecution(parent, "the-parent", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	childARN := strings.Replace(child, ":stateMachine:", ":execution:", 1) + ":the-child"
	labtest.WaitFor(t, 20*time.Second, 5*time.Millisecond, "the child "+childARN+" to be RUNNING", func() (bool, any) {
		d, err := s.Describe(childARN)
		if err != nil {
			return false, err
		}
		return d.Status == sfn.StatusRunning, d
	})
	if err := s.StopExecution(ex.ARN, "Operator", "stopped by a test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.Wait(ctx, ex.ARN)
	if err != nil {
		t.Fatalf("waiting for the stopped parent to end: %v", err)
	}
	if res.Status != sfn.StatusAborted || slices.Contains(res.States, "Caught") {
		t.Errorf("parent %s, states %v; want ABORTED without the Catch", res.Status, res.States)
	}
	if d, _ := s.Describe(childARN); d.Status != sfn.StatusAborted {
		t.Errorf("child %s, want ABORTED with its parent", d.Status)
	}
	labtest.WaitFor(t, 10*time.Second, 5*time.Millisecond, "ABORTED status changes for the parent and the child", func() (bool, any) {
		mu.Lock()
		defer mu.Unlock()
		return changes["the-parent"] == sfn.StatusAborted && changes["the-child"] == sfn.StatusAborted, fmt.Sprint(changes)
	})
}
