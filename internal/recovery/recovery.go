// Package recovery owns what happens after a drainpipe execution ends while it may hold
// something: stopped (from the console, by a timeout, or with its parent), or failed
// outside a Catch. Step Functions runs no Catch then, so its status change event
// (EventBridge, through the restore-execution state machine) brings the execution here.
//
// For an instance execution, a reservation it still holds (package capacity) is the
// record that its instance may be out of service: recovery stops drainpipe's command still
// running on the instance, registers the instance again on its exact ports, takes it out
// of Standby in its Auto Scaling group if it is there (package standby: only drainpipe puts
// an instance it holds there), releases the reservation and says so on the notification
// topic. For a rollout, when the ended
// execution was driving it, it does the same for the instances of the wave it had out
// (their executions were stopped with it), releases the rollout's leases and records its
// end. Every step is idempotent, so a repeated event, or the execution's own rollback
// having done it already, changes nothing.
package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/report"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// SSMAPI is the part of the SSM client recovery uses.
type SSMAPI interface {
	ListCommands(ctx context.Context, in *ssm.ListCommandsInput, opts ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error)
	CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, opts ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error)
}

// DynamoDBAPI is the part of the DynamoDB client recovery uses: the capacity table and
// the rollouts table.
type DynamoDBAPI interface {
	capacity.DynamoDBAPI
	rollout.StoreAPI
}

// SFNAPI is the part of the Step Functions client recovery uses: whether a reservation's
// holder still runs, and stopping it when it must not.
type SFNAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, opts ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Recoverer puts back what ended executions held.
type Recoverer struct {
	ELB targets.RegistrarAPI
	SSM SSMAPI
	SFN SFNAPI
	DB  DynamoDBAPI
	SNS report.PublisherAPI
	// Standby takes a restored instance out of Standby.
	Standby standby.Mover
	// Now is the clock; nil means time.Now.
	Now clock.Clock
}

// New makes a Recoverer whose clients are made from an AWS config.
func New(cfg aws.Config) Recoverer {
	return Recoverer{ELB: elbv2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg),
		DB: dynamodb.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), Standby: standby.New(cfg)}
}

// Request is the input of restore-execution: the status change event, and where the
// deployment keeps its capacity table and notification topic.
type Request struct {
	Event Event `json:"event"`
	// Restorer is the restore's own execution: at most one restore acts on a reservation.
	Restorer string `json:"restorer"`
	// Table is the capacity table; RolloutTable the rollouts table.
	Table        string `json:"table"`
	RolloutTable string `json:"rolloutTable"`
	TopicARN     string `json:"topicArn"`
}

// AuditExecution is the restore's own execution: what it changes, it changes for the
// execution the event names (each line says which).
func (r Request) AuditExecution() string { return r.Restorer }

// Event is EventBridge's "Step Functions Execution Status Change" event, the part read.
type Event struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		ExecutionARN    string  `json:"executionArn"`
		StateMachineARN string  `json:"stateMachineArn"`
		Name            string  `json:"name"`
		Status          string  `json:"status"`
		Input           string  `json:"input"`
		Error           *string `json:"error"`
		Cause           *string `json:"cause"`
	} `json:"detail"`
}

// Report says what was put back.
type Report struct {
	ExecutionARN string `json:"executionArn"`
	Status       string `json:"status"`
	// InstanceID, Registrations and Cancelled: an instance execution's instance, the
	// registrations made again and the commands stopped.
	InstanceID    string                  `json:"instanceId,omitempty"`
	Registrations []workflow.Registration `json:"registrations,omitempty"`
	Cancelled     []string                `json:"cancelledCommands,omitempty"`
	Stopped       []string                `json:"stopped,omitempty"`
	// ExitedStandby is the Auto Scaling group the instance was taken out of Standby in.
	ExitedStandby string `json:"exitedStandby,omitempty"`
	// Released is the reservation's release; LeasesReleased a rollout's groups.
	Released       *workflow.Released `json:"released,omitempty"`
	LeasesReleased []string           `json:"leasesReleased,omitempty"`
	// Text is the notification, empty when nothing was held.
	Text string `json:"text,omitempty"`
}

// Restore puts back what the ended execution held.
func (r Recoverer) Restore(ctx context.Context, req Request) (Report, error) {
	d := req.Event.Detail
	if d.ExecutionARN == "" || req.Table == "" || req.RolloutTable == "" || req.Restorer == "" {
		return Report{}, faults.New(faults.InvalidInput, "restore-execution needs event.detail.executionArn, restorer, table and rolloutTable")
	}
	rep := Report{ExecutionARN: d.ExecutionARN, Status: d.Status}
	var in struct {
		InstanceID      string         `json:"instanceId"`
		TargetGroupARNs []string       `json:"targetGroupArns"`
		Continuation    *rollout.State `json:"continuation"`
	}
	if err := json.Unmarshal([]byte(d.Input), &in); err != nil {
		return Report{}, faults.New(faults.InvalidInput, "the input of %s is not JSON: %v", d.ExecutionARN, err)
	}
	var err error
	switch {
	case in.InstanceID != "":
		var text string
		if text, err = r.restoreInstance(ctx, req, in.InstanceID, d.ExecutionARN, &rep); err == nil && text != "" {
			rep.Text = fmt.Sprintf("drainpipe execution %s ended %s%s while it held instance %s out of service. %s",
				d.ExecutionARN, d.Status, errorNote(req.Event), in.InstanceID, text)
		}
	case in.Continuation != nil:
		err = r.restoreRollout(ctx, req, in.Continuation.Rollout.ID, &rep)
	case len(in.TargetGroupARNs) > 0:
		err = r.restoreRollout(ctx, req, d.ExecutionARN, &rep)
	default:
		return rep, nil // not an execution of drainpipe's: nothing to do
	}
	if err != nil {
		return Report{}, err
	}
	if rep.Text != "" && req.TopicARN != "" {
		subject := "drainpipe restored after " + strings.ToLower(d.Status)
		if _, err := r.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &req.TopicARN, Subject: &subject, Message: &rep.Text}); err != nil {
			return Report{}, fmt.Errorf("notifying %s: %w", req.TopicARN, err)
		}
	}
	return rep, nil
}

// restoreInstance puts the instance back if the execution still holds its reservation and
// no other restore has claimed it, and says what it did ("" when it did nothing).
func (r Recoverer) restoreInstance(ctx context.Context, req Request, instanceID, execution string, rep *Report) (string, error) {
	rep.InstanceID = instanceID
	// The holder must have ended: a restore started by hand, or a rollout's end while one
	// of its children still runs, must not pull an instance back from under it. A running
	// holder is stopped instead, and its own end brings it here again (so this restore
	// must not claim the reservation first).
	if running, err := r.stopIfRunning(ctx, execution, req.Event.Detail.ExecutionARN); err != nil || running {
		if err == nil {
			rep.Stopped = append(rep.Stopped, execution)
		}
		return "", err
	}
	reserver := capacity.Reserver{DB: r.DB, Now: r.Now}
	res, claimed, err := reserver.Claim(ctx, req.Table, instanceID, execution, req.Restorer)
	if err != nil || !claimed {
		return "", err
	}
	regs := res.Registrations
	// The reservation makes this execution the instance's only maintainer: any drainpipe
	// command still running there is its own. Stop it before the instance takes traffic.
	cancelled, err := r.cancelCommands(ctx, instanceID)
	if err != nil {
		return "", err
	}
	rep.Cancelled = append(rep.Cancelled, cancelled...)
	s := workflow.State{Plan: workflow.Plan{InstanceID: instanceID, Registrations: regs}}
	var where []string
	for _, reg := range regs {
		where = append(where, fmt.Sprintf("%s:%d", workflow.GroupName(reg.TargetGroupARN), reg.Port))
	}
	text := fmt.Sprintf("Registered it again on %s; its capacity reservation is released.", strings.Join(where, ", "))
	_, err = (targets.Registrar{API: r.ELB, Now: r.Now}).Register(ctx, s)
	switch {
	case faults.NameOf(err) == faults.InstanceNotRunning || faults.NameOf(err) == faults.TargetGroupNotFound:
		// Stopped or terminated meanwhile, or a group deleted: what is not put back is not
		// in service, and the reservation would only hold capacity that is not there.
		text = fmt.Sprintf("Could NOT register it again on all of %s: %s. Its capacity reservation is released; register it again where it belongs once it runs.",
			strings.Join(where, ", "), strings.TrimPrefix(err.Error(), faults.NameOf(err)+": "))
	case err != nil:
		return "", err // keep the reservation: the instance may still be out
	default:
		rep.Registrations = append(rep.Registrations, regs...)
	}
	// Out of Standby too, stopped or not: a stopped instance is the group's to replace.
	mover := r.Standby
	mover.Now = r.Now
	sb, err := mover.ExitInstance(ctx, instanceID)
	if err != nil {
		return "", err // keep the reservation: the instance may still be out
	}
	if sb.Changed {
		rep.ExitedStandby = sb.Group
		text += fmt.Sprintf(" Took it out of Standby in Auto Scaling group %s.", sb.Group)
	}
	released, err := reserver.Release(ctx, capacity.Request{State: s, Execution: execution, Table: req.Table})
	if err != nil {
		return "", err
	}
	rep.Released = &released
	if len(cancelled) > 0 {
		text += " Cancelled its running command(s) " + strings.Join(cancelled, ", ") + "."
	}
	return text, nil
}

// stopIfRunning stops the execution if it is still running and says whether it was.
func (r Recoverer) stopIfRunning(ctx context.Context, execution, because string) (bool, error) {
	out, err := r.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &execution})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describing %s: %w", execution, err)
	case out.Status != sfntypes.ExecutionStatusRunning:
		return false, nil
	}
	_, err = r.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &execution, Error: new("Recovery"),
		Cause: new("stopped by drainpipe's recovery: " + because + " ended")})
	audit.Record(ctx, audit.StopExecution, err, nil, slog.String("stopped", execution))
	if err != nil {
		return true, fmt.Errorf("stopping %s: %w", execution, err)
	}
	return true, nil
}

// cancelCommands cancels drainpipe's commands still pending or running on the instance.
func (r Recoverer) cancelCommands(ctx context.Context, instanceID string) ([]string, error) {
	out, err := r.SSM.ListCommands(ctx, &ssm.ListCommandsInput{InstanceId: &instanceID})
	if err != nil {
		return nil, fmt.Errorf("listing the commands on %s: %w", instanceID, err)
	}
	var cancelled []string
	for _, c := range out.Commands {
		if c.CommandId == nil || c.Comment == nil || !strings.HasPrefix(*c.Comment, "drainpipe ") || !running(c.Status) {
			continue
		}
		_, err := r.SSM.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: c.CommandId, InstanceIds: []string{instanceID}})
		// A command that has ended (InvalidCommandId), or an instance terminated meanwhile
		// (InvalidInstanceId), leaves nothing to cancel.
		var gone *ssmtypes.InvalidCommandId
		var terminated *ssmtypes.InvalidInstanceId
		nothing := func(err error) bool { return errors.As(err, &gone) || errors.As(err, &terminated) }
		audit.Record(ctx, audit.CancelCommand, err, nothing, audit.Instance(instanceID), audit.CommandID(*c.CommandId))
		if err != nil && !nothing(err) {
			return nil, fmt.Errorf("cancelling command %s on %s: %w", *c.CommandId, instanceID, err)
		}
		cancelled = append(cancelled, *c.CommandId)
	}
	return cancelled, nil
}

func running(s ssmtypes.CommandStatus) bool {
	return s == ssmtypes.CommandStatusPending || s == ssmtypes.CommandStatusInProgress
}

// restoreRollout, when the ended execution drove the rollout (a part that handed it to a
// continuation no longer does), puts back the instances of the wave it was running (each
// held by its child execution, which Step Functions stopped with it), releases the
// rollout's leases and records its end.
func (r Recoverer) restoreRollout(ctx context.Context, req Request, id string, rep *Report) error {
	d := req.Event.Detail
	store := rollout.Store{DB: r.DB, Table: req.RolloutTable}
	meta, err := store.Meta(ctx, id)
	if faults.NameOf(err) == faults.InvalidInput {
		return nil // never planned: nothing was taken
	}
	if err != nil {
		return err
	}
	if meta.Driver != d.ExecutionARN {
		return nil // a continuation runs the rollout now, and its end will be recovered
	}
	// The leases first: they are the rollout's alone, and nothing below may keep them.
	released, err := leases.Locker{API: r.DB, Now: r.Now}.Release(ctx, req.Table, id, meta.Input.TargetGroupARNs)
	if err != nil {
		return err
	}
	slices.Sort(released)
	rep.LeasesReleased = released
	if err := store.End(ctx, id, endStatus(d.Status), "the execution "+d.ExecutionARN+" ended "+d.Status); err != nil {
		return err
	}
	var restored []string
	if meta.Next < meta.Waves {
		wave, err := store.Wave(ctx, id, meta.Next)
		if err != nil {
			return err
		}
		for _, item := range wave.Instances {
			child, held, err := r.childHolding(ctx, req.Table, item.InstanceID, rollout.ChildName(meta.Name, item.InstanceID))
			if err != nil {
				return err
			}
			if !held {
				continue
			}
			text, err := r.restoreInstance(ctx, req, item.InstanceID, child, rep)
			if err != nil {
				return err
			}
			if text != "" {
				restored = append(restored, item.InstanceID)
			}
		}
	}
	if len(released) == 0 && len(restored) == 0 {
		return nil
	}
	var names []string
	for _, arn := range released {
		names = append(names, workflow.GroupName(arn))
	}
	rep.Text = fmt.Sprintf("drainpipe rollout %s ended %s%s.", id, d.Status, errorNote(req.Event))
	if len(released) > 0 {
		rep.Text += " Released its lease(s) on " + strings.Join(names, ", ") + "."
	}
	if len(restored) > 0 {
		rep.Text += fmt.Sprintf(" Its wave's executions were stopped with it; registered again, their reservations released: %s.", strings.Join(restored, ", "))
	}
	return nil
}

// childHolding returns the execution holding the instance's reservation when it is the
// rollout's child (its deterministic name).
func (r Recoverer) childHolding(ctx context.Context, table, instanceID, childName string) (string, bool, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: new(true),
		Key: map[string]ddb.AttributeValue{ddbitem.CapacityKey: &ddb.AttributeValueMemberS{Value: capacity.InstanceKey(instanceID)}}})
	if err != nil {
		return "", false, fmt.Errorf("reading the reservation of %s: %w", instanceID, err)
	}
	res, ok := capacity.ReservationOf(out.Item)
	if !ok || !strings.HasSuffix(res.Holder, ":"+childName) {
		return "", false, nil
	}
	return res.Holder, true, nil
}

// endStatus is the rollout's recorded outcome after its execution ended this way.
func endStatus(status string) string {
	switch status {
	case "ABORTED":
		return "stopped"
	case "TIMED_OUT":
		return "timed-out"
	}
	return "failed"
}

func errorNote(e Event) string {
	if e.Detail.Error == nil || *e.Detail.Error == "" {
		return ""
	}
	note := " (" + *e.Detail.Error
	if e.Detail.Cause != nil && *e.Detail.Cause != "" {
		cause := *e.Detail.Cause
		if len(cause) > 300 {
			cause = cause[:300] + "..."
		}
		note += ": " + cause
	}
	return note + ")"
}
