package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/drainpipe/drainpipe/lab/ssm"
)

// ssm answers the SSM operations drainpipe calls, in the JSON 1.1 protocol.
func (s *Server) ssm(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	if s.fail(w, ServiceSSM, op, "", s.call(ServiceSSM, op, "")) {
		return
	}
	var out any
	var err error
	switch op {
	case "SendCommand":
		out, err = s.sendCommand(r)
	case "GetCommandInvocation":
		out, err = s.getCommandInvocation(r)
	case "CancelCommand":
		out, err = s.cancelCommand(r)
	case "DescribeInstanceInformation":
		out, err = s.describeInstanceInformation(r)
	case "ListCommands":
		out, err = s.listCommands(r)
	case "DescribeInstancePatchStates":
		out, err = s.describeInstancePatchStates(r)
	default:
		jsonError(w, http.StatusBadRequest, "UnknownOperationException", "the lab does not implement SSM "+op)
		return
	}
	var apiErr *ssm.APIError
	var badJSON *json.SyntaxError
	switch {
	case errors.As(err, &apiErr):
		jsonError(w, http.StatusBadRequest, apiErr.Code, apiErr.Message)
	case errors.As(err, &badJSON):
		jsonError(w, http.StatusBadRequest, "SerializationException", err.Error())
	case err != nil:
		jsonError(w, http.StatusBadRequest, "ValidationException", err.Error())
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	}
}

func decode(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *Server) sendCommand(r *http.Request) (any, error) {
	var in struct {
		DocumentName   string
		InstanceIds    []string
		Parameters     map[string][]string
		TimeoutSeconds int
		Comment        string
		// AlarmConfiguration takes exactly one alarm (SSM's AlarmConfiguration.Alarms).
		AlarmConfiguration *struct {
			Alarms                 []struct{ Name string }
			IgnorePollAlarmFailure bool
		}
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var alarm *ssm.AlarmConfiguration
	if a := in.AlarmConfiguration; a != nil {
		if len(a.Alarms) != 1 {
			return nil, &ssm.APIError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value at 'alarmConfiguration.alarms' failed to satisfy constraint: Member must have length of 1 (it has %d)", len(a.Alarms))}
		}
		if n := a.Alarms[0].Name; strings.TrimSpace(n) == "" || len(n) > 255 {
			return nil, &ssm.APIError{Code: "ValidationException", Message: "1 validation error detected: Value at 'alarmConfiguration.alarms.1.member.name' failed to satisfy constraint: Member must have length between 1 and 255 and not be blank"}
		}
		alarm = &ssm.AlarmConfiguration{Alarm: a.Alarms[0].Name, IgnorePollAlarmFailure: a.IgnorePollAlarmFailure}
	}
	id, err := s.SSM.SendCommandWithAlarm(in.DocumentName, in.InstanceIds, in.Parameters, in.TimeoutSeconds, in.Comment, alarm)
	if err != nil {
		return nil, err
	}
	cmd := map[string]any{
		"CommandId": id, "DocumentName": in.DocumentName, "InstanceIds": in.InstanceIds, "Parameters": in.Parameters,
		"Comment": in.Comment, "Status": ssm.StatusPending, "StatusDetails": ssm.StatusPending,
		"RequestedDateTime": epoch(s.Clock.Now()), "TimeoutSeconds": in.TimeoutSeconds, "TargetCount": len(in.InstanceIds),
	}
	if alarm != nil {
		cmd["AlarmConfiguration"] = alarmConfiguration(alarm)
	}
	return map[string]any{"Command": cmd}, nil
}

func alarmConfiguration(a *ssm.AlarmConfiguration) map[string]any {
	return map[string]any{"Alarms": []map[string]string{{"Name": a.Alarm}}, "IgnorePollAlarmFailure": a.IgnorePollAlarmFailure}
}

func (s *Server) getCommandInvocation(r *http.Request) (any, error) {
	var in struct{ CommandId, InstanceId, PluginName string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	inv, err := s.SSM.GetCommandInvocation(in.CommandId, in.InstanceId)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"CommandId": inv.CommandID, "InstanceId": inv.InstanceID, "Comment": inv.Comment,
		"DocumentName": inv.DocumentName, "DocumentVersion": "$DEFAULT", "PluginName": "aws:runShellScript",
		"ResponseCode": inv.ResponseCode, "Status": inv.Status, "StatusDetails": inv.StatusDetails,
		"StandardOutputContent": inv.Stdout, "StandardErrorContent": inv.Stderr,
		"StandardOutputUrl": "", "StandardErrorUrl": "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}
	if !inv.StartedAt.IsZero() {
		out["ExecutionStartDateTime"] = inv.StartedAt.UTC().Format(time.RFC3339)
	}
	if !inv.EndedAt.IsZero() {
		out["ExecutionEndDateTime"] = inv.EndedAt.UTC().Format(time.RFC3339)
		out["ExecutionElapsedTime"] = "PT" + inv.EndedAt.Sub(inv.StartedAt).Round(time.Millisecond).String()
	}
	return out, nil
}

func (s *Server) cancelCommand(r *http.Request) (any, error) {
	var in struct {
		CommandId   string
		InstanceIds []string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return map[string]any{}, s.SSM.CancelCommand(in.CommandId, in.InstanceIds)
}

func (s *Server) describeInstanceInformation(r *http.Request) (any, error) {
	var in struct {
		Filters []struct {
			Key    string
			Values []string
		}
		NextToken string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range in.Filters {
		if f.Key == "InstanceIds" {
			ids = append(ids, f.Values...)
		}
	}
	list := []map[string]any{}
	for _, inst := range s.EC2.Describe(ids) {
		if !inst.SSMManaged || inst.State == "terminated" {
			continue // a terminated instance is no longer a managed node
		}
		status := "ConnectionLost"
		if inst.SSMOnline {
			status = "Online"
		}
		list = append(list, map[string]any{"InstanceId": inst.ID, "PingStatus": status, "PlatformType": "Linux",
			"PlatformName": "Amazon Linux", "AgentVersion": "3.3.0.0", "IPAddress": inst.PrivateIP, "ResourceType": "EC2Instance"})
	}
	return map[string]any{"InstanceInformationList": list}, nil
}

// listCommands answers ListCommands for one instance (the lab's commands each go to one
// instance), newest first, optionally filtered by Status, InvokedAfter and InvokedBefore.
func (s *Server) listCommands(r *http.Request) (any, error) {
	var in struct {
		CommandId, InstanceId string
		Filters               []struct{ Key, Value string }
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.InstanceId == "" {
		return nil, &ssm.APIError{Code: "InvalidInstanceId", Message: "the lab lists the commands of one instance (InstanceId)"}
	}
	list := []map[string]any{}
	for _, inv := range s.SSM.Commands(in.InstanceId) {
		keep := in.CommandId == "" || in.CommandId == inv.CommandID
		for _, f := range in.Filters {
			switch f.Key {
			case "Status":
				keep = keep && f.Value == inv.Status
			case "InvokedAfter", "InvokedBefore":
				at, err := time.Parse(time.RFC3339, f.Value)
				if err != nil {
					return nil, &ssm.APIError{Code: "InvalidFilterValue", Message: f.Key + " takes an ISO 8601 time, such as 2026-11-22T03:00:00Z"}
				}
				keep = keep && (f.Key == "InvokedAfter" && !inv.SentAt.Before(at) || f.Key == "InvokedBefore" && !inv.SentAt.After(at))
			}
		}
		if keep {
			cmd := map[string]any{"CommandId": inv.CommandID, "DocumentName": inv.DocumentName, "Comment": inv.Comment,
				"Status": inv.Status, "StatusDetails": inv.StatusDetails, "InstanceIds": []string{inv.InstanceID},
				"RequestedDateTime": epoch(inv.SentAt), "TargetCount": 1}
			if inv.Alarm != nil {
				cmd["AlarmConfiguration"] = alarmConfiguration(inv.Alarm)
				triggered := []map[string]string{}
				for _, t := range inv.TriggeredAlarms {
					triggered = append(triggered, map[string]string{"Name": t.Name, "State": t.State})
				}
				cmd["TriggeredAlarms"] = triggered
			}
			list = append(list, cmd)
		}
	}
	return map[string]any{"Commands": list}, nil
}

// BaselineID is the patch baseline the lab's instances are patched with (AWS's
// predefined baselines have ids of this shape).
const BaselineID = "pb-0123456789abcdef0"

// instanceIDPattern is the pattern of DescribeInstancePatchStates' InstanceIds.
var instanceIDPattern = regexp.MustCompile(`(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`)

// describeInstancePatchStates answers the patch state the last AWS-RunPatchBaseline Scan
// or Install recorded on each named instance, in the order named; an instance none ran
// on is left out. As the API reference has it, InstanceIds is required (at most 50, each
// an instance id) and MaxResults is 10 to 100; the lab answers every state on one page
// unless MaxResults asks for smaller ones.
func (s *Server) describeInstancePatchStates(r *http.Request) (any, error) {
	var in struct {
		InstanceIds *[]string
		MaxResults  *int
		NextToken   string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) error {
		return &ssm.APIError{Code: "ValidationException", Message: "1 validation error detected: " + fmt.Sprintf(format, args...)}
	}
	switch {
	case in.InstanceIds == nil:
		return nil, invalid("Value null at 'instanceIds' failed to satisfy constraint: Member must not be null")
	case len(*in.InstanceIds) > 50:
		return nil, invalid("Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50")
	case in.MaxResults != nil && (*in.MaxResults < 10 || *in.MaxResults > 100):
		return nil, invalid("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", *in.MaxResults)
	}
	var states []map[string]any
	seen := map[string]bool{}
	for k, id := range *in.InstanceIds {
		if !instanceIDPattern.MatchString(id) {
			return nil, invalid("Value '%s' at 'instanceIds.%d.member' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", id, k+1, instanceIDPattern)
		}
		p, ok := s.SSM.PatchState(id)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		state := map[string]any{
			"InstanceId": p.InstanceID, "PatchGroup": "", "BaselineId": BaselineID, "Operation": p.Operation,
			"OperationStartTime": epoch(p.OperationStartTime), "OperationEndTime": epoch(p.OperationEndTime), "RebootOption": p.RebootOption,
			"MissingCount": p.MissingCount, "InstalledCount": p.InstalledCount, "InstalledPendingRebootCount": p.InstalledPendingRebootCount,
			"InstalledOtherCount": 0, "InstalledRejectedCount": 0, "FailedCount": p.FailedCount, "NotApplicableCount": 0,
		}
		if !p.LastNoRebootInstallTime.IsZero() {
			state["LastNoRebootInstallOperationTime"] = epoch(p.LastNoRebootInstallTime)
		}
		states = append(states, state)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "lab-"))
		if err != nil || !strings.HasPrefix(in.NextToken, "lab-") || n < 0 || n > len(states) {
			return nil, &ssm.APIError{Code: "InvalidNextToken", Message: "The specified token isn't valid."}
		}
		start = n
	}
	end := len(states)
	if in.MaxResults != nil {
		end = min(start+*in.MaxResults, end)
	}
	out := map[string]any{"InstancePatchStates": append([]map[string]any{}, states[start:end]...)}
	if end < len(states) {
		out["NextToken"] = "lab-" + strconv.Itoa(end)
	}
	return out, nil
}
