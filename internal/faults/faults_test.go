package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestNameOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"named", New(DrainTimeout, "late"), DrainTimeout},
		{"wrapped named", fmt.Errorf("instance i-1: %w", New(LastHealthyTarget, "x")), LastHealthyTarget},
		{"throttling", &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, TransientAPIError},
		{"wrapped throttling", fmt.Errorf("describing: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), TransientAPIError},
		{"server fault", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, TransientAPIError},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}, APIError},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), TransientAPIError},
		{"plain", errors.New("boom"), InternalError},
		{"answer cut short", fmt.Errorf("deserialization failed: %w", io.ErrUnexpectedEOF), TransientAPIError},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, TransientAPIError},
		{"http 500", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}},
			Err: &smithy.GenericAPIError{Code: "InternalFailure"}}}, TransientAPIError},
		{"http 400", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err: &smithy.GenericAPIError{Code: "ValidationError"}}}, APIError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NameOf(tt.err); got != tt.want {
				t.Errorf("NameOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestLambdaReportsStableNames goes through aws-lambda-go's handler path: without the
// wrapper a wrapped error's type would be reported as "wrapError".
func TestLambdaReportsStableNames(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantType string
		wantMsg  string
	}{
		{"named", New(InvalidInput, `"instanceId" is required`), InvalidInput, `"instanceId" is required`},
		{"wrapped", fmt.Errorf("instance i-1: %w", New(DrainTimeout, "still draining")), DrainTimeout, "instance i-1: still draining"},
		{"plain", errors.New("boom"), InternalError, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Lambda("test", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, tt.err })
			_, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(`{}`))
			var resp messages.InvokeResponse_Error
			if !errors.As(err, &resp) {
				t.Fatalf("error %T %v is not an InvokeResponse_Error", err, err)
			}
			if resp.Type != tt.wantType || resp.Message != tt.wantMsg {
				t.Errorf("got type %q message %q, want %q %q", resp.Type, resp.Message, tt.wantType, tt.wantMsg)
			}
		})
	}
	t.Run("success passes through", func(t *testing.T) {
		h := Lambda("test", func(context.Context, struct{}) (string, error) { return "ok", nil })
		out, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(`{}`))
		if err != nil || string(out) != `"ok"` {
			t.Errorf("got %s, %v", out, err)
		}
	})
}

func TestNamesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Names {
		if seen[n] {
			t.Errorf("name %q listed twice", n)
		}
		seen[n] = true
	}
}

// TestCausesDoNotRepeatTheName: the message a function reports, and the words read back
// from a Step Functions Cause, never start with the error name beside them.
func TestCausesDoNotRepeatTheName(t *testing.T) {
	named := New(MaintenanceFailed, "command c-1 on i-1 ended Failed, exit code 1")
	for _, err := range []error{named, fmt.Errorf("checking command c-1: %w", named)} {
		_, got := Lambda("check-command", func(context.Context, int) (int, error) { return 0, err })(context.Background(), 0)
		var resp messages.InvokeResponse_Error
		if !errors.As(got, &resp) || resp.Type != MaintenanceFailed || strings.Contains(resp.Message, MaintenanceFailed+":") {
			t.Errorf("%v reported as %s: %q", err, resp.Type, resp.Message)
		}
	}
	tests := []struct{ cause, want string }{
		{`{"errorMessage":"command c-1 on i-1 ended Failed","errorType":"MaintenanceFailed"}`, "command c-1 on i-1 ended Failed"},
		{`{"errorMessage":"MaintenanceFailed: command c-1","errorType":"MaintenanceFailed"}`, "command c-1"},
		{`{"errorType":"Runtime.ExitError"}`, `{"errorType":"Runtime.ExitError"}`},
		{"the summary's own text", "the summary's own text"},
		{"", ""},
		{`{"broken`, `{"broken`},
	}
	for _, tt := range tests {
		if got := CauseMessage(tt.cause); got != tt.want {
			t.Errorf("CauseMessage(%q) = %q, want %q", tt.cause, got, tt.want)
		}
	}
}

// TestPanicIsAnInternalError: a handler that panics answers InternalError, with the
// panic in the message, as any unexpected error; nothing else matches a Go type name.
func TestPanicIsAnInternalError(t *testing.T) {
	h := Lambda("check-drain", func(context.Context, struct{}) (int, error) {
		panic("assignment to entry in nil map")
	})
	_, err := h(context.Background(), struct{}{})
	var ire messages.InvokeResponse_Error
	if !errors.As(err, &ire) || ire.Type != InternalError || !strings.Contains(ire.Message, "check-drain panicked: assignment to entry in nil map") {
		t.Errorf("got %#v", err)
	}
}
