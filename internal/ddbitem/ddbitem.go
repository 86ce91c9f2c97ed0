// Package ddbitem owns what drainpipe's DynamoDB tables share: the capacity table's key
// schema (its items belong to package capacity and package leases), building and reading
// string and number attribute values, and recognising a write whose condition failed.
package ddbitem

import (
	"errors"
	"strconv"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The capacity table: partition key CapacityKey (a string) and time to live
// CapacityExpiry (epoch seconds). It holds the reservations (package capacity) and the
// rollouts' leases (package leases).
const (
	CapacityKey    = "pk"
	CapacityExpiry = "expiresAt"
)

// S is a string attribute value.
func S(s string) ddb.AttributeValue { return &ddb.AttributeValueMemberS{Value: s} }

// N is a number attribute value.
func N(n int64) ddb.AttributeValue {
	return &ddb.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// String is the string attribute name of item, or "" if it has none.
func String(item map[string]ddb.AttributeValue, name string) string {
	if v, ok := item[name].(*ddb.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// Number is the number attribute name of item, or 0 if it has none (or not an integer).
func Number(item map[string]ddb.AttributeValue, name string) int64 {
	if v, ok := item[name].(*ddb.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// ConditionFailed reports whether err is a write refused by its condition expression.
func ConditionFailed(err error) bool {
	var ccf *ddb.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
