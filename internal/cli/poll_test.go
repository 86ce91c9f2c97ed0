package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// TestPollRetriesOnlyTransientErrors: watch and abort ride out an API's passing trouble
// (the SDK's retries exhausted, a throttle, a 5xx) and say so, but stop at once on an
// error that another try will not mend, and give up after maxPollFailures in a row.
func TestPollRetriesOnlyTransientErrors(t *testing.T) {
	exhausted := &retry.MaxAttemptsError{Attempt: 3, Err: errors.New("ServiceUnavailable")}
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}
	tests := []struct {
		name      string
		errs      []error // what the reads return, in turn, before a read that is done
		wantErr   error
		wantCalls int
		wantNotes int
	}{
		{"no trouble", nil, nil, 1, 0},
		{"retries exhausted, twice", []error{exhausted, fmt.Errorf("describing: %w", exhausted)}, nil, 3, 2},
		{"a throttle", []error{throttled}, nil, 2, 1},
		{"access denied ends it", []error{denied, nil}, denied, 1, 0},
		{"a failed execution ends it", []error{failedError{"ended FAILED"}}, failedError{"ended FAILED"}, 1, 0},
		{"a success resets the count", append(append(repeat(exhausted, maxPollFailures-1), nil), repeat(exhausted, maxPollFailures-1)...), nil, 2*maxPollFailures - 1 + 1, 2 * (maxPollFailures - 1)},
		{"too many in a row", repeat(exhausted, maxPollFailures), exhausted, maxPollFailures, maxPollFailures - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c := &cmd{env: Env{Stderr: &stderr, Poll: time.Microsecond}}
			calls := 0
			err := c.poll(context.Background(), func() (bool, error) {
				calls++
				if calls <= len(tc.errs) {
					return false, tc.errs[calls-1]
				}
				return true, nil
			})
			if !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d reads, want %d", calls, tc.wantCalls)
			}
			if n := strings.Count(stderr.String(), "trying again"); n != tc.wantNotes {
				t.Errorf("%d notes on stderr, want %d:\n%s", n, tc.wantNotes, stderr.String())
			}
		})
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
