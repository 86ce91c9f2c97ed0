package awsapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/drainpipe/drainpipe/lab/sfn"
)

// ParentHeader is how the lab's engine says which execution's startExecution.sync:2 Task
// starts an execution, the link Step Functions keeps to stop children with their parent.
// Nothing outside the lab sends it.
const ParentHeader = "X-Lab-Parent-Execution"

// stepFunctions answers the Step Functions operations in the JSON 1.0 protocol:
// StartExecution, StopExecution, DescribeExecution, ListExecutions and ListStateMachines.
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
			var ex *sfn.Execution
			if ex, err = s.SFN.StartExecution(in.StateMachineArn, in.Name, json.RawMessage(in.Input), r.Header.Get(ParentHeader)); err == nil {
				out = map[string]any{"executionArn": ex.ARN, "startDate": epoch(ex.StartDate)}
			}
		}
	case "StopExecution":
		var in struct{ ExecutionArn, Error, Cause string }
		if err = decode(r, &in); err == nil {
			if err = s.SFN.StopExecution(in.ExecutionArn, in.Error, in.Cause); err == nil {
				out = map[string]any{"stopDate": epoch(time.Now())}
			}
		}
	case "DescribeExecution":
		var in struct{ ExecutionArn string }
		if err = decode(r, &in); err == nil {
			var d sfn.Description
			if d, err = s.SFN.Describe(in.ExecutionArn); err == nil {
				out = description(d)
			}
		}
	case "ListExecutions":
		var in struct{ StateMachineArn, StatusFilter string }
		if err = decode(r, &in); err == nil {
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
