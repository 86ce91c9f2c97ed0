package awsapi

import (
	"errors"
	"slices"
	"testing"

	"github.com/drainpipe/drainpipe/lab/sfn"
)

// TestHistoryPagesWhileTheExecutionRuns: a reader paging newest first while the execution
// records more events sees each event of the history it began with once, in order, and
// a token is good only in its own direction.
func TestHistoryPagesWhileTheExecutionRuns(t *testing.T) {
	events := []sfn.Event{{Type: "ExecutionStarted"}}
	for _, name := range []string{"A", "B", "C", "D"} {
		events = append(events, sfn.Event{Type: "StateEntered", Name: name, StateType: "Task"}, sfn.Event{Type: "StateExited", Name: name, StateType: "Task"})
	}
	var seen []int
	token := ""
	for page := 0; ; page++ {
		out, err := history(events, token, 3, true, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out["events"].([]map[string]any) {
			seen = append(seen, e["id"].(int))
		}
		next, ok := out["nextToken"].(string)
		if !ok {
			break
		}
		token = next
		// The execution goes on between two pages.
		events = append(events, sfn.Event{Type: "StateEntered", Name: "E", StateType: "Wait"})
	}
	if want := []int{9, 8, 7, 6, 5, 4, 3, 2, 1}; !slices.Equal(seen, want) {
		t.Errorf("newest first, paging while events are added: %v, want %v", seen, want)
	}
	forward, err := history(events, "", 2, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *sfn.APIError
	if _, err := history(events, forward["nextToken"].(string), 2, true, false); !errors.As(err, &apiErr) || apiErr.Code != "InvalidToken" {
		t.Errorf("a forward token, read in reverse: %v", err)
	}
	if _, err := history(events, "", -1, false, false); !errors.As(err, &apiErr) || apiErr.Code != "ValidationException" {
		t.Errorf("maxResults -1: %v", err)
	}
}

// TestCheckARN: Step Functions refuses a malformed ARN, or one of another kind, with
// InvalidArn before it looks for the resource.
func TestCheckARN(t *testing.T) {
	for _, c := range []struct {
		arn, kind string
		ok        bool
	}{
		{"arn:aws:states:us-east-1:123456789012:stateMachine:drainpipe-maintain-fleet", "stateMachine", true},
		{"arn:aws:states:us-east-1:123456789012:execution:drainpipe-maintain-fleet:weekly", "execution", true},
		{"arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:e", "execution", true},
		{"arn:aws:states:us-east-1:123456789012:stateMachine:drainpipe-maintain-fleet", "execution", false},
		{"arn:aws:states:us-east-1:123456789012:execution:drainpipe-maintain-fleet", "execution", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:f", "stateMachine", false},
		{"weekly", "execution", false},
		{"", "execution", false},
	} {
		err := checkARN(c.arn, c.kind)
		var apiErr *sfn.APIError
		if c.ok != (err == nil) || (err != nil && (!errors.As(err, &apiErr) || apiErr.Code != "InvalidArn")) {
			t.Errorf("checkARN(%q, %s) = %v", c.arn, c.kind, err)
		}
	}
}
