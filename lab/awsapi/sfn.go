package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drainpipe/drainpipe/lab/sfn"
)

// ParentHeader is how the lab's engine says which execution's startExecution.sync:2 Task
// starts an execution, the link Step Functions keeps to stop children with their parent.
// Nothing outside the lab sends it.
const ParentHeader = "X-Lab-Parent-Execution"

// stepFunctions answers the Step Functions operations in the JSON 1.0 protocol:
// StartExecution, StopExecution, DescribeExecution, ListExecutions, GetExecutionHistory and
// ListStateMachines.
func (s *Server) stepFunctions(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	fail := func(code, msg string) { jsonError10(w, http.StatusBadRequest, code, msg) }
	if s.SFN == nil {
		fail("UnknownOperationException", "this lab endpoint has no Step Functions")
		return
	}
	if s.fail(w, ServiceStepFunctions, op, "", s.call(ServiceStepFunctions, op, "")) {
		return
	}
	var out any
	var err error
	switch op {
	case "StartExecution":
		var in struct {
			StateMachineArn, Name, Input string
		}
		if err = decode(r, &in); err == nil {
			err = checkARN(in.StateMachineArn, "stateMachine")
		}
		if err == nil {
			var ex *sfn.Execution
			if ex, err = s.SFN.StartExecution(in.StateMachineArn, in.Name, json.RawMessage(in.Input), r.Header.Get(ParentHeader)); err == nil {
				out = map[string]any{"executionArn": ex.ARN, "startDate": epoch(ex.StartDate)}
			}
		}
	case "StopExecution":
		var in struct{ ExecutionArn, Error, Cause string }
		if err = decode(r, &in); err == nil {
			err = checkARN(in.ExecutionArn, "execution")
		}
		if err == nil {
			if err = s.SFN.StopExecution(in.ExecutionArn, in.Error, in.Cause); err == nil {
				out = map[string]any{"stopDate": epoch(time.Now())}
			}
		}
	case "DescribeExecution":
		var in struct{ ExecutionArn string }
		if err = decode(r, &in); err == nil {
			err = checkARN(in.ExecutionArn, "execution")
		}
		if err == nil {
			var d sfn.Description
			if d, err = s.SFN.Describe(in.ExecutionArn); err == nil {
				out = description(d)
			}
		}
	case "ListExecutions":
		var in struct{ StateMachineArn, StatusFilter string }
		if err = decode(r, &in); err == nil {
			err = checkARN(in.StateMachineArn, "stateMachine")
		}
		if err == nil {
			list := []any{}
			for _, d := range s.SFN.List(in.StateMachineArn, in.StatusFilter) {
				item := map[string]any{"executionArn": d.ARN, "stateMachineArn": d.StateMachineARN, "name": d.Name,
					"status": d.Status, "startDate": epoch(d.StartDate)}
				if !d.StopDate.IsZero() {
					item["stopDate"] = epoch(d.StopDate)
				}
				list = append(list, item)
			}
			out = map[string]any{"executions": list}
		}
	case "GetExecutionHistory":
		var in struct {
			ExecutionArn, NextToken string
			MaxResults              int
			ReverseOrder            bool
			IncludeExecutionData    *bool
		}
		if err = decode(r, &in); err == nil {
			err = checkARN(in.ExecutionArn, "execution")
		}
		if err == nil {
			var events []sfn.Event
			if events, err = s.SFN.History(in.ExecutionArn); err == nil {
				out, err = history(events, in.NextToken, in.MaxResults, in.ReverseOrder, in.IncludeExecutionData == nil || *in.IncludeExecutionData)
			}
		}
	case "ListStateMachines":
		list := []any{}
		for _, m := range s.SFN.StateMachines() {
			list = append(list, map[string]any{"stateMachineArn": m.ARN, "name": m.Name, "type": "STANDARD", "creationDate": epoch(time.Now())})
		}
		out = map[string]any{"stateMachines": list}
	default:
		fail("UnknownOperationException", "the lab does not implement Step Functions "+op)
		return
	}
	var apiErr *sfn.APIError
	switch {
	case errors.As(err, &apiErr):
		fail(apiErr.Code, apiErr.Message)
	case err != nil:
		fail("SerializationException", err.Error())
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(out)
	}
}

// stateARN matches a Step Functions ARN: its partition, region, account, resource type
// and name.
var stateARN = regexp.MustCompile(`^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:(stateMachine|execution):[^:]+(:[^:]+)?$`)

// checkARN refuses an ARN that is not one of the kind (stateMachine, execution) as Step
// Functions does, with InvalidArn, before looking anything up.
func checkARN(arn, kind string) error {
	m := stateARN.FindStringSubmatch(arn)
	if m == nil || m[1] != kind || (kind == "execution") != (m[2] != "") {
		return &sfn.APIError{Code: "InvalidArn", Message: "Invalid Arn: '" + arn + "'"}
	}
	return nil
}

// jsonError10 writes an error of the JSON 1.0 protocol (Step Functions).
func jsonError10(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

func description(d sfn.Description) map[string]any {
	out := map[string]any{"executionArn": d.ARN, "stateMachineArn": d.StateMachineARN, "name": d.Name, "status": d.Status,
		"startDate": epoch(d.StartDate), "input": string(d.Input), "inputDetails": map[string]bool{"included": true}}
	if !d.StopDate.IsZero() {
		out["stopDate"] = epoch(d.StopDate)
	}
	if d.Output != nil {
		out["output"] = string(d.Output)
		out["outputDetails"] = map[string]bool{"included": true}
	}
	if d.Error != "" {
		out["error"] = d.Error
	}
	if d.Cause != "" {
		out["cause"] = d.Cause
	}
	return out
}

// history is a page of GetExecutionHistory: the events as Step Functions records them
// (ids from 1, each state event typed by its state: TaskStateEntered, ChoiceStateExited,
// ...), maxResults a page (0: 100; at most 1,000), oldest first unless reverseOrder, the
// next page's token opaque (the direction and the next event's id). The lab records the execution's and the states'
// events, not the Task's own (LambdaFunctionScheduled, ...) nor retries and catches, and
// a state event without its input or output.
func history(events []sfn.Event, token string, maxResults int, reverse, data bool) (map[string]any, error) {
	switch {
	case maxResults < 0:
		return nil, &sfn.APIError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0", maxResults)}
	case maxResults > 1000:
		return nil, &sfn.APIError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", maxResults)}
	}
	if maxResults == 0 {
		maxResults = 100
	}
	var all []map[string]any
	for _, e := range events {
		item := map[string]any{"timestamp": epoch(e.At)}
		withData := func(key, value string) map[string]any {
			d := map[string]any{}
			if data {
				d[key] = value
				d[key+"Details"] = map[string]bool{"truncated": false}
			}
			return d
		}
		switch e.Type {
		case "ExecutionStarted":
			item["executionStartedEventDetails"] = withData("input", string(e.Input))
		case "StateEntered":
			item["type"] = e.StateType + "StateEntered"
			item["stateEnteredEventDetails"] = map[string]any{"name": e.Name}
		case "StateExited":
			item["type"] = e.StateType + "StateExited"
			item["stateExitedEventDetails"] = map[string]any{"name": e.Name}
		case "ExecutionSucceeded":
			item["executionSucceededEventDetails"] = withData("output", string(e.Output))
		case "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
			key := map[string]string{"ExecutionFailed": "executionFailedEventDetails", "ExecutionAborted": "executionAbortedEventDetails",
				"ExecutionTimedOut": "executionTimedOutEventDetails"}[e.Type]
			d := map[string]any{}
			if e.Error != "" {
				d["error"] = e.Error
			}
			if e.Cause != "" {
				d["cause"] = e.Cause
			}
			item[key] = d
		default:
			continue // StateRetried, StateCaught: the lab's own
		}
		if item["type"] == nil {
			item["type"] = e.Type
		}
		id := len(all) + 1
		item["id"] = id
		if id > 1 {
			item["previousEventId"] = id - 1
		} else {
			item["previousEventId"] = 0
		}
		all = append(all, item)
	}
	if reverse {
		slices.Reverse(all)
	}
	// A token names the direction and the id of the next event: events the execution
	// records while a reader pages (newest first, say) neither repeat nor skip one.
	direction := "forward"
	if reverse {
		direction = "reverse"
	}
	from := 0
	if token != "" {
		id, err := strconv.Atoi(strings.TrimPrefix(token, "lab-history-"+direction+"-"))
		from = slices.IndexFunc(all, func(e map[string]any) bool { return e["id"] == id })
		if err != nil || from < 0 || !strings.HasPrefix(token, "lab-history-"+direction+"-") {
			return nil, &sfn.APIError{Code: "InvalidToken", Message: "Invalid Token: '" + token + "'"}
		}
	}
	to := min(from+maxResults, len(all))
	out := map[string]any{"events": all[from:to]}
	if to < len(all) {
		out["nextToken"] = fmt.Sprintf("lab-history-%s-%d", direction, all[to]["id"])
	}
	return out, nil
}
