// Package leases owns a fleet rollout's locks on its target groups: one item per group in
// the capacity table (package capacity), taken all or none, renewed before every wave and
// released at the end, so that two rollouts never plan against the same groups. It runs
// the fleet state machine's acquire-leases and release-leases steps.
package leases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// DynamoDBAPI is the part of the DynamoDB client the leases use.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Leases live in the capacity table (package capacity), one item per target group under
// the key LeaseKey, with the table's expiry attribute. A lease is held by a rollout's ID
// (its first execution's ARN), so every part of the rollout holds it.
const (
	leaseGroup   = "targetGroupArn"
	leaseHolder  = "holder"
	leaseExpires = ddbitem.CapacityExpiry
)

// LeaseKey is the capacity table key of a group's rollout lease.
func LeaseKey(arn string) string { return "lease#" + arn }

func leaseItemKey(arn string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{ddbitem.CapacityKey: &ddbtypes.AttributeValueMemberS{Value: LeaseKey(arn)}}
}

// Locker takes and releases a rollout's leases: one item per target group.
type Locker struct {
	API DynamoDBAPI
	// Now is the clock; nil means time.Now.
	Now clock.Clock
}

// Acquire takes a lease on every group for the holder, or none: if a group is held by
// another unexpired rollout it releases what it took and fails with RolloutInProgress
// naming the holder. An expired lease (a crashed run) is taken over. Called again by the
// same holder it renews its leases: the state machine does so before every wave.
func (l Locker) Acquire(ctx context.Context, table, holder string, groups []string, seconds int) (rollout.Leases, error) {
	if table == "" || holder == "" {
		return rollout.Leases{}, faults.New(faults.InvalidInput, "taking leases needs the capacity table and the rollout")
	}
	if seconds == 0 {
		seconds = rollout.DefaultLeaseSeconds
	}
	now := l.Now.Now().Unix()
	leases := rollout.Leases{ExpiresAt: now + int64(seconds)}
	for _, arn := range groups {
		_, err := l.API.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &table,
			Item: map[string]ddbtypes.AttributeValue{
				ddbitem.CapacityKey: &ddbtypes.AttributeValueMemberS{Value: LeaseKey(arn)},
				leaseGroup:          &ddbtypes.AttributeValueMemberS{Value: arn},
				leaseHolder:         &ddbtypes.AttributeValueMemberS{Value: holder},
				leaseExpires:        &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(leases.ExpiresAt, 10)},
			},
			ConditionExpression:      new("attribute_not_exists(#key) OR #expires < :now OR #holder = :me"),
			ExpressionAttributeNames: map[string]string{"#key": ddbitem.CapacityKey, "#expires": leaseExpires, "#holder": leaseHolder},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":now": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)},
				":me":  &ddbtypes.AttributeValueMemberS{Value: holder},
			},
		})
		audit.Record(ctx, audit.AcquireLease, err, ddbitem.ConditionFailed, audit.Group(arn), audit.Holder(holder), audit.Table(table))
		var held *ddbtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &held):
			// Another rollout holds the group: give back what this one holds, all or none.
			// (Any other failure leaves the leases as they are: the state machine retries,
			// and releases them on its failure path.)
			other, rerr := HeldByOther(ctx, l.API, table, arn, holder, l.Now.Now())
			switch {
			case rerr != nil:
				other = fmt.Sprintf("(another rollout; reading its lease failed: %v)", rerr)
			case other == "":
				other = "(another rollout, which has just ended)"
			}
			refusal := faults.New(faults.RolloutInProgress, "target group %s is locked by rollout %s; wait for it to end (or for its lease to expire)", workflow.GroupName(arn), other)
			if _, rerr := l.Release(ctx, table, holder, groups); rerr != nil {
				return rollout.Leases{}, errors.Join(refusal, fmt.Errorf("giving back the leases taken: %w", rerr))
			}
			return rollout.Leases{}, refusal
		case err != nil:
			return rollout.Leases{}, fmt.Errorf("taking the lease on %s: %w", arn, err)
		}
		leases.Held = append(leases.Held, arn)
	}
	return leases, nil
}

// HeldByOther returns the holder of the group's lease when another rollout holds it and
// it has not expired. It only reads.
func HeldByOther(ctx context.Context, api LeaseReader, table, arn, me string, now time.Time) (string, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: new(true),
		Key: leaseItemKey(arn)})
	if err != nil {
		return "", fmt.Errorf("reading the lease of %s: %w", arn, err)
	}
	holder, _ := out.Item[leaseHolder].(*ddbtypes.AttributeValueMemberS)
	expires, _ := out.Item[leaseExpires].(*ddbtypes.AttributeValueMemberN)
	if holder == nil || holder.Value == me || expires == nil {
		return "", nil
	}
	if at, err := strconv.ParseInt(expires.Value, 10, 64); err == nil && at < now.Unix() {
		return "", nil // expired: a crashed run's, to be taken over
	}
	return holder.Value, nil
}

// LeaseReader reads leases.
type LeaseReader interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Release gives back every lease the holder has on the groups; the condition deletes
// only its own, so a lease another rollout holds, or took over meanwhile, is left alone.
// It returns the groups released; a failure to release one is an error naming it (and
// the others are still tried).
func (l Locker) Release(ctx context.Context, table, holder string, groups []string) ([]string, error) {
	if table == "" || holder == "" {
		return nil, faults.New(faults.InvalidInput, "releasing leases needs the capacity table and the rollout")
	}
	released := []string{}
	var errs []error
	for _, arn := range groups {
		_, err := l.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 &table,
			Key:                       leaseItemKey(arn),
			ConditionExpression:       new("#holder = :me"),
			ExpressionAttributeNames:  map[string]string{"#holder": leaseHolder},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":me": &ddbtypes.AttributeValueMemberS{Value: holder}},
		})
		audit.Record(ctx, audit.ReleaseLease, err, ddbitem.ConditionFailed, audit.Group(arn), audit.Holder(holder), audit.Table(table))
		var notMine *ddbtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &notMine):
		case err != nil:
			errs = append(errs, fmt.Errorf("releasing the lease on %s: %w", arn, err))
		default:
			released = append(released, arn)
		}
	}
	return released, errors.Join(errs...)
}

// DB is the part of the DynamoDB client the lease steps use: the leases, and the
// rollout's record.
type DB interface {
	DynamoDBAPI
	rollout.StoreAPI
}

// Steps runs the fleet state machine's lease steps.
type Steps struct {
	DB  DB
	Now clock.Clock
}

// New makes the steps' clients from an AWS config.
func New(cfg aws.Config) Steps { return Steps{DB: dynamodb.NewFromConfig(cfg)} }

func (st Steps) locker() Locker { return Locker{API: st.DB, Now: st.Now} }

// AcquireRequest is the input of acquire-leases: the state, and the execution running.
type AcquireRequest struct {
	State     rollout.State `json:"state"`
	Execution string        `json:"execution"`
}

// AuditExecution is the execution running the rollout.
func (r AcquireRequest) AuditExecution() string { return r.Execution }

// Acquire, the acquire-leases step, takes (or renews) the rollout's lease on every group, all or none. An
// execution that continues a rollout first takes it over from the execution that started
// it (the rollout's record names its driver), so that two executions never drive one
// rollout.
func (st Steps) Acquire(ctx context.Context, req AcquireRequest) (rollout.State, error) {
	s := req.State
	if s.Rollout.ID == "" || req.Execution == "" {
		return rollout.State{}, faults.New(faults.InvalidInput, "acquire-leases needs state.rollout and execution")
	}
	if s.Rollout.Execution != req.Execution {
		if err := s.Store(st.DB).Claim(ctx, s.Rollout.ID, s.Rollout.Execution, req.Execution, s.Rollout.Part+1); err != nil {
			return rollout.State{}, err
		}
		s.Rollout.Execution, s.Rollout.Part = req.Execution, s.Rollout.Part+1
		s.Cursor.Events = rollout.EstimateEvents()
	}
	meta, err := s.Store(st.DB).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return rollout.State{}, err
	}
	leases, err := st.locker().Acquire(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs, meta.Input.LeaseSeconds)
	if err != nil {
		return rollout.State{}, err
	}
	s.Leases = &rollout.Leases{ExpiresAt: leases.ExpiresAt, Held: leases.Held}
	return s, nil
}

// Release, the release-leases step, gives back the rollout's leases on its groups, unless another execution
// (a continuation) drives the rollout now.
func (st Steps) Release(ctx context.Context, s rollout.State) ([]string, error) {
	meta, err := s.Store(st.DB).Meta(ctx, s.Rollout.ID)
	if err != nil {
		return nil, err
	}
	if meta.Driver != s.Rollout.Execution {
		return []string{}, nil
	}
	released, err := st.locker().Release(ctx, s.Rollout.CapacityTable, s.Rollout.ID, meta.Input.TargetGroupARNs)
	slices.Sort(released)
	return released, err
}
