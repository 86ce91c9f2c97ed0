package ddbitem

import (
	"fmt"
	"testing"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestAttributes(t *testing.T) {
	item := map[string]ddb.AttributeValue{"s": S("a"), "n": N(-42), "bad": &ddb.AttributeValueMemberN{Value: "1.5"}}
	tests := []struct {
		name string
		str  string
		num  int64
	}{
		{"s", "a", 0},
		{"n", "", -42},
		{"bad", "", 0},
		{"missing", "", 0},
	}
	for _, tt := range tests {
		if got := String(item, tt.name); got != tt.str {
			t.Errorf("String(%s) = %q, want %q", tt.name, got, tt.str)
		}
		if got := Number(item, tt.name); got != tt.num {
			t.Errorf("Number(%s) = %d, want %d", tt.name, got, tt.num)
		}
	}
}

func TestConditionFailed(t *testing.T) {
	ccf := &ddb.ConditionalCheckFailedException{Message: new("the condition")}
	if !ConditionFailed(ccf) || !ConditionFailed(fmt.Errorf("put: %w", ccf)) {
		t.Error("a condition failure, wrapped or not, is not recognised")
	}
	if ConditionFailed(&ddb.ResourceNotFoundException{}) || ConditionFailed(nil) {
		t.Error("another error is taken for a condition failure")
	}
}
