// Package awsapi owns the lab's AWS endpoint: one loopback HTTP server speaking the real
// wire protocols of what drainpipe calls. Elastic Load Balancing v2, EC2, SNS and EC2 Auto
// Scaling (query protocol, XML answers), Systems Manager (JSON 1.1), DynamoDB and Step
// Functions (JSON 1.0), and Lambda Invoke, which runs drainpipe's own handlers through
// aws-lambda-go's handler path and answers handler errors as Lambda does
// (X-Amz-Function-Error, errorType and errorMessage), so Retry and Catch on error names
// behave as on AWS. The functions reach it only through the standard SDK endpoint
// setting. Errors carry AWS's real codes. Faults can be injected (faults.go): any
// operation can answer an internal error, ServiceUnavailable, AccessDenied or throttling,
// in its service's own wire shape, N times or with a seeded probability, and a function can
// crash or run past its timeout (lambda.go); every injection is recorded.
package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/drainpipe/drainpipe/internal/handlers"
	"github.com/drainpipe/drainpipe/lab/autoscaling"
	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/dynamodb"
	"github.com/drainpipe/drainpipe/lab/elb"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// Region, Account and the fake credentials of the lab.
const (
	Region    = "us-east-1"
	Account   = "123456789012"
	AccessKey = "AKIALABLABLABLABLAB0"
	SecretKey = "lab-secret-key"
)

// EC2 is EC2's view of the lab's instances.
type EC2 interface {
	// Describe returns the named instances (every instance when ids is empty).
	Describe(ids []string) []Instance
	// CreateTags adds or replaces tags on instances.
	CreateTags(ids []string, tags map[string]string) error
}

// Instance is what EC2 and SSM say of an instance.
type Instance struct {
	ID, PrivateIP string
	// State is EC2's instance state: "running", "stopped" or "terminated" ("" is running).
	// A terminated instance has no private address any more.
	State string
	Tags  map[string]string
	// Zone is its Availability Zone.
	Zone string
	// SSMOnline: its agent is registered and online.
	SSMOnline bool
	// SSMManaged: its agent is registered with SSM at all.
	SSMManaged bool
}

// Backends are the lab's services behind the endpoint.
type Backends struct {
	ELB      *elb.LoadBalancer
	SSM      *ssm.Executor
	EC2      EC2
	DynamoDB *dynamodb.Server
	SNS      *Topics
	// SFN is the lab's Step Functions, when the endpoint serves it.
	SFN *sfn.Service
	// AutoScaling is the lab's EC2 Auto Scaling; nil answers as an account with no group.
	AutoScaling *autoscaling.Service
}

// Server is the lab's AWS endpoint.
type Server struct {
	Backends
	// Clock is the lab's time scale: the functions measure deadlines with its Now, and
	// their SDK clients back off between retries at its scale.
	Clock *clock.Clock

	// Alarms are the endpoint's CloudWatch alarms.
	Alarms Alarms

	URL         string
	srv         *http.Server
	deps        handlers.Deps
	dynamoProxy http.Handler

	mu       sync.Mutex
	handlers map[string]lambda.Handler
	calls    map[string]int
	faults   faultState
}

// Start listens on a loopback port and builds every function's handler with an AWS
// config whose endpoint is this server.
func Start(b Backends, c *clock.Clock) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if b.SNS == nil {
		b.SNS = &Topics{}
	}
	s := &Server{Backends: b, Clock: c, URL: "http://" + ln.Addr().String(), handlers: map[string]lambda.Handler{},
		calls: map[string]int{}, faults: faultState{throttle: map[string]int{}}}
	s.Alarms.now = c.Now
	if b.DynamoDB != nil {
		if s.dynamoProxy, err = newDynamoProxy(b.DynamoDB.URL); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	cfg, err := s.Config(context.Background())
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.deps = handlers.Deps{Config: cfg, Now: c.Now}
	for name, build := range handlers.All {
		s.handlers[name] = build(s.deps)
	}
	// Idle connections close after a few seconds, as AWS endpoints close them: the
	// engine opens a client per Task, and a long rollout would otherwise pile them up.
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// Config is an AWS config for clients of this server: the standard SDK settings a
// deployed function gets from AWS_ENDPOINT_URL, AWS_REGION and its credentials, and the
// SDK's standard retryer, whose backoff between attempts lasts as long as the lab's time
// scale makes it (like every other lab duration).
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = scaledBackoff{inner: retry.NewExponentialJitterBackoff(o.MaxBackoff), clock: s.Clock}
			})
		}),
	)
}

// scaledBackoff is the SDK's backoff at the lab's time scale.
type scaledBackoff struct {
	inner retry.BackoffDelayer
	clock *clock.Clock
}

func (b scaledBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	d, err := b.inner.BackoffDelay(attempt, err)
	return b.clock.Real(d), err
}

// Env is the environment for a process that should reach this server through the
// standard variables (the aws CLI, the Node state machine engine).
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL, "AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}
}

// FunctionARN is the lab ARN of a function.
func FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, name)
}

// Calls returns how many times each operation was called (throttled calls included).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ServeHTTP routes by protocol: Lambda and CloudWatch (RPC v2 CBOR) by path; SSM,
// DynamoDB and Step Functions by X-Amz-Target; ELBv2, EC2, SNS and Auto Scaling by form
// and version.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/"):
		s.lambda(w, r)
	case strings.HasPrefix(r.URL.Path, cloudWatchPath):
		s.cloudWatch(w, r)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."):
		s.ssm(w, r)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."):
		s.dynamodb(w, r)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions."):
		s.stepFunctions(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			elbError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error())
			return
		}
		switch r.PostForm.Get("Version") {
		case ec2Version:
			s.ec2(w, r)
		case snsVersion:
			s.sns(w, r)
		case autoScalingVersion:
			s.autoScaling(w, r)
		default:
			s.elbv2(w, r)
		}
	default:
		http.Error(w, "the lab does not serve "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

// jsonError writes an error of the JSON 1.1 protocol (SSM).
func jsonError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
