package awsapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/drainpipe/drainpipe/lab/autoscaling"
)

const (
	autoScalingVersion   = "2011-01-01"
	autoScalingNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

// autoScaling answers the Auto Scaling operations drainpipe calls (EnterStandby,
// ExitStandby, DescribeAutoScalingInstances, DescribeAutoScalingGroups) in the query
// protocol: a form POST, lists as Name.member.N, XML answers in Auto Scaling's namespace,
// errors as ErrorResponse with Type Sender and HTTP 400 (ValidationError,
// InvalidNextToken). An endpoint with no Auto Scaling backend has no group.
func (s *Server) autoScaling(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	action := form.Get("Action")
	if s.fail(w, ServiceAutoScaling, action, "", s.call(ServiceAutoScaling, action, "")) {
		return
	}
	svc := s.AutoScaling
	if svc == nil {
		svc = autoscaling.New(s.Clock, nil, nil, Region, Account)
	}
	var result any
	var err error
	switch action {
	case "EnterStandby":
		result, err = enterStandby(svc, form)
	case "ExitStandby":
		result, err = exitStandby(svc, form)
	case "DescribeAutoScalingInstances":
		result, err = describeAutoScalingInstances(svc, form)
	case "DescribeAutoScalingGroups":
		result, err = describeAutoScalingGroups(svc, form)
	default:
		autoScalingError(w, http.StatusBadRequest, "Sender", "InvalidAction",
			"The action "+action+" is not valid for this web service (the lab implements what drainpipe calls).")
		return
	}
	var apiErr *autoscaling.Error
	if errors.As(err, &apiErr) {
		autoScalingError(w, http.StatusBadRequest, "Sender", apiErr.Code, apiErr.Message)
		return
	}
	if err != nil {
		autoScalingError(w, http.StatusBadRequest, "Sender", autoscaling.ValidationError, err.Error())
		return
	}
	queryResult(w, autoScalingNamespace, action, result)
}

// required reads a required parameter; AWS's answer to a missing one is a ValidationError
// in the form of its parameter validation.
func required(form url.Values, name string) (string, error) {
	v, ok := form[name]
	if !ok {
		return "", &autoscaling.Error{Code: autoscaling.ValidationError,
			Message: fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))}
	}
	return v[0], nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

type xmlActivity struct {
	ActivityId           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	StatusCode           string `xml:"StatusCode"`
	Progress             int    `xml:"Progress"`
	Details              string `xml:"Details"`
}

type xmlActivities struct {
	Activities []xmlActivity `xml:"Activities>member"`
}

func activities(acts []autoscaling.Activity) xmlActivities {
	out := xmlActivities{Activities: []xmlActivity{}}
	for _, a := range acts {
		out.Activities = append(out.Activities, xmlActivity{ActivityId: a.ID, AutoScalingGroupName: a.Group, Description: a.Description,
			Cause: a.Cause, StartTime: queryTime(a.Start), StatusCode: a.StatusCode, Progress: a.Progress, Details: a.Details})
	}
	return out
}

// queryTime is a query protocol timestamp: ISO 8601, UTC, milliseconds.
func queryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func enterStandby(svc *autoscaling.Service, form url.Values) (any, error) {
	name, err := required(form, "AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	decrement, err := required(form, "ShouldDecrementDesiredCapacity")
	if err != nil {
		return nil, err
	}
	acts, err := svc.EnterStandby(name, members(form, "InstanceIds"), decrement == "true")
	if err != nil {
		return nil, err
	}
	return activities(acts), nil
}

func exitStandby(svc *autoscaling.Service, form url.Values) (any, error) {
	name, err := required(form, "AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	acts, err := svc.ExitStandby(name, members(form, "InstanceIds"))
	if err != nil {
		return nil, err
	}
	return activities(acts), nil
}

// page reads MaxRecords (default and maximum as the API reference gives them; a value
// below 1 is the default, the lab's choice) and NextToken (the key the previous page ended
// at, opaque to the caller).
func page(form url.Values, def, limit int) (size int, after string, err error) {
	size = def
	if v := form.Get("MaxRecords"); v != "" {
		n, convErr := strconv.Atoi(v)
		switch {
		case convErr != nil:
			return 0, "", &autoscaling.Error{Code: autoscaling.ValidationError, Message: fmt.Sprintf("Invalid value '%s' for MaxRecords", v)}
		case n > limit:
			return 0, "", &autoscaling.Error{Code: autoscaling.ValidationError,
				Message: fmt.Sprintf("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to %d", n, limit)}
		case n >= 1:
			size = n
		}
	}
	if tok := form.Get("NextToken"); tok != "" {
		raw, decErr := base64.RawURLEncoding.DecodeString(tok)
		if decErr != nil || !strings.HasPrefix(string(raw), "lab:") {
			return 0, "", &autoscaling.Error{Code: "InvalidNextToken", Message: "The NextToken value is not valid."}
		}
		after = strings.TrimPrefix(string(raw), "lab:")
	}
	return size, after, nil
}

func nextToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte("lab:" + key)) }

// window returns the keys' slice that follows after (keys are sorted), at most size long,
// and the token of the next page ("" when it is the last).
func window(keys []string, after string, size int) (from, to int, next string) {
	for from < len(keys) && after != "" && keys[from] <= after {
		from++
	}
	to = min(from+size, len(keys))
	if to < len(keys) {
		next = nextToken(keys[to-1])
	}
	return from, to, next
}

func describeAutoScalingInstances(svc *autoscaling.Service, form url.Values) (any, error) {
	size, after, err := page(form, 50, 50)
	if err != nil {
		return nil, err
	}
	found, err := svc.DescribeAutoScalingInstances(members(form, "InstanceIds"))
	if err != nil {
		return nil, err
	}
	type details struct {
		InstanceId           string `xml:"InstanceId"`
		AutoScalingGroupName string `xml:"AutoScalingGroupName"`
		AvailabilityZone     string `xml:"AvailabilityZone"`
		LifecycleState       string `xml:"LifecycleState"`
		HealthStatus         string `xml:"HealthStatus"`
		ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
	}
	var out struct {
		AutoScalingInstances []details `xml:"AutoScalingInstances>member"`
		NextToken            string    `xml:"NextToken,omitempty"`
	}
	out.AutoScalingInstances = []details{}
	keys := make([]string, len(found))
	for i, d := range found {
		keys[i] = d.ID
	}
	from, to, next := window(keys, after, size)
	for _, d := range found[from:to] {
		// DescribeAutoScalingInstances spells the health status in capitals (HEALTHY), as
		// the API reference's sample and real answers do; DescribeAutoScalingGroups does not.
		out.AutoScalingInstances = append(out.AutoScalingInstances, details{InstanceId: d.ID, AutoScalingGroupName: d.Group,
			AvailabilityZone: d.Zone, LifecycleState: d.LifecycleState, HealthStatus: strings.ToUpper(d.HealthStatus),
			ProtectedFromScaleIn: d.ProtectedFromScaleIn})
	}
	out.NextToken = next
	return out, nil
}

func describeAutoScalingGroups(svc *autoscaling.Service, form url.Values) (any, error) {
	size, after, err := page(form, 50, 100)
	if err != nil {
		return nil, err
	}
	groups := svc.DescribeAutoScalingGroups(members(form, "AutoScalingGroupNames"))
	type instance struct {
		InstanceId           string `xml:"InstanceId"`
		AvailabilityZone     string `xml:"AvailabilityZone"`
		LifecycleState       string `xml:"LifecycleState"`
		HealthStatus         string `xml:"HealthStatus"`
		ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
	}
	type group struct {
		AutoScalingGroupName             string     `xml:"AutoScalingGroupName"`
		AutoScalingGroupARN              string     `xml:"AutoScalingGroupARN"`
		MinSize                          int        `xml:"MinSize"`
		MaxSize                          int        `xml:"MaxSize"`
		DesiredCapacity                  int        `xml:"DesiredCapacity"`
		DefaultCooldown                  int        `xml:"DefaultCooldown"`
		AvailabilityZones                []string   `xml:"AvailabilityZones>member"`
		LoadBalancerNames                struct{}   `xml:"LoadBalancerNames"`
		TargetGroupARNs                  []string   `xml:"TargetGroupARNs>member"`
		HealthCheckType                  string     `xml:"HealthCheckType"`
		HealthCheckGracePeriod           int        `xml:"HealthCheckGracePeriod"`
		Instances                        []instance `xml:"Instances>member"`
		CreatedTime                      string     `xml:"CreatedTime"`
		SuspendedProcesses               struct{}   `xml:"SuspendedProcesses"`
		EnabledMetrics                   struct{}   `xml:"EnabledMetrics"`
		Tags                             struct{}   `xml:"Tags"`
		TerminationPolicies              []string   `xml:"TerminationPolicies>member"`
		NewInstancesProtectedFromScaleIn bool       `xml:"NewInstancesProtectedFromScaleIn"`
		ServiceLinkedRoleARN             string     `xml:"ServiceLinkedRoleARN"`
		CapacityRebalance                bool       `xml:"CapacityRebalance"`
	}
	var out struct {
		AutoScalingGroups []group `xml:"AutoScalingGroups>member"`
		NextToken         string  `xml:"NextToken,omitempty"`
	}
	out.AutoScalingGroups = []group{}
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = g.Name
	}
	from, to, next := window(keys, after, size)
	for _, g := range groups[from:to] {
		x := group{AutoScalingGroupName: g.Name, AutoScalingGroupARN: g.ARN, MinSize: g.MinSize, MaxSize: g.MaxSize,
			DesiredCapacity: g.DesiredCapacity, DefaultCooldown: 300, AvailabilityZones: g.Zones, TargetGroupARNs: g.TargetGroupARNs,
			HealthCheckType: g.HealthCheckType, HealthCheckGracePeriod: g.HealthCheckGracePeriod, CreatedTime: queryTime(g.Created),
			TerminationPolicies:  []string{"Default"},
			ServiceLinkedRoleARN: fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", Account)}
		for _, in := range g.Instances {
			x.Instances = append(x.Instances, instance{InstanceId: in.ID, AvailabilityZone: in.Zone, LifecycleState: in.LifecycleState,
				HealthStatus: in.HealthStatus, ProtectedFromScaleIn: in.ProtectedFromScaleIn})
		}
		out.AutoScalingGroups = append(out.AutoScalingGroups, x)
	}
	out.NextToken = next
	return out, nil
}

// autoScalingError writes an error of Auto Scaling's query protocol.
func autoScalingError(w http.ResponseWriter, status int, kind, code, message string) {
	queryError(w, autoScalingNamespace, status, kind, code, message)
}
