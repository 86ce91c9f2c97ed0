package awsapi

// How Lambda answers a Go function that crashes or runs past its timeout, as the lab
// models it (research for the lab's faults, with sources):
//
// A crash of the process. When a Go function's process dies (a fatal runtime error such
// as concurrent map writes, a stack overflow, running out of memory, os.Exit), Lambda
// answers {"errorType":"Runtime.ExitError","errorMessage":"RequestId: <id> Error: Runtime
// exited with error: exit status 2"} (the Lambda developer guide's troubleshooting pages
// quote it), and Step Functions names the error Runtime.ExitError. This is the lab's
// Crash: drainpipe's handlers answer their own panics (internal/faults), so a panic in
// one never reaches the runtime.
//
// A panic. drainpipe's functions run on provided.al2023 with aws-lambda-go. Its invoke
// loop recovers a panic in the handler (lambda/invoke_loop.go, callBytesHandlerFunc),
// posts the error to the Runtime API as {"errorMessage", "errorType", "stackTrace"},
// where errorType is the Go type name of the panic value (lambda/errors.go,
// lambdaPanicResponse and getErrorType: "errorString" for the runtime error of a nil
// pointer dereference, "TypeAssertionError" for a failed type assertion, "string" for
// panic("...")), and then exits the process (ShouldExit: "calling the handler function
// resulted in a panic, the process should exit"; aws/aws-lambda-go#559 shows the platform
// then logging Runtime.Unknown for the environment, not for the answer). The invoker gets
// that payload with X-Amz-Function-Error: Unhandled, so Step Functions names the error by
// its errorType ("errorString") with the payload as its Cause; such answers are quoted in
// aws-cloudformation/cloudformation-cli-go-plugin#17 and slashdevops/idp-scim-sync#398. The
// next invocation finds a new execution environment (a cold start): the lab builds the
// function's handler again.
//
// A timeout. Lambda stops an invocation that runs past the function's timeout and
// answers a function error. Current runtimes give it an errorType: the payload is
// {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error: Task timed out
// after <n>.00 seconds"} (quoted from a real answer in the changelog of
// seek-oss/aws-codedeploy-hooks; the Lambda developer guide's troubleshooting page names
// Sandbox.Timedout; localstack/lambda-runtime-init answers the same), so Step Functions
// reports the error Sandbox.Timedout. The older payload had no errorType ({"errorMessage":
// "<time> <id> Task timed out after 3.00 seconds"}), which is why Step Functions' guide
// ("Handle Lambda service exceptions") still says a timeout is reported as Lambda.Unknown;
// Lambda.Unknown is also what a payload without errorType gets in the lab's engine. A
// Task's own TimeoutSeconds is another thing: Step Functions fails the Task with
// States.Timeout when no answer came in time, whatever the function does; the engine
// enforces it, and every drainpipe Task's TimeoutSeconds is above its function's timeout.
// Whether a timed-out handler's calls happened is unknown to the caller: Rule.AfterEffects
// runs the handler to its end and loses its answer, the harsher case; without it the
// handler does nothing. The environment is started again after a timeout, as after a
// crash.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/handlers"
)

// lambda answers Invoke: POST /2015-03-31/functions/{name or ARN}/invocations.
func (s *Server) lambda(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/2015-03-31/functions/")
	escaped, ok := strings.CutSuffix(rest, "/invocations")
	name, err := url.PathUnescape(escaped)
	if !ok || err != nil || r.Method != http.MethodPost {
		restJSONError(w, http.StatusNotFound, "UnknownOperationException", "the lab serves Invoke only", true)
		return
	}
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":") // a qualifier ($LATEST) names the same code here
	f := s.call(ServiceLambda, "Invoke", name)
	if f != nil && f.rule.Fault != Crash && f.rule.Fault != Timeout {
		s.fail(w, ServiceLambda, "Invoke", name, f)
		return
	}
	handler, ok := s.handler(name)
	if !ok {
		restJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+FunctionARN(name), true)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		restJSONError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error(), true)
		return
	}
	id := requestID()
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("X-Amzn-RequestId", id)
	// As the runtime does, the invocation's context carries its request id and function
	// ARN (aws-lambda-go's lambdacontext), which the functions' log lines name.
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: id, InvokedFunctionArn: FunctionARN(name)})
	var out []byte
	if f != nil {
		err = s.functionFault(ctx, name, handler, payload, f, id)
	} else {
		out, err = invoke(ctx, handler, payload)
	}
	if err != nil {
		var ire messages.InvokeResponse_Error
		if asInvokeError(err, &ire) && ire.ShouldExit {
			s.restart(name) // the runtime exited: the next invocation starts a new environment
		}
		slog.Debug("lab lambda error", "function", name, "error", err)
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(lambdaError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *Server) handler(name string) (lambda.Handler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.handlers[name]
	return h, ok
}

// restart builds the function's handler again, as a new execution environment runs its
// main again.
func (s *Server) restart(name string) {
	build, ok := handlers.All[name]
	if !ok {
		return
	}
	h := build(s.deps)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[name] = h
}

// functionFault runs an invocation that a Crash or Timeout rule fired on.
func (s *Server) functionFault(ctx context.Context, name string, handler lambda.Handler, payload []byte, f *firing, id string) error {
	start := time.Now()
	if f.rule.AfterEffects {
		_, _ = invoke(ctx, handler, payload) // its calls happen; its answer is lost
	}
	var err messages.InvokeResponse_Error
	switch f.rule.Fault {
	case Crash:
		err = messages.InvokeResponse_Error{Type: "Runtime.ExitError", ShouldExit: true,
			Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: exit status 2", id)}
	default:
		seconds := 3 // Lambda's default timeout, for a function the catalog does not list
		if fn, lerr := catalog.Lookup(name); lerr == nil {
			seconds = fn.TimeoutSeconds
		}
		if wait := s.Clock.Seconds(float64(seconds)) - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		err = messages.InvokeResponse_Error{Type: "Sandbox.Timedout", ShouldExit: true,
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %d.00 seconds", id, seconds)}
	}
	s.mu.Lock()
	s.record(Injection{Rule: f.rule.id, Service: ServiceLambda, Operation: "Invoke", Function: name, Fault: f.rule.Fault,
		Code: err.Type, Status: http.StatusOK, Detail: err.Message})
	s.mu.Unlock()
	return err
}

// invoke runs the handler as aws-lambda-go's invoke loop does: a panic is recovered and
// answered as lambdaPanicResponse answers it (the panic value's type name as errorType, its
// text as errorMessage, the stack), and the runtime must exit.
func invoke(ctx context.Context, handler lambda.Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicResponse(p)
		}
	}()
	return handler.Invoke(ctx, payload)
}

func panicResponse(p any) messages.InvokeResponse_Error {
	if ire, ok := p.(messages.InvokeResponse_Error); ok {
		return ire
	}
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // from runtime.gopanic down, as aws-lambda-go's stack starts
	var stack []*messages.InvokeResponse_Error_StackFrame
	frames := runtime.CallersFrames(pcs[:n])
	for {
		fr, more := frames.Next()
		label := fr.Function[strings.LastIndex(fr.Function, "/")+1:]
		label = label[strings.Index(label, ".")+1:]
		stack = append(stack, &messages.InvokeResponse_Error_StackFrame{
			Path: path.Join(path.Base(path.Dir(fr.File)), path.Base(fr.File)), Line: int32(fr.Line), Label: label})
		if !more {
			break
		}
	}
	return messages.InvokeResponse_Error{Type: typeName(p), Message: fmt.Sprintf("%v", p), StackTrace: stack, ShouldExit: true}
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func asInvokeError(err error, target *messages.InvokeResponse_Error) bool {
	return errors.As(err, target)
}

// lambdaError is the body Lambda returns for a function error: what aws-lambda-go posts
// (errorMessage, errorType: the handler's error type name, and a panic's stackTrace).
func lambdaError(err error) messages.InvokeResponse_Error {
	var ire messages.InvokeResponse_Error
	if asInvokeError(err, &ire) {
		return ire
	}
	return messages.InvokeResponse_Error{Type: typeName(err), Message: err.Error()}
}

// restJSONError writes an error of Lambda's REST-JSON protocol: the code in
// X-Amzn-ErrorType, and a body with Type (User or Service) and message.
func restJSONError(w http.ResponseWriter, status int, code, message string, user bool) {
	kind := "Service"
	if user {
		kind = "User"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": kind, "message": message})
}
