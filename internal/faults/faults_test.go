package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
		{"wrapped", fmt.Errorf("instance i-1: %w", New(DrainTimeout, "still draining")), DrainTimeout, "instance i-1: DrainTimeout: still draining"},
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
