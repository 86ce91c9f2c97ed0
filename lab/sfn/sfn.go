// Package sfn owns the lab's Step Functions: the registry of state machines and
// executions, with the behaviour of the Step Functions API that drainpipe relies on, and
// the engine that runs the executions (engine.mjs: aws-local-stepfunctions, an
// independent implementation of the Amazon States Language, on Node 22 from .tools).
//
// As on AWS: execution names are unique per state machine and a repeated StartExecution
// with the same name and input returns the running execution; StopExecution runs no
// Catch, and stops the child executions its startExecution.sync:2 Tasks started; every
// execution's status change is published as EventBridge's "Step Functions Execution
// Status Change" event; a state input or output over 256 KiB fails the execution with
// States.DataLimitExceeded and a history over 25,000 events fails it too, neither
// catchable. Wait states and Retry intervals run at the lab's time scale. Package awsapi
// puts StartExecution, StopExecution, DescribeExecution and ListExecutions on the wire.
package sfn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drainpipe/drainpipe/statemachine"
)

//go:embed engine.mjs
var engineScript []byte

// Limits Step Functions enforces, which the engine enforces too.
const (
	// PayloadLimit is the largest state input or output, execution input, Task result or
	// child answer, in bytes of UTF-8 JSON (256 KiB).
	PayloadLimit = 262144
	// HistoryLimit is the most events an execution's history may hold.
	HistoryLimit = 25000
)

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusAborted   = "ABORTED"
	StatusTimedOut  = "TIMED_OUT"
)

// Service is the lab's Step Functions in one region and account.
type Service struct {
	// Tools is the folder with node_modules (Node 22, aws-local-stepfunctions).
	Tools string
	// Scale is real seconds per lab second.
	Scale float64
	// Env is the engine's environment: AWS_ENDPOINT_URL (the lab's endpoint, which serves
	// Lambda Invoke and StartExecution) and the credentials.
	Env             []string
	Region, Account string
	// Values are substituted for the ${...} placeholders of every definition, as
	// CloudFormation's DefinitionSubstitutions are.
	Values map[string]string

	mu          sync.Mutex
	dir         string
	machines    map[string]*machine
	executions  map[string]*Execution
	order       []*Execution
	engine      *engine
	files       int
	listeners   map[int]func(Event)
	nextID      int
	pending     []Event
	dispatching bool
	changes     []func(StatusChange)
	closed      bool
}

type machine struct {
	arn, name, file string
}

// Execution is one execution. Its fields other than the identity are read through
// Describe and Wait.
type Execution struct {
	ARN, Name, StateMachineARN string
	// Parent is the execution whose startExecution.sync:2 Task started this one ("" for
	// an execution started from outside).
	Parent string
	// root is the execution started from outside that this one descends from.
	root  string
	Input json.RawMessage
	// InstanceID is the input's instanceId, when it has one (for views and tests).
	InstanceID string
	StartDate  time.Time

	status     string
	stopDate   time.Time
	output     json.RawMessage
	errName    string
	cause      string
	events     int
	maxPayload int
	states     []string
	history    []Event
	done       chan struct{}
}

// Result is how an execution ended.
type Result struct {
	ARN       string
	Status    string
	Succeeded bool
	Output    json.RawMessage
	Error     string
	Cause     string
	// States are the states the execution entered, in order.
	States []string
	// Events is the execution's history length, counted as Step Functions counts it.
	Events int
	// MaxPayloadBytes is its largest state input or output.
	MaxPayloadBytes int
}

// Event is one thing that happened in an execution: a state entered, exited, retried or
// caught, or the execution's start or end.
type Event struct {
	// Type is StateEntered, StateExited, StateRetried, StateCaught, ExecutionStarted,
	// ExecutionSucceeded, ExecutionFailed, ExecutionAborted or ExecutionTimedOut.
	Type            string
	Name            string // the state, for state events
	StateType       string // the state's Type (Task, Choice, Wait, ...), for StateEntered and StateExited
	ExecutionARN    string
	StateMachineARN string
	Parent          string
	// Root is the execution started from outside that this one descends from (itself
	// when it has no parent).
	Root       string
	InstanceID string
	// At is the engine's wall clock.
	At     time.Time
	Input  json.RawMessage // ExecutionStarted's
	Output json.RawMessage
	Error  string
	Cause  string
}

// Terminal reports whether the event ends its execution.
func (e Event) Terminal() bool {
	switch e.Type {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
		return true
	}
	return false
}

// APIError is a Step Functions API error with its real code.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// FindTools looks for .tools/node_modules from dir upwards.
func FindTools(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		tools := filepath.Join(d, ".tools")
		if _, err := os.Stat(filepath.Join(tools, "node_modules", "aws-local-stepfunctions")); err == nil {
			return tools, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no .tools/node_modules with aws-local-stepfunctions above " + dir + ": run make tools")
		}
	}
}

// CreateStateMachine registers a definition under a name, its placeholders substituted,
// and returns its ARN. Registering a name again replaces its definition.
func (s *Service) CreateStateMachine(name string, definition []byte) (string, error) {
	def, err := statemachine.Substitute(definition, s.Values)
	if err != nil {
		return "", fmt.Errorf("state machine %s: %w", name, err)
	}
	if !json.Valid(def) {
		return "", &APIError{Code: "InvalidDefinition", Message: "the definition of " + name + " is not JSON"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.prepare(); err != nil {
		return "", err
	}
	// A new file each time: the engine keeps what it has read of a file.
	s.files++
	file := filepath.Join(s.dir, fmt.Sprintf("%s-%d.asl.json", name, s.files))
	if err := os.WriteFile(file, def, 0o600); err != nil {
		return "", err
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.Region, s.Account, name)
	if s.machines == nil {
		s.machines = map[string]*machine{}
	}
	s.machines[arn] = &machine{arn: arn, name: name, file: file}
	return arn, nil
}

// StateMachine is a registered state machine, as ListStateMachines lists it.
type StateMachine struct{ ARN, Name string }

// StateMachines lists the registered state machines by name.
func (s *Service) StateMachines() []StateMachine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StateMachine
	for _, m := range s.machines {
		out = append(out, StateMachine{ARN: m.arn, Name: m.name})
	}
	slices.SortFunc(out, func(a, b StateMachine) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// prepare makes the folder for definitions and the engine script. Callers hold s.mu.
func (s *Service) prepare() error {
	if s.dir != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "drainpipe-sfn-")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "engine.mjs"), engineScript, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	s.dir = dir
	return nil
}

// namePattern: 1 to 80 characters, none of them whitespace, brackets, wildcards, the
// special characters " # % \ ^ | ~ ` $ & , ; : / or control characters.
var namePattern = regexp.MustCompile("^[^\\s<>{}\\[\\]?*\"#%\\\\^|~`$&,;:/\\x00-\\x1f\\x7f-\\x9f]{1,80}$")

// StartExecution starts an execution of the state machine. An empty name gets a UUID. A
// name already used by this state machine returns that execution if it is running with
// the same input, and fails with ExecutionAlreadyExists otherwise. parent names the
// execution whose startExecution.sync:2 Task starts it ("" from outside).
func (s *Service) StartExecution(machineARN, name string, input json.RawMessage, parent string) (*Execution, error) {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	if !json.Valid(input) {
		return nil, &APIError{Code: "InvalidExecutionInput", Message: "Invalid State Machine Execution Input: the input is not JSON"}
	}
	if len(input) > PayloadLimit {
		return nil, &APIError{Code: "InvalidExecutionInput", Message: fmt.Sprintf("Invalid State Machine Execution Input: %d bytes exceeds the maximum of %d bytes", len(input), PayloadLimit)}
	}
	if name == "" {
		name = uuid()
	}
	if !namePattern.MatchString(name) {
		return nil, &APIError{Code: "InvalidName", Message: fmt.Sprintf("Invalid Name: '%s'", name)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &APIError{Code: "ServiceUnavailable", Message: "the lab is closed"}
	}
	m, ok := s.machines[machineARN]
	if !ok {
		return nil, &APIError{Code: "StateMachineDoesNotExist", Message: "State Machine Does Not Exist: '" + machineARN + "'"}
	}
	arn := strings.Replace(machineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	if ex, ok := s.executions[arn]; ok {
		if ex.status == StatusRunning && jsonEqual(ex.Input, input) {
			return ex, nil
		}
		return nil, &APIError{Code: "ExecutionAlreadyExists", Message: "Execution Already Exists: '" + arn + "'"}
	}
	if err := s.startEngine(); err != nil {
		return nil, err
	}
	var in struct {
		InstanceID string `json:"instanceId"`
	}
	_ = json.Unmarshal(input, &in)
	ex := &Execution{ARN: arn, Name: name, StateMachineARN: machineARN, Parent: parent, root: arn, Input: slices.Clone(input),
		InstanceID: in.InstanceID, StartDate: time.Now().UTC(), status: StatusRunning, done: make(chan struct{})}
	if p, ok := s.executions[parent]; ok {
		ex.root = p.root
	}
	if s.executions == nil {
		s.executions = map[string]*Execution{}
	}
	s.executions[arn] = ex
	s.order = append(s.order, ex)
	err := s.engine.send(map[string]any{"op": "start", "arn": arn, "stateMachineArn": machineARN, "name": name,
		"definition": m.file, "input": json.RawMessage(input), "startDate": ex.StartDate.Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	s.publish(ex, Event{Type: "ExecutionStarted", At: ex.StartDate, Input: ex.Input})
	return ex, nil
}

// StopExecution stops a running execution, as the console's Stop or an execution timeout
// does: no Catch runs; the child executions it started with startExecution.sync:2 are
// stopped too. Stopping an execution that has ended changes nothing.
func (s *Service) StopExecution(arn, errName, cause string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.executions[arn]
	if !ok {
		return &APIError{Code: "ExecutionDoesNotExist", Message: "Execution Does Not Exist: '" + arn + "'"}
	}
	s.stop(ex, errName, cause)
	return nil
}

// stop ends the execution as ABORTED and stops its running children. Callers hold s.mu.
func (s *Service) stop(ex *Execution, errName, cause string) {
	if ex.status != StatusRunning {
		return
	}
	_ = s.engine.send(map[string]any{"op": "stop", "arn": ex.ARN, "error": errName, "cause": cause})
	s.end(ex, StatusAborted, nil, errName, cause)
	s.publish(ex, Event{Type: "ExecutionAborted", At: time.Now(), Error: errName, Cause: cause})
	for _, child := range s.order {
		if child.Parent == ex.ARN {
			s.stop(child, "", "the parent execution "+ex.ARN+" was stopped")
		}
	}
}

// end records an execution's end. Callers hold s.mu.
func (s *Service) end(ex *Execution, status string, output json.RawMessage, errName, cause string) {
	ex.status, ex.stopDate, ex.output, ex.errName, ex.cause = status, time.Now().UTC(), output, errName, cause
	close(ex.done)
	change := newStatusChange(s, ex)
	for _, fn := range s.changes {
		go fn(change) // EventBridge delivers asynchronously
	}
}

// Description is what DescribeExecution answers.
type Description struct {
	ARN, Name, StateMachineARN, Status string
	Parent                             string
	Input, Output                      json.RawMessage
	Error, Cause                       string
	StartDate, StopDate                time.Time
}

// Describe returns an execution's state.
func (s *Service) Describe(arn string) (Description, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.executions[arn]
	if !ok {
		return Description{}, &APIError{Code: "ExecutionDoesNotExist", Message: "Execution Does Not Exist: '" + arn + "'"}
	}
	return ex.describe(), nil
}

func (ex *Execution) describe() Description {
	return Description{ARN: ex.ARN, Name: ex.Name, StateMachineARN: ex.StateMachineARN, Status: ex.status, Parent: ex.Parent,
		Input: ex.Input, Output: ex.output, Error: ex.errName, Cause: ex.cause, StartDate: ex.StartDate, StopDate: ex.stopDate}
}

// List returns the executions of a state machine ("" for all), newest first, optionally
// only those with the status.
func (s *Service) List(machineARN, status string) []Description {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Description
	for i := len(s.order) - 1; i >= 0; i-- {
		ex := s.order[i]
		if (machineARN == "" || ex.StateMachineARN == machineARN) && (status == "" || ex.status == status) {
			out = append(out, ex.describe())
		}
	}
	return out
}

// History returns an execution's events so far, oldest first: its start, each state
// entered, exited, retried or caught, and its end (what GetExecutionHistory answers).
func (s *Service) History(arn string) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.executions[arn]
	if !ok {
		return nil, &APIError{Code: "ExecutionDoesNotExist", Message: "Execution Does Not Exist: '" + arn + "'"}
	}
	return slices.Clone(ex.history), nil
}

// Wait waits for the execution's end.
func (s *Service) Wait(ctx context.Context, arn string) (Result, error) {
	s.mu.Lock()
	ex, ok := s.executions[arn]
	s.mu.Unlock()
	if !ok {
		return Result{}, &APIError{Code: "ExecutionDoesNotExist", Message: "Execution Does Not Exist: '" + arn + "'"}
	}
	select {
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-ex.done:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result{ARN: ex.ARN, Status: ex.status, Succeeded: ex.status == StatusSucceeded, Output: ex.output, Error: ex.errName,
		Cause: ex.cause, States: slices.Clone(ex.states), Events: ex.events, MaxPayloadBytes: ex.maxPayload}, nil
}

// Stats returns an execution's history length and largest payload so far; the engine
// reports them when the execution ends.
func (s *Service) Stats(arn string) (events, maxPayload int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ex, ok := s.executions[arn]; ok {
		return ex.events, ex.maxPayload
	}
	return 0, 0
}

// Run starts an execution and waits for its end; onEvent (which may be nil) sees the
// events of the execution and of every execution it starts, in order, each delivered
// before Run returns.
func (s *Service) Run(ctx context.Context, machineARN, name string, input any, onEvent func(Event)) (Result, error) {
	payload, err := json.Marshal(input)
	if err != nil {
		return Result{}, err
	}
	if name == "" {
		name = uuid()
	}
	arn := strings.Replace(machineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	ended := make(chan struct{})
	var once sync.Once
	cancel := s.Subscribe(func(e Event) {
		if e.Root != arn {
			return
		}
		if onEvent != nil {
			onEvent(e)
		}
		if e.ExecutionARN == arn && e.Terminal() {
			once.Do(func() { close(ended) })
		}
	})
	defer cancel()
	ex, err := s.StartExecution(machineARN, name, payload, "")
	if err != nil {
		return Result{}, err
	}
	res, err := s.Wait(ctx, ex.ARN)
	if err != nil {
		return res, err
	}
	select { // the last events reach onEvent before Run returns
	case <-ended:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	return res, nil
}

// Subscribe calls fn for every event of every execution, in the order they happen, until
// cancel is called. fn runs on the service's delivery goroutine: it may call the service,
// and should not block long.
func (s *Service) Subscribe(fn func(Event)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		s.listeners = map[int]func(Event){}
	}
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

// OnStatusChange calls fn, asynchronously as EventBridge delivers, for every status
// change of every execution: its start (RUNNING) and its end.
func (s *Service) OnStatusChange(fn func(StatusChange)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, fn)
}

// publish fills in the event's execution and queues it for the listeners, which one
// goroutine calls in order, outside the lock. Callers hold s.mu.
func (s *Service) publish(ex *Execution, e Event) {
	e.ExecutionARN, e.StateMachineARN, e.Parent, e.Root, e.InstanceID = ex.ARN, ex.StateMachineARN, ex.Parent, ex.root, ex.InstanceID
	ex.history = append(ex.history, e)
	s.pending = append(s.pending, e)
	if !s.dispatching {
		s.dispatching = true
		go s.dispatch()
	}
	if e.Type == "ExecutionStarted" {
		change := newStatusChange(s, ex)
		for _, fn := range s.changes {
			go fn(change)
		}
	}
}

func (s *Service) dispatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) > 0 {
		batch := s.pending
		s.pending = nil
		var listeners []func(Event)
		for _, id := range slices.Sorted(maps.Keys(s.listeners)) {
			listeners = append(listeners, s.listeners[id])
		}
		s.mu.Unlock()
		for _, e := range batch {
			for _, fn := range listeners {
				fn(e)
			}
		}
		s.mu.Lock()
	}
	s.dispatching = false
}

// Close stops the engine (every running execution with it) and removes the files.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	e := s.engine
	s.mu.Unlock()
	if e != nil {
		e.close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ex := range s.order {
		if ex.status == StatusRunning {
			ex.status, ex.errName, ex.cause = StatusAborted, "LabClosed", "the lab was closed"
			close(ex.done)
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// engine is the Node process that runs the executions.
type engine struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	// warmed is closed when the engine has read the definitions Start gave it.
	warmed     chan struct{}
	warmedOnce sync.Once
}

// Start starts the engine now, and has it read and validate every state machine created
// so far, rather than at the first execution of each: Step Functions is always running,
// so the Node process's start-up and its first validation of a definition (about half a
// second together, ten lab seconds at the demo's scale) must not count as an execution's.
func (s *Service) Start() error {
	s.mu.Lock()
	if err := s.startEngine(); err != nil {
		s.mu.Unlock()
		return err
	}
	var files []string
	for _, m := range s.machines {
		files = append(files, m.file)
	}
	e := s.engine
	s.mu.Unlock()
	if err := e.send(map[string]any{"op": "warm", "files": files}); err != nil {
		return err
	}
	select {
	case <-e.warmed:
		return nil
	case <-e.exited:
		e.mu.Lock()
		defer e.mu.Unlock()
		return fmt.Errorf("the lab's Step Functions engine exited while starting: %s", tail(e.stderr.String()))
	case <-time.After(60 * time.Second):
		return fmt.Errorf("the lab's Step Functions engine did not start within 60 s")
	}
}

// startEngine starts the engine process once. Callers hold s.mu.
func (s *Service) startEngine() error {
	if s.engine != nil {
		return nil
	}
	if err := s.prepare(); err != nil {
		return err
	}
	node := filepath.Join(s.Tools, "node_modules", ".bin", "node")
	cmd := exec.Command(node, filepath.Join(s.dir, "engine.mjs"), fmt.Sprint(s.Scale), s.Tools)
	cmd.Env = append(append(os.Environ(), s.Env...), "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e := &engine{cmd: cmd, exited: make(chan struct{}), warmed: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &e.mu, w: &e.stderr}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the Step Functions engine %s: %w", node, err)
	}
	e.stdin = stdin
	s.engine = e
	go s.read(e, stdout)
	return nil
}

func (e *engine) send(cmd any) error {
	line, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.stdin.Write(append(line, '\n'))
	return err
}

func (e *engine) close() {
	_ = e.stdin.Close()
	select {
	case <-e.exited:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.exited
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		l.w.Reset()
	}
	return l.w.Write(p)
}

// engineEvent is one line the engine writes.
type engineEvent struct {
	ARN             string          `json:"arn"`
	Type            string          `json:"type"`
	Name            string          `json:"name"`
	StateType       string          `json:"stateType"`
	At              int64           `json:"at"`
	Output          json.RawMessage `json:"output"`
	Error           string          `json:"error"`
	Cause           string          `json:"cause"`
	Events          int             `json:"events"`
	MaxPayloadBytes int             `json:"maxPayloadBytes"`
}

// read follows the engine's events until it exits; then every execution still running
// fails.
func (s *Service) read(e *engine, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var ev engineEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		if ev.ARN == "" {
			if ev.Type == "Warmed" {
				e.warmedOnce.Do(func() { close(e.warmed) })
			}
			continue
		}
		s.handle(ev)
	}
	waitErr := e.cmd.Wait()
	close(e.exited)
	e.mu.Lock()
	stderr := e.stderr.String()
	e.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ex := range s.order {
		if ex.status == StatusRunning {
			cause := fmt.Sprintf("the lab's Step Functions engine exited (%v): %s", waitErr, tail(stderr))
			s.end(ex, StatusFailed, nil, "States.Runtime", cause)
			s.publish(ex, Event{Type: "ExecutionFailed", At: time.Now(), Error: "States.Runtime", Cause: cause})
		}
	}
}

func (s *Service) handle(ev engineEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.executions[ev.ARN]
	if !ok {
		return
	}
	e := Event{Type: ev.Type, Name: ev.Name, StateType: ev.StateType, At: time.UnixMilli(ev.At), Output: ev.Output, Error: ev.Error, Cause: ev.Cause}
	switch ev.Type {
	case "StateEntered", "StateExited", "StateRetried", "StateCaught":
		if ex.status != StatusRunning {
			return // the engine's events in flight when the stop came: AWS records nothing after the end
		}
		if ev.Type == "StateEntered" {
			ex.states = append(ex.states, ev.Name)
		}
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
		ex.events, ex.maxPayload = ev.Events, ev.MaxPayloadBytes
		if ex.status != StatusRunning {
			return // stopped: the end was recorded and published when the stop came
		}
		status := map[string]string{"ExecutionSucceeded": StatusSucceeded, "ExecutionFailed": StatusFailed,
			"ExecutionAborted": StatusAborted, "ExecutionTimedOut": StatusTimedOut}[ev.Type]
		s.end(ex, status, ev.Output, ev.Error, ev.Cause)
	}
	s.publish(ex, e)
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
