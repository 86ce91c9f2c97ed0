// Package faults owns drainpipe's named errors: the stable names that Step Functions
// matches in Retry and Catch, and their mapping at the Lambda boundary.
//
// aws-lambda-go reports a returned error's Go type name as errorType, so a wrapped error
// would reach Step Functions as "wrapError". Every handler therefore returns its errors
// through Lambda, which turns them into an errorType that is one of the names below.
package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda/messages"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// The error names drainpipe's functions can produce. The state machine test checks that
// every custom name in an ErrorEquals is in Names.
const (
	// InvalidInput: the input is malformed or inconsistent; nothing was changed.
	InvalidInput = "InvalidInput"
	// TargetGroupNotFound: a target group ARN in the input does not exist.
	TargetGroupNotFound = "TargetGroupNotFound"
	// UnsupportedTargetType: a target group's target type is not "instance".
	UnsupportedTargetType = "UnsupportedTargetType"
	// UnsupportedLoadBalancer: a target group belongs to a Network or Gateway Load
	// Balancer (protocol TCP, UDP, TCP_UDP, TLS or GENEVE), whose draining differs from an
	// Application Load Balancer's; nothing was changed.
	UnsupportedLoadBalancer = "UnsupportedLoadBalancer"
	// TargetGroupNotInUse: a target group is attached to no load balancer, so its targets
	// are "unused" (Target.NotInUse) and can never report healthy; nothing was changed.
	TargetGroupNotInUse = "TargetGroupNotInUse"
	// DeregistrationDelayTooShort: a target group's deregistration delay is 0, so the load
	// balancer would cut the requests in flight; nothing was changed.
	DeregistrationDelayTooShort = "DeregistrationDelayTooShort"
	// InstanceNotInTargetGroup: the instance is not a registered target of a group.
	InstanceNotInTargetGroup = "InstanceNotInTargetGroup"
	// TargetGroupUnhealthy: a target group has targets that are not healthy.
	TargetGroupUnhealthy = "TargetGroupUnhealthy"
	// LastHealthyTarget: taking the instance out would leave a group with no healthy target.
	LastHealthyTarget = "LastHealthyTarget"
	// InstanceNotHealthy: the instance is registered but not a healthy target.
	InstanceNotHealthy = "InstanceNotHealthy"
	// InstanceNotRunning: the load balancer refuses to register the instance again
	// (InvalidTarget): it was stopped or terminated meanwhile. Nothing of it is in service
	// to put back; it needs registering once it runs again.
	InstanceNotRunning = "InstanceNotRunning"
	// InstanceInStandby: the instance is in Standby in its Auto Scaling group, put there
	// by someone else: it is out of the group's service already, and drainpipe does not
	// take it back into service behind their back; nothing was changed.
	InstanceInStandby = "InstanceInStandby"
	// HookFailed: a hook the input names failed on the instance or ran past its timeout
	// (the message says which hook and how); see workflow.Hooks for what each failure
	// leaves.
	HookFailed = "HookFailed"
	// StandbyRefused: the instance's Auto Scaling group refused to put it in Standby (its
	// desired capacity would go below its minimum size, or the group is launching,
	// terminating or detaching it); nothing was taken out.
	StandbyRefused = "StandbyRefused"
	// StandbyPending: the instance is still entering Standby (its group's target groups
	// drain first) and cannot exit it yet; the state machines retry it for longer than
	// the longest deregistration delay.
	StandbyPending = "StandbyPending"
	// StandbyExitRefused: the instance's Auto Scaling group refused to take it out of
	// Standby (at its maximum size, it cannot take one more); the state machines retry
	// it, then keep the reservation for the recovery, and the message says what to do.
	StandbyExitRefused = "StandbyExitRefused"
	// InstanceNotTagged: the instance lacks the deployment's instanceTag, so drainpipe may
	// not send it commands.
	InstanceNotTagged = "InstanceNotTagged"
	// AlarmActive: a CloudWatch alarm the input names is in ALARM, or went into ALARM
	// during a rollout's bake; nothing more is taken out.
	AlarmActive = "AlarmActive"
	// AlarmNotFound: an alarm the input names does not exist, or its prefix matches none;
	// nothing was changed.
	AlarmNotFound = "AlarmNotFound"
	// DrainTimeout: the instance was still draining when the drain deadline passed.
	DrainTimeout = "DrainTimeout"
	// DrainInterrupted: while draining, the instance was registered again by someone else.
	DrainInterrupted = "DrainInterrupted"
	// MaintenanceFailed: the maintenance command failed, was cancelled or timed out.
	MaintenanceFailed = "MaintenanceFailed"
	// IdleCheckFailed: an idle drain's check never found the instance idle before the
	// deregistration delay ended, or failed; the drain waits out the delay instead (it is
	// never an execution's error).
	IdleCheckFailed = "IdleCheckFailed"
	// RequiredCheckFailed: the check of whether the maintenance has anything to do (a
	// patch Scan, or reboot's required check) failed, timed out, or gave no verdict;
	// nothing was changed.
	RequiredCheckFailed = "RequiredCheckFailed"
	// HealthCheckFailed: the on-instance health check commands failed or timed out.
	HealthCheckFailed = "HealthCheckFailed"
	// TargetNotHealthy: after registration the instance (or its group) did not become
	// healthy before the deadline.
	TargetNotHealthy = "TargetNotHealthy"
	// CapacityBudgetExceeded: no rollout plan keeps every group within its capacity budget.
	CapacityBudgetExceeded = "CapacityBudgetExceeded"
	// CapacityUnavailable: taking the instance out would leave a group below the floor of
	// one of the executions that hold capacity in it (or its own); nothing was changed.
	CapacityUnavailable = "CapacityUnavailable"
	// InstanceReserved: another execution holds the instance's reservation (it is
	// maintaining it); nothing was changed.
	InstanceReserved = "InstanceReserved"
	// ReservationConflict: concurrent reservations kept a grant from being written after
	// several attempts; the state machine retries.
	ReservationConflict = "ReservationConflict"
	// RolloutInProgress: another rollout holds a lease on one of the target groups.
	RolloutInProgress = "RolloutInProgress"
	// ChildRunning: an instance's execution had not ended when its wave was recorded; the
	// state machine retries.
	ChildRunning = "ChildRunning"
	// RolloutAborted: failed instances exceeded the rollout's error budget.
	RolloutAborted = "RolloutAborted"
	// RolloutProblems: the rollout ran, but something around it failed (a lease not
	// released, a child's output unreadable, the notification not sent); the summary's
	// problems say what.
	RolloutProblems = "RolloutProblems"
	// TransientAPIError: an AWS API call was throttled or failed with a server error (5xx)
	// even
	// after the SDK's own retries; the state machine retries it.
	TransientAPIError = "TransientAPIError"
	// APIError: an AWS API call failed for a reason retrying will not fix (for example
	// AccessDenied); the message carries the API's error code.
	APIError = "APIError"
	// InternalError: anything else; a bug or an unexpected condition.
	InternalError = "InternalError"
)

// Names lists every error name above.
var Names = []string{
	InvalidInput, TargetGroupNotFound, UnsupportedTargetType, UnsupportedLoadBalancer, TargetGroupNotInUse,
	DeregistrationDelayTooShort, InstanceNotInTargetGroup,
	TargetGroupUnhealthy, LastHealthyTarget, InstanceNotHealthy, InstanceNotTagged, InstanceNotRunning, InstanceInStandby, StandbyRefused, StandbyPending, StandbyExitRefused, AlarmActive, AlarmNotFound,
	DrainTimeout, DrainInterrupted, IdleCheckFailed, RequiredCheckFailed, MaintenanceFailed, HealthCheckFailed, HookFailed, TargetNotHealthy,
	CapacityBudgetExceeded, CapacityUnavailable, InstanceReserved, ReservationConflict, RolloutInProgress, ChildRunning, RolloutAborted, RolloutProblems,
	TransientAPIError, APIError, InternalError,
}

// Error is a failure with a stable name. Message says what happened and, for bad input,
// what to fix.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// New returns a named error with a formatted message.
func New(name, format string, args ...any) error {
	return &Error{Name: name, Message: fmt.Sprintf(format, args...)}
}

// NameOf returns the stable name of err: the name of the first *Error in its chain, or
// the name its AWS API error maps to, or InternalError.
func NameOf(err error) string {
	var named *Error
	if errors.As(err, &named) {
		return named.Name
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return TransientAPIError
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return apiErrorName(api)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return TransientAPIError
	}
	// The network broke under a call (a connection reset, an answer cut short): the call
	// may be tried again.
	var netErr net.Error
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr) {
		return TransientAPIError
	}
	return InternalError
}

// throttlingCodes are the AWS error codes that mean "slow down"; retrying later helps.
var throttlingCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestLimitExceeded": true, "TooManyRequestsException": true,
	"RequestThrottled": true, "RequestThrottledException": true,
	"ProvisionedThroughputExceededException": true, "PriorRequestNotComplete": true,
}

func apiErrorName(api smithy.APIError) string {
	if throttlingCodes[api.ErrorCode()] || api.ErrorFault() == smithy.FaultServer {
		return TransientAPIError
	}
	return APIError
}

// Lambda wraps a handler so that every error it returns reaches Lambda (and so Step
// Functions) with a stable errorType and a message that keeps the whole chain. It logs
// each failure once, here at the boundary; a panic is answered as InternalError.
func Lambda[Req, Resp any](name string, fn func(context.Context, Req) (Resp, error)) func(context.Context, Req) (Resp, error) {
	return func(ctx context.Context, req Req) (resp Resp, err error) {
		// A panic is a bug, but it is answered as any unexpected error: InternalError,
		// which the state machines catch (and put the instance back), rather than as the
		// panic value's Go type name, which aws-lambda-go would answer and nothing matches.
		defer func() {
			if p := recover(); p != nil {
				slog.ErrorContext(ctx, "function panicked", "function", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = messages.InvokeResponse_Error{Type: InternalError, Message: fmt.Sprintf("%s panicked: %v", name, p)}
			}
		}()
		resp, err = fn(ctx, req)
		if err == nil {
			return resp, nil
		}
		errName := NameOf(err)
		slog.ErrorContext(ctx, "function failed", "function", name, "errorType", errName, "error", err.Error())
		return resp, messages.InvokeResponse_Error{Type: errName, Message: message(err, errName)}
	}
}

// CauseMessage is what a Step Functions Cause says, in words. A function error's Cause
// is the error payload the function returned, as JSON ({"errorMessage", "errorType"});
// its message is returned alone, the name being the Error beside it. Any other Cause (a
// Fail state's, States.Timeout's) is returned as it is.
func CauseMessage(cause string) string {
	var payload struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	if !strings.HasPrefix(strings.TrimSpace(cause), "{") || json.Unmarshal([]byte(cause), &payload) != nil || payload.ErrorMessage == nil {
		return cause
	}
	return strings.TrimPrefix(*payload.ErrorMessage, payload.ErrorType+": ")
}

// message drops the "Name: " the chain's *Error adds, so the cause reads "instance i-...
// in target group web: not healthy" rather than repeating the name beside it, whether
// the named error is the chain's first or wrapped in context.
func message(err error, name string) string {
	var named *Error
	if errors.As(err, &named) {
		return strings.Replace(err.Error(), named.Name+": "+named.Message, named.Message, 1)
	}
	return err.Error()
}
