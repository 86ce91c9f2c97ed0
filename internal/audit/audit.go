// Package audit is drainpipe's audit trail: every call that changes something (a
// deregistration or registration, a command sent or cancelled, a tag, a reservation or a
// lease written or removed) is logged as one structured line, message "change", with the
// execution it was made for, what it changed and how it ended. An operator reconstructs
// afterwards what drainpipe changed from these lines alone:
//
//	fields @timestamp, requestId, action, outcome, execution, instance, group, ports
//	| filter message = "change"
//
// The Lambda request id is added by aws-lambda-go's log handler (lambdacontext), which
// start installs as the default logger; the execution comes from the request, which
// start.Bind puts in the context.
package audit

import (
	"context"
	"log/slog"
)

// Message is the message of every audit line.
const Message = "change"

// The actions, one per kind of change.
const (
	Deregister    = "deregister"
	Register      = "register"
	SendCommand   = "send-command"
	CancelCommand = "cancel-command"
	Tag           = "tag"
	EnterStandby  = "enter-standby"
	ExitStandby   = "exit-standby"
	// Reserve writes an instance's reservation; ReserveGroup adds it to a group's ledger.
	Reserve      = "reserve"
	ReserveGroup = "reserve-group"
	// Release and ReleaseGroup remove them.
	Release      = "release"
	ReleaseGroup = "release-group"
	// ClaimRestore marks a reservation as being put back by one restore.
	ClaimRestore = "claim-restore"
	// StopExecution stops an execution (a restore stops a failed rollout's children).
	StopExecution = "stop-execution"
	AcquireLease  = "acquire-lease"
	ReleaseLease  = "release-lease"
)

// The outcomes of a change.
const (
	// Done: the call succeeded.
	Done = "done"
	// Refused: a condition of the write did not hold (another holder, a moved version);
	// nothing changed.
	Refused = "refused"
	// Failed: the call failed; whether it changed anything is unknown.
	Failed = "failed"
)

type executionKey struct{}

// Executed is a request that names the execution it is made for.
type Executed interface {
	AuditExecution() string
}

// WithExecution is ctx carrying the execution that the changes made with it are for.
func WithExecution(ctx context.Context, arn string) context.Context {
	if arn == "" {
		return ctx
	}
	return context.WithValue(ctx, executionKey{}, arn)
}

// FromRequest is ctx carrying the request's execution, when the request names one.
func FromRequest(ctx context.Context, req any) context.Context {
	if e, ok := req.(Executed); ok {
		return WithExecution(ctx, e.AuditExecution())
	}
	return ctx
}

// Execution is the execution ctx carries, or "".
func Execution(ctx context.Context) string {
	arn, _ := ctx.Value(executionKey{}).(string)
	return arn
}

// Record logs one change: its action, its outcome (Done when err is nil, Refused when
// refused says the error is a failed condition, Failed otherwise), the execution from
// ctx, and what it changed (Instance, Group, Ports, ...).
func Record(ctx context.Context, action string, err error, refused func(error) bool, attrs ...slog.Attr) {
	outcome, level := Done, slog.LevelInfo
	switch {
	case err == nil:
	case refused != nil && refused(err):
		outcome = Refused
	default:
		outcome, level = Failed, slog.LevelWarn
	}
	all := make([]slog.Attr, 0, len(attrs)+4)
	all = append(all, slog.String("action", action), slog.String("outcome", outcome), slog.String("execution", Execution(ctx)))
	all = append(all, attrs...)
	if err != nil {
		all = append(all, slog.String("error", err.Error()))
	}
	slog.LogAttrs(ctx, level, Message, all...)
}

// Instance, Group, Ports, ... name what a change changed.
func Instance(id string) slog.Attr     { return slog.String("instance", id) }
func Group(arn string) slog.Attr       { return slog.String("group", arn) }
func Ports(ps []int32) slog.Attr       { return slog.Any("ports", ps) }
func CommandID(id string) slog.Attr    { return slog.String("commandId", id) }
func Document(name string) slog.Attr   { return slog.String("document", name) }
func Table(name string) slog.Attr      { return slog.String("table", name) }
func Holder(arn string) slog.Attr      { return slog.String("holder", arn) }
func Instances(ids []string) slog.Attr { return slog.Any("instances", ids) }
func AutoScalingGroup(name string) slog.Attr {
	return slog.String("autoScalingGroup", name)
}
