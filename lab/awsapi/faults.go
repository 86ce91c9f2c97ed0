package awsapi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Fault is what an injected call answers instead of its result. Each service answers a
// fault with its own code, status and wire shape (see answerFor): the same fault is
// InternalFailure to ELB and Auto Scaling, InternalError to EC2 and SNS,
// InternalServerError to SSM and DynamoDB and ServiceException to Lambda.
type Fault string

// The faults an operation can answer.
const (
	// InternalError: HTTP 500, the service's internal error.
	InternalError Fault = "InternalError"
	// ServiceUnavailable: HTTP 503.
	ServiceUnavailable Fault = "ServiceUnavailable"
	// AccessDenied: the service's answer to a call its caller's policy does not allow
	// (403 AccessDenied on ELB and Auto Scaling, UnauthorizedOperation on EC2,
	// AuthorizationError on SNS, 400 AccessDeniedException on SSM, DynamoDB and Step
	// Functions, 403 AccessDeniedException on Lambda).
	AccessDenied Fault = "AccessDenied"
	// Throttling: the service's throttling error (DynamoDB's is
	// ProvisionedThroughputExceededException; Rule.Code may name ThrottlingException or
	// RequestLimitExceeded instead).
	Throttling Fault = "Throttling"
	// Crash (Invoke only): the function's process dies under the invocation (a fatal
	// runtime error, running out of memory). drainpipe's handlers answer their own panics
	// (as InternalError, internal/faults), so what remains is the crash no Go code
	// recovers: Lambda answers Runtime.ExitError, and the next invocation starts a new
	// execution environment.
	Crash Fault = "Crash"
	// Timeout (Invoke only): the function runs past its timeout (the catalog's
	// TimeoutSeconds, at the lab's scale); Lambda answers Sandbox.Timedout.
	Timeout Fault = "Timeout"
)

// Services, as a Rule names them.
const (
	ServiceELB           = "elasticloadbalancing"
	ServiceEC2           = "ec2"
	ServiceSNS           = "sns"
	ServiceSSM           = "ssm"
	ServiceDynamoDB      = "dynamodb"
	ServiceStepFunctions = "states"
	ServiceLambda        = "lambda"
	ServiceCloudWatch    = "cloudwatch"
	ServiceAutoScaling   = "autoscaling"
)

// Rule chooses calls to answer with a fault. The zero values of its filters match every
// call; its counters decide which of the matching calls fail:
//
//   - Times 0 and P 0: every matching call fails;
//   - Times N, P 0: the next N matching calls fail, then the operation answers normally;
//   - P p: each matching call fails with probability p (drawn from the lab's seeded
//     source), at most Times times when Times is set.
//
// After skips the first matching calls. A call that several rules match gets the fault
// of the first (in the order they were added) that fires.
type Rule struct {
	// Service restricts the rule to one service (ServiceELB, ...); "" is any.
	Service string
	// Operation restricts it to one operation ("DeregisterTargets", "UpdateItem",
	// "Invoke", ...); "" is any.
	Operation string
	// Function restricts an Invoke rule to one function (its catalog name); "" is any.
	Function string
	Fault    Fault
	// Code replaces the fault's usual error code (for example ThrottlingException rather
	// than DynamoDB's ProvisionedThroughputExceededException); the status stays the
	// fault's.
	Code  string
	After int
	Times int
	P     float64
	// AfterEffects (Crash and Timeout): the handler runs to its end first, so every call it
	// makes happens, and then its answer is lost; otherwise the fault strikes before the
	// handler does anything.
	AfterEffects bool
}

// Injection is one fault the lab injected: an API answer, a function's crash or timeout,
// or (recorded by package lab) an instance stopped or terminated, a group deleted.
type Injection struct {
	// Seq numbers the injections in the order the lab made them, from 1.
	Seq int
	// At is the lab time of the injection; Since is lab seconds since the lab started.
	At    time.Time
	Since float64
	// Rule is the rule that fired (0 for a fault the lab injected directly).
	Rule                         int
	Service, Operation, Function string
	Fault                        Fault
	// Code and Status are what the call answered (a function error's errorType, with
	// status 200, for Crash and Timeout).
	Code   string
	Status int
	// Target is what a direct fault hit (an instance id, a target group ARN); Detail says
	// more.
	Target string
	Detail string
}

type rule struct {
	Rule
	id          int
	seen, fired int
	rng         *rand.Rand
}

// firing is a rule's decision for one call.
type firing struct {
	rule *rule
}

// faultState is the endpoint's injection state. Callers hold Server.mu.
type faultState struct {
	seed     uint64
	rules    []*rule
	nextID   int
	throttle map[string]int // operation -> rule id of a Throttle rule
	log      []Injection
}

func validFault(f Fault) bool {
	switch f {
	case InternalError, ServiceUnavailable, AccessDenied, Throttling, Crash, Timeout:
		return true
	}
	return false
}

// Seed sets the seed of every probability draw, so a run with the same calls in the same
// order injects the same faults. Each rule draws from its own stream (a PCG seeded with
// the seed and the rule's id), so one operation's calls do not shift another's draws.
// Seeding again restarts every rule's stream.
func (s *Server) Seed(seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.seed = seed
	for _, r := range s.faults.rules {
		r.rng = rand.New(rand.NewPCG(seed, uint64(r.id)))
	}
}

// Inject adds a rule and returns its id.
func (s *Server) Inject(r Rule) (int, error) {
	if !validFault(r.Fault) {
		return 0, fmt.Errorf("awsapi: unknown fault %q", r.Fault)
	}
	if r.P < 0 || r.P > 1 || r.Times < 0 || r.After < 0 {
		return 0, errors.New("awsapi: P must be in [0, 1], Times and After not negative")
	}
	if r.Fault == Crash || r.Fault == Timeout {
		if r.Operation != "" && r.Operation != "Invoke" || r.Service != "" && r.Service != ServiceLambda {
			return 0, fmt.Errorf("awsapi: %s is a function's fault: Invoke only", r.Fault)
		}
		r.Service, r.Operation = ServiceLambda, "Invoke"
	}
	if r.Function != "" && r.Operation != "Invoke" {
		return 0, errors.New("awsapi: Function names an Invoke rule's function; set Operation Invoke")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRule(r), nil
}

func (s *Server) addRule(r Rule) int {
	s.faults.nextID++
	id := s.faults.nextID
	s.faults.rules = append(s.faults.rules, &rule{Rule: r, id: id, rng: rand.New(rand.NewPCG(s.faults.seed, uint64(id)))})
	return id
}

// Remove drops a rule.
func (s *Server) Remove(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rules = slices.DeleteFunc(s.faults.rules, func(r *rule) bool { return r.id == id })
}

// ClearRules drops every rule (Throttle's included). The record of what was injected stays.
func (s *Server) ClearRules() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rules = nil
	s.faults.throttle = map[string]int{}
}

// Throttle makes a fraction p of the calls to an operation ("DescribeTargetHealth",
// "SendCommand", "Invoke", "UpdateItem") fail with the service's throttling error; p 0
// stops it. It is Inject(Rule{Operation: op, Fault: Throttling, P: p}), replacing the
// operation's previous Throttle.
func (s *Server) Throttle(operation string, p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.faults.throttle[operation]; ok {
		s.faults.rules = slices.DeleteFunc(s.faults.rules, func(r *rule) bool { return r.id == id })
		delete(s.faults.throttle, operation)
	}
	if p <= 0 {
		return
	}
	s.faults.throttle[operation] = s.addRule(Rule{Operation: operation, Fault: Throttling, P: min(p, 1)})
}

// Injected lists every fault injected so far, in order.
func (s *Server) Injected() []Injection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.faults.log)
}

// RecordFault adds a fault the lab injected directly (an instance stopped, a group
// deleted) to the record, stamped with the lab's time.
func (s *Server) RecordFault(in Injection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(in)
}

func (s *Server) record(in Injection) {
	in.Seq = len(s.faults.log) + 1
	in.At, in.Since = s.Clock.Now(), s.Clock.Since()
	s.faults.log = append(s.faults.log, in)
}

func (r *rule) matches(service, op, function string) bool {
	return (r.Service == "" || r.Service == service) && (r.Operation == "" || r.Operation == op) &&
		(r.Function == "" || r.Function == function)
}

// fires counts a matching call and says whether the rule fails it.
func (r *rule) fires() bool {
	r.seen++
	if r.seen <= r.After || r.Times > 0 && r.fired >= r.Times {
		return false
	}
	if r.P > 0 && r.rng.Float64() >= r.P {
		return false
	}
	r.fired++
	return true
}

// call counts a call and returns the fault it must answer, if a rule fires.
func (s *Server) call(service, op, function string) *firing {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	for _, r := range s.faults.rules {
		if r.matches(service, op, function) && r.fires() {
			return &firing{rule: r}
		}
	}
	return nil
}

// answer is how a service answers a fault on the wire.
type answer struct {
	status  int
	code    string
	message string
	// sender: the query protocol's error Type (Sender for the caller's errors, Receiver
	// for the service's).
	sender bool
}

// answerFor is the service's answer to an API fault: its own code and HTTP status.
//
// Sources: each service's API reference (the errors of the operations the lab serves and
// the "Common Errors" page: InternalFailure 500, ServiceUnavailable 503, ThrottlingException
// 400 and AccessDeniedException for the JSON protocols), EC2's "Error codes for the Amazon
// EC2 API" (InternalError 500, Unavailable 503, RequestLimitExceeded, UnauthorizedOperation
// for a call IAM denies), SNS's AuthorizationError (403) and InternalError (500), SSM's and
// DynamoDB's modelled InternalServerError (500), Lambda Invoke's ServiceException (500),
// TooManyRequestsException (429) and AccessDeniedException (403), DynamoDB's
// ProvisionedThroughputExceededException (400) for a table's throughput. Real access
// denied answers quoted in public issues agree: ELB's is 403, Type Sender, Code
// AccessDenied, "User: ... is not authorized to perform: elasticloadbalancing:<Action> ...
// because no identity-based policy allows the elasticloadbalancing:<Action> action"
// (ministryofjustice/bootstrap-cfn#216, aws-samples/multi-tenant-chatbot-using-rag-with-
// amazon-bedrock#17). Auto Scaling, another query protocol service, answers as ELB does:
// Throttling "Rate exceeded" (400) and a 403 AccessDenied naming the autoscaling: action,
// as real answers quoted in public code show ("An error occurred (Throttling) when calling
// the DescribeAutoScalingGroups operation", "An error occurred (AccessDenied) when calling
// the DescribeAutoScalingInstances operation: User: ... is not authorized to perform:
// autoscaling:DescribeAutoScalingInstances because no identity-based policy allows ...").
func answerFor(service, op string, f Fault) answer {
	a, ok := answers[service][f]
	if !ok {
		a = answers[service][Throttling]
	}
	if f == AccessDenied { // names the caller and the action
		a.message += fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/drainpipe-lab/lab is not authorized to perform: %s:%s on resource: * because no identity-based policy allows the %s:%s action",
			Account, iamPrefix(service), iamAction(service, op), iamPrefix(service), iamAction(service, op))
	}
	return a
}

// answers are each service's answers to the API faults (Throttling's is also the answer
// to any other fault). Access denied's message is followed by the caller and the action.
var answers = func() map[string]map[Fault]answer {
	const (
		internal    = "The request processing has failed because of an unknown error, exception or failure."
		unavailable = "The request has failed due to a temporary failure of the server."
		rate        = "Rate exceeded"
	)
	// jsonService is the JSON protocols' common shape (SSM, DynamoDB, Step Functions).
	jsonService := func(internalCode, internalMessage, throttleCode, throttleMessage, unavailableMessage string) map[Fault]answer {
		return map[Fault]answer{
			InternalError:      {http.StatusInternalServerError, internalCode, internalMessage, false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailableMessage, false},
			AccessDenied:       {http.StatusBadRequest, "AccessDeniedException", "", true},
			Throttling:         {http.StatusBadRequest, throttleCode, throttleMessage, true},
		}
	}
	return map[string]map[Fault]answer{
		ServiceELB: {
			InternalError:      {http.StatusInternalServerError, "InternalFailure", internal, false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailable, false},
			AccessDenied:       {http.StatusForbidden, "AccessDenied", "", true},
			Throttling:         {http.StatusBadRequest, "Throttling", rate, true},
		},
		ServiceEC2: {
			InternalError:      {http.StatusInternalServerError, "InternalError", "An internal error has occurred.", false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "Unavailable", "The server is overloaded and can't handle the request.", false},
			AccessDenied:       {http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation. ", true},
			Throttling:         {http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.", true},
		},
		ServiceSNS: {
			InternalError:      {http.StatusInternalServerError, "InternalError", "Internal Error", false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailable, false},
			AccessDenied:       {http.StatusForbidden, "AuthorizationError", "", true},
			Throttling:         {http.StatusBadRequest, "Throttling", rate, true},
		},
		ServiceAutoScaling: {
			InternalError:      {http.StatusInternalServerError, "InternalFailure", internal, false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailable, false},
			AccessDenied:       {http.StatusForbidden, "AccessDenied", "", true},
			Throttling:         {http.StatusBadRequest, "Throttling", rate, true},
		},
		ServiceSSM: jsonService("InternalServerError", "An error occurred on the server side.", "ThrottlingException", rate, unavailable),
		ServiceDynamoDB: jsonService("InternalServerError", "Internal server error", "ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
			"DynamoDB is currently unavailable. (This should be a temporary state.)"),
		ServiceStepFunctions: jsonService("InternalFailure", internal, "ThrottlingException", rate, unavailable),
		ServiceCloudWatch: {
			InternalError:      {http.StatusInternalServerError, "InternalServiceError", internal, false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailable, false},
			AccessDenied:       {http.StatusForbidden, "AccessDenied", "", true},
			Throttling:         {http.StatusBadRequest, "Throttling", rate, true},
		},
		ServiceLambda: {
			InternalError:      {http.StatusInternalServerError, "ServiceException", "The Lambda service encountered an internal error.", false},
			ServiceUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable", unavailable, false},
			AccessDenied:       {http.StatusForbidden, "AccessDeniedException", "", true},
			Throttling:         {http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.", true},
		},
	}
}()

func iamPrefix(service string) string {
	if service == "" {
		return "aws"
	}
	return service
}

func iamAction(service, op string) string {
	if service == ServiceLambda && op == "Invoke" {
		return "InvokeFunction"
	}
	return op
}

// fail answers the call with the firing rule's fault, in the service's shape, and records
// it. It reports whether it answered.
func (s *Server) fail(w http.ResponseWriter, service, op, function string, f *firing) bool {
	if f == nil {
		return false
	}
	a := answerFor(service, op, f.rule.Fault)
	if f.rule.Code != "" {
		a.code = f.rule.Code
	}
	s.mu.Lock()
	s.record(Injection{Rule: f.rule.id, Service: service, Operation: op, Function: function, Fault: f.rule.Fault, Code: a.code, Status: a.status})
	s.mu.Unlock()
	switch service {
	case ServiceELB:
		elbError(w, a.status, kind(a.sender), a.code, a.message)
	case ServiceSNS:
		snsError(w, a.status, kind(a.sender), a.code, a.message)
	case ServiceAutoScaling:
		autoScalingError(w, a.status, kind(a.sender), a.code, a.message)
	case ServiceEC2:
		ec2Error(w, a.status, a.code, a.message)
	case ServiceDynamoDB:
		dynamoError(w, a.status, a.code, a.message)
	case ServiceStepFunctions:
		jsonError10(w, a.status, a.code, a.message)
	case ServiceCloudWatch:
		cborError(w, a.status, a.code, a.message)
	case ServiceLambda:
		restJSONError(w, a.status, a.code, a.message, a.sender)
	default:
		jsonError(w, a.status, a.code, a.message)
	}
	return true
}

func kind(sender bool) string {
	if sender {
		return "Sender"
	}
	return "Receiver"
}
