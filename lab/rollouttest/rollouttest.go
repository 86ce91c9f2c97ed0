// Package rollouttest helps the tests of the fleet's steps: a DynamoDB (dynalite) with
// drainpipe's two tables, a rollout written as plan-rollout writes it, and fakes of the
// EC2, Step Functions and SNS calls the steps make. Tests only, and part of the lab (it
// runs dynalite): no product code imports it.
package rollouttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
	labdynamodb "github.com/drainpipe/drainpipe/lab/dynamodb"
)

// Web is the target group of the test rollouts; InstanceMachine runs their children.
const (
	Web             = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	InstanceMachine = "arn:aws:states:eu-west-1:123456789012:stateMachine:drainpipe-maintain-instance"
	// CapacityTable and RolloutTable are the tables' names in Tables.
	CapacityTable = "capacity"
	RolloutTable  = "rollouts"
)

// ID is the n-th instance's id.
func ID(n int) string { return fmt.Sprintf("i-%017d", n) }

// Tables starts a DynamoDB (dynalite) with the capacity table and the rollouts table.
func Tables(t *testing.T) *dynamodb.Client {
	t.Helper()
	return labdynamodb.ForTest(t, labdynamodb.Table{Name: CapacityTable, PartitionKey: ddbitem.CapacityKey},
		labdynamodb.Table{Name: RolloutTable, PartitionKey: rollout.PartitionKey, SortKey: rollout.SortKey})
}

// New writes a rollout of waves of the given sizes (instances numbered from 1, all in
// Web) and one skip, and returns its state as plan-rollout would.
func New(t *testing.T, db *dynamodb.Client, name string, in rollout.Input, sizes ...int) rollout.State {
	t.Helper()
	return WithSkips(t, db, name, in, []rollout.Skip{{InstanceID: ID(99), Reason: "not running"}}, sizes...)
}

// WithSkips is New with the given skips.
func WithSkips(t *testing.T, db *dynamodb.Client, name string, in rollout.Input, skips []rollout.Skip, sizes ...int) rollout.State {
	t.Helper()
	id := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:" + name
	in.TargetGroupARNs = []string{Web}
	meta := rollout.Meta{ID: id, Name: name, Input: in, StartedAt: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC),
		Groups: []waveplan.Group{{ARN: Web, Healthy: 20, MinHealthy: 15, MaxOut: 5}}, Waves: len(sizes), Status: rollout.StatusRunning, Driver: id, Part: 1}
	var waves []rollout.WaveRecord
	n := 0
	for _, size := range sizes {
		var w rollout.WaveRecord
		for range size {
			n++
			w.Instances = append(w.Instances, rollout.WaveItem{InstanceID: ID(n), Groups: []int{0}})
		}
		waves = append(waves, w)
		meta.Planned += size
	}
	meta.Skipped = len(skips)
	if _, err := (rollout.Store{DB: db, Table: RolloutTable}).Create(context.Background(), meta, waves, skips); err != nil {
		t.Fatal(err)
	}
	return rollout.State{Rollout: rollout.Ref{ID: id, Name: name, Execution: id, Part: 1, Table: RolloutTable, CapacityTable: CapacityTable,
		TopicARN: "arn:aws:sns:eu-west-1:123456789012:drainpipe", InstanceStateMachineARN: InstanceMachine},
		Cursor: rollout.Cursor{Waves: len(sizes), Events: rollout.EstimateEvents()}}
}

// ChildARN is the execution ARN of the n-th instance's child in the rollout.
func ChildARN(s rollout.State, n int) string {
	return rollout.ExecutionARN(InstanceMachine, rollout.ChildName(s.Rollout.Name, ID(n)))
}

// Tagger records the instances tagged.
type Tagger struct {
	mu     sync.Mutex
	Tagged []string
}

func (f *Tagger) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Tagged = append(f.Tagged, in.Resources...)
	return &ec2.CreateTagsOutput{}, nil
}

// Executions answers DescribeExecution from a map of execution ARN to status (absent: the
// execution does not exist). A succeeded execution's output is Output when set.
type Executions struct {
	Status map[string]sfntypes.ExecutionStatus
	Output map[string]string
}

// NewExecutions is an empty Executions.
func NewExecutions() *Executions {
	return &Executions{Status: map[string]sfntypes.ExecutionStatus{}, Output: map[string]string{}}
}

func (f *Executions) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	status, ok := f.Status[*in.ExecutionArn]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: new("Execution Does Not Exist")}
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: status}
	switch status {
	case sfntypes.ExecutionStatusSucceeded:
		out.Output = new(`{"phaseSeconds":{"drain":31}}`)
		if o, ok := f.Output[*in.ExecutionArn]; ok {
			out.Output = new(o)
		}
	case sfntypes.ExecutionStatusFailed:
		// As Step Functions gives a function error: the payload, as JSON.
		out.Error, out.Cause = new("MaintenanceFailed"), new(`{"errorMessage":"exit 1: `+strings.Repeat("x", 2000)+`","errorType":"MaintenanceFailed"}`)
	}
	return out, nil
}

// Health answers GroupHealth: every group holds each instance of States, on port 8080,
// in its state; an instance not in States is registered nowhere.
type Health struct {
	States map[string]workflow.HealthState
}

func (f Health) GroupHealth(_ context.Context, arn string) ([]workflow.TargetState, error) {
	var out []workflow.TargetState
	for id, state := range f.States {
		out = append(out, workflow.TargetState{TargetGroupARN: arn, ID: id, Port: 8080, State: state})
	}
	return out, nil
}

// Topic records the messages published, or fails every publish with Err.
type Topic struct {
	Messages []string
	Err      error
}

func (f *Topic) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	f.Messages = append(f.Messages, *in.Message)
	return &sns.PublishOutput{}, nil
}

// ErrUnavailable is a publish failure.
var ErrUnavailable = errors.New("sns unavailable")
