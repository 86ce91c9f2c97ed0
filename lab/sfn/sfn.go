// Package sfn owns the lab's state machine runner: it executes drainpipe's real ASL
// definitions, placeholders substituted with lab function ARNs, in aws-local-stepfunctions
// (an independent implementation of the Amazon States Language) on Node 22, whose Lambda
// Tasks reach the lab's endpoint through AWS_ENDPOINT_URL_LAMBDA. Wait states and Retry
// intervals run at the lab's time scale.
package sfn

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drainpipe/drainpipe/internal/functions"
	"github.com/drainpipe/drainpipe/statemachine"
)

//go:embed runner.mjs
var runnerScript []byte

// Runner runs executions.
type Runner struct {
	// Tools is the folder with node_modules (Node 22, aws-local-stepfunctions).
	Tools string
	// Scale is real seconds per lab second.
	Scale float64
	// Env is the environment that points the engine's Lambda client at the lab.
	Env []string
	// ARN gives a function's lab ARN.
	ARN func(name string) string
	// Resources are the values of the placeholders that are not functions.
	Resources map[string]string
	// Machines maps the state machine ARNs that startExecution Tasks name to definition
	// files; those Tasks run the definition as a nested execution.
	Machines map[string]string

	dir  string
	once sync.Once
	err  error
}

// Event is one line of the execution's history.
type Event struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	// Child names the nested (child) execution the event belongs to; "" for the parent.
	Child string `json:"child,omitempty"`
	// InstanceID is the child execution's instance, when its input names one.
	InstanceID string `json:"instanceId,omitempty"`
	// At is the engine's wall clock in Unix milliseconds.
	At     int64           `json:"at,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	Input  json.RawMessage `json:"input,omitempty"`
}

// Result is how an execution ended.
type Result struct {
	Succeeded bool
	Output    json.RawMessage
	Error     string
	Cause     string
	// States are the states entered, in order.
	States []string
}

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

// prepare writes the runner script and every definition, substituted, into a temporary
// folder, once.
func (r *Runner) prepare() error {
	r.once.Do(func() {
		r.dir, r.err = os.MkdirTemp("", "drainpipe-sfn-")
		if r.err != nil {
			return
		}
		if r.err = os.WriteFile(filepath.Join(r.dir, "runner.mjs"), runnerScript, 0o600); r.err != nil {
			return
		}
		values := r.values()
		for _, name := range statemachine.Names() {
			def, err := statemachine.Definition(name)
			if err != nil {
				r.err = err
				return
			}
			if def, err = statemachine.Substitute(def, values); err != nil {
				r.err = fmt.Errorf("%s: %w", name, err)
				return
			}
			if r.err = os.WriteFile(filepath.Join(r.dir, name), def, 0o600); r.err != nil {
				return
			}
		}
	})
	return r.err
}

// Close removes the temporary folder.
func (r *Runner) Close() {
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}

// Run executes the named definition (a file of package statemachine) with the input and
// calls onEvent (which may be nil) for each event as it happens. The engine process is
// killed when ctx ends.
func (r *Runner) Run(ctx context.Context, definition, executionName string, input any, onEvent func(Event)) (Result, error) {
	if err := r.prepare(); err != nil {
		return Result{}, err
	}
	return r.run(ctx, filepath.Join(r.dir, definition), executionName, input, onEvent)
}

// RunDefinition executes a definition given as JSON, its placeholders substituted as the
// embedded definitions' are.
func (r *Runner) RunDefinition(ctx context.Context, def []byte, executionName string, input any, onEvent func(Event)) (Result, error) {
	if err := r.prepare(); err != nil {
		return Result{}, err
	}
	def, err := statemachine.Substitute(def, r.values())
	if err != nil {
		return Result{}, err
	}
	f, err := os.CreateTemp(r.dir, "definition-*.asl.json")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(def); err != nil {
		_ = f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	return r.run(ctx, f.Name(), executionName, input, onEvent)
}

func (r *Runner) values() map[string]string {
	values := map[string]string{}
	for _, f := range functions.All {
		values[functions.Placeholder(f.Name)] = r.ARN(f.Name)
	}
	for k, v := range r.Resources {
		values[k] = v
	}
	return values
}

func (r *Runner) run(ctx context.Context, definitionPath, executionName string, input any, onEvent func(Event)) (Result, error) {
	payload, err := json.Marshal(input)
	if err != nil {
		return Result{}, err
	}
	node := filepath.Join(r.Tools, "node_modules", ".bin", "node")
	cmd := exec.CommandContext(ctx, node, filepath.Join(r.dir, "runner.mjs"), definitionPath, fmt.Sprint(r.Scale), r.Tools)
	machines := map[string]string{}
	for arn, file := range r.Machines {
		machines[arn] = filepath.Join(r.dir, file)
	}
	machinesJSON, _ := json.Marshal(machines)
	machine := "drainpipe-" + strings.TrimSuffix(filepath.Base(definitionPath), ".asl.json")
	cmd.Env = append(append(os.Environ(), r.Env...), "EXECUTION_NAME="+executionName, "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1",
		"EXECUTION_ID=arn:aws:states:us-east-1:123456789012:execution:"+machine+":"+executionName,
		"DRAINPIPE_MACHINES="+string(machinesJSON))
	cmd.Stdin = bytes.NewReader(payload)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting %s: %w", node, err)
	}
	var res Result
	done := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		if onEvent != nil {
			onEvent(e)
		}
		switch {
		case e.Child != "":
			// A child execution's event: the caller sees it, the result does not.
		case e.Type == "StateEntered":
			res.States = append(res.States, e.Name)
		case e.Type == "ExecutionSucceeded":
			res.Succeeded, res.Output, done = true, e.Output, true
		case e.Type == "ExecutionFailed":
			res.Error, res.Cause, done = e.Error, e.Cause, true
		}
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if !done {
		return res, fmt.Errorf("the state machine engine ended without a result (%v): %s", waitErr, tail(stderr.String()))
	}
	return res, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
