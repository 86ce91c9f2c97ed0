package rollout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/faults"
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
	leaseExpires = capacity.ExpiryAttribute
)

// LeaseKey is the capacity table key of a group's rollout lease.
func LeaseKey(arn string) string { return "lease#" + arn }

func leaseItemKey(arn string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{capacity.PartitionKey: &ddbtypes.AttributeValueMemberS{Value: LeaseKey(arn)}}
}

// Locker takes and releases a rollout's leases: one item per target group.
type Locker struct {
	API DynamoDBAPI
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (l Locker) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Acquire takes a lease on every group for the holder, or none: if a group is held by
// another unexpired rollout it releases what it took and fails with RolloutInProgress
// naming the holder. An expired lease (a crashed run) is taken over. Called again by the
// same holder it renews its leases: the state machine does so before every wave.
func (l Locker) Acquire(ctx context.Context, table, holder string, groups []string, seconds int) (Leases, error) {
	if table == "" || holder == "" {
		return Leases{}, faults.New(faults.InvalidInput, "taking leases needs the capacity table and the rollout")
	}
	if seconds == 0 {
		seconds = DefaultLeaseSeconds
	}
	now := l.now().Unix()
	leases := Leases{ExpiresAt: now + int64(seconds)}
	for _, arn := range groups {
		_, err := l.API.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &table,
			Item: map[string]ddbtypes.AttributeValue{
				capacity.PartitionKey: &ddbtypes.AttributeValueMemberS{Value: LeaseKey(arn)},
				leaseGroup:            &ddbtypes.AttributeValueMemberS{Value: arn},
				leaseHolder:           &ddbtypes.AttributeValueMemberS{Value: holder},
				leaseExpires:          &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(leases.ExpiresAt, 10)},
			},
			ConditionExpression:      ptr("attribute_not_exists(#key) OR #expires < :now OR #holder = :me"),
			ExpressionAttributeNames: map[string]string{"#key": capacity.PartitionKey, "#expires": leaseExpires, "#holder": leaseHolder},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":now": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)},
				":me":  &ddbtypes.AttributeValueMemberS{Value: holder},
			},
		})
		var held *ddbtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &held):
			// Another rollout holds the group: give back what this one holds, all or none.
			// (Any other failure leaves the leases as they are: the state machine retries,
			// and releases them on its failure path.)
			other, _ := heldByOther(ctx, l.API, table, arn, holder, l.now())
			if other == "" {
				other = "(another rollout, which has just ended)"
			}
			refusal := faults.New(faults.RolloutInProgress, "target group %s is locked by rollout %s; wait for it to end (or for its lease to expire)", workflow.GroupName(arn), other)
			if _, rerr := l.Release(ctx, table, holder, groups); rerr != nil {
				return Leases{}, errors.Join(refusal, fmt.Errorf("giving back the leases taken: %w", rerr))
			}
			return Leases{}, refusal
		case err != nil:
			return Leases{}, fmt.Errorf("taking the lease on %s: %w", arn, err)
		}
		leases.Held = append(leases.Held, arn)
	}
	return leases, nil
}

// heldByOther returns the holder of the group's lease when another rollout holds it and
// it has not expired. It only reads.
func heldByOther(ctx context.Context, api LeaseReader, table, arn, me string, now time.Time) (string, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: ptr(true),
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
	var released []string
	var errs []error
	for _, arn := range groups {
		_, err := l.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 &table,
			Key:                       leaseItemKey(arn),
			ConditionExpression:       ptr("#holder = :me"),
			ExpressionAttributeNames:  map[string]string{"#holder": leaseHolder},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":me": &ddbtypes.AttributeValueMemberS{Value: holder}},
		})
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

func ptr[T any](v T) *T { return &v }
