package statemachine

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
)

type state struct {
	ItemProcessor  *definition
	Type           string
	Resource       string
	Next           string
	Default        string
	End            bool
	Choices        []struct{ Variable, Next string }
	Retry          []retrier
	Catch          []catcher
	ErrorPath      string
	CausePath      string
	Error          string
	SecondsPath    string
	TimeoutSeconds int
	Parameters     map[string]any
	ResultPath     string
}

// keepsError says whether a Pass state only adds to the cause of the error at $.error,
// keeping its name.
func (s state) keepsError() bool {
	return s.Type == "Pass" && s.ResultPath == "$.error" && s.Parameters["Error.$"] == "$.error.Error"
}

type retrier struct {
	ErrorEquals     []string
	IntervalSeconds int
	MaxAttempts     int
	BackoffRate     float64
	MaxDelaySeconds int
	JitterStrategy  string
}

type catcher struct {
	ErrorEquals []string
	ResultPath  string
	Next        string
}

type definition struct {
	StartAt        string
	TimeoutSeconds *int
	States         map[string]state
}

func load(t *testing.T, name string) definition {
	t.Helper()
	raw, err := Definition(name)
	if err != nil {
		t.Fatal(err)
	}
	var def definition
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&def); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	return def
}

// next lists the states a state can go to without an error.
func (s state) next() []string {
	var out []string
	for _, n := range append([]string{s.Next, s.Default}, choiceNexts(s)...) {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

func choiceNexts(s state) []string {
	var out []string
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	return out
}

// reachable lists the states reachable from start, following errors too when withCatch,
// and never entering skip.
func (d definition) reachable(start string, withCatch bool, skip string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if name == skip || seen[name] {
			return
		}
		seen[name] = true
		s := d.States[name]
		for _, n := range s.next() {
			walk(n)
		}
		if withCatch {
			for _, c := range s.Catch {
				walk(c.Next)
			}
		}
	}
	walk(start)
	return seen
}

// transient are the failures of an invocation rather than of drainpipe's logic: Lambda's
// own service errors, and the function's environment failing under it: a timeout
// (Sandbox.Timedout; Lambda.Unknown when the payload has no errorType) or a crash of its
// process (Runtime.ExitError). Every function is idempotent, so each is retried.
var transient = []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
	"Sandbox.Timedout", "Lambda.Unknown", "Runtime.ExitError"}

func TestDefinitions(t *testing.T) {
	if len(Names()) == 0 {
		t.Fatal("no definitions embedded")
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			top := load(t, name)
			for _, def := range top.all() {
				checkDefinition(t, def)
			}
			// An execution timeout cannot be caught: it would end the execution with the
			// instance out of rotation, or the rollout's locks held. Deadlines live in the
			// functions instead.
			if top.TimeoutSeconds != nil {
				t.Error("the definition sets TimeoutSeconds: an execution timeout skips the rollback")
			}
			raw, _ := Definition(name)
			if strings.Contains(string(raw), `"ResultPath": "$"`) {
				t.Error(`ResultPath "$" means "replace the state" on AWS but a key named $ in aws-local-stepfunctions: omit it`)
			}
		})
	}
}

// all returns the definition and every nested one (Map item processors).
func (d definition) all() []definition {
	out := []definition{d}
	for _, s := range d.States {
		if s.ItemProcessor != nil {
			out = append(out, s.ItemProcessor.all()...)
		}
	}
	return out
}

func checkDefinition(t *testing.T, def definition) {
	t.Helper()
	if _, ok := def.States[def.StartAt]; !ok {
		t.Fatalf("StartAt %q is not a state", def.StartAt)
	}
	all := def.reachable(def.StartAt, true, "")
	for n, s := range def.States {
		for _, to := range append(s.next(), catchNexts(s)...) {
			if _, ok := def.States[to]; !ok {
				t.Errorf("%s goes to %q, which is not a state", n, to)
			}
		}
		if !all[n] {
			t.Errorf("%s is unreachable", n)
		}
		if s.Type == "Choice" && s.Default == "" {
			t.Errorf("%s: a Choice without Default fails with States.NoChoiceMatched, which no Catch sees", n)
		}
		if s.Type == "Task" {
			// The ASL spec's default Task timeout is 60 s, AWS's is 99999999 s: say it,
			// so that every engine agrees.
			switch {
			case isFunction(s.Resource):
				checkRetry(t, n, s)
				if s.TimeoutSeconds <= 0 || s.TimeoutSeconds > 900 {
					t.Errorf("%s: a function Task needs an explicit TimeoutSeconds (1-900), has %d", n, s.TimeoutSeconds)
				}
			case len(s.Retry) == 0 || s.TimeoutSeconds <= 0:
				t.Errorf("%s: a service integration Task needs a Retry and an explicit TimeoutSeconds", n)
			}
		}
		for _, r := range s.Retry {
			checkNames(t, n, r.ErrorEquals)
		}
		for _, c := range s.Catch {
			checkNames(t, n, c.ErrorEquals)
		}
	}
}

func isFunction(resource string) bool {
	return strings.HasPrefix(resource, "${") && strings.HasSuffix(resource, "FunctionArn}")
}

func catchNexts(s state) []string {
	var out []string
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	return out
}

func checkRetry(t *testing.T, name string, s state) {
	t.Helper()
	for _, r := range s.Retry {
		if slices.Equal(r.ErrorEquals, transient) {
			if r.MaxAttempts < 3 || r.BackoffRate < 1.5 || r.JitterStrategy != "FULL" {
				t.Errorf("%s: the transient Retry needs at least 3 attempts with backoff and full jitter: %+v", name, r)
			}
			return
		}
	}
	t.Errorf("%s: no Retry on exactly the transient Lambda errors %v", name, transient)
}

// checkNames: every custom error name matched is one a function can produce, or one the
// services name (Step Functions', Lambda's, and Lambda's for a function's environment:
// Sandbox.Timedout, Runtime.ExitError).
func checkNames(t *testing.T, state string, names []string) {
	t.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, "States.") || strings.HasPrefix(n, "Lambda.") || strings.HasPrefix(n, "StepFunctions.") ||
			n == "Sandbox.Timedout" || n == "Runtime.ExitError" {
			continue
		}
		if !slices.Contains(faults.Names, n) {
			t.Errorf("%s matches error %q, which no function produces (faults.Names)", state, n)
		}
	}
}

// TestRollback is the safety property: from the first deregistration until the
// reservation is given back, every Task that can fail is caught (States.ALL), the catch
// path re-registers the instance, and it then fails with the original error name and
// cause, never succeeds. After the reservation is given back the instance is in service
// and may already be another execution's: nothing there may register it again.
func TestRollback(t *testing.T) {
	def := load(t, MaintainInstance)
	deregister, register := "${DeregisterTargetFunctionArn}", "${RegisterTargetFunctionArn}"
	var start string
	for n, s := range def.States {
		if s.Resource == deregister {
			start = n
		}
	}
	if start == "" {
		t.Fatal("no state deregisters the instance")
	}
	// At risk: reachable from the deregistration before the reservation is given back on
	// the way to success, and not reachable without it (the dry run reaches the final
	// summary without changing anything).
	released := ""
	for _, s := range def.States {
		if s.Resource == "${ReleaseCapacityFunctionArn}" && def.States[s.Next].Type != "Fail" {
			released = s.Next
		}
	}
	withDeregistration := def.reachable(start, false, released)
	withoutDeregistration := def.reachable(def.StartAt, false, start)
	var atRisk []string
	for n := range withDeregistration {
		if !withoutDeregistration[n] {
			atRisk = append(atRisk, n)
		}
	}
	slices.Sort(atRisk)
	if len(atRisk) < 10 {
		t.Fatalf("only %d states after deregistration: %v", len(atRisk), atRisk)
	}
	for _, n := range atRisk {
		s := def.States[n]
		if s.Type == "Succeed" {
			t.Errorf("%s: the instance may be out of rotation at a Succeed state", n)
		}
		if s.Type != "Task" && s.Type != "Parallel" && s.Type != "Map" {
			continue
		}
		var all *catcher
		for i, c := range s.Catch {
			if slices.Contains(c.ErrorEquals, "States.ALL") {
				all = &s.Catch[i]
			}
		}
		if all == nil {
			t.Errorf("%s: no Catch on States.ALL after deregistration", n)
			continue
		}
		if all.ResultPath != "$.error" {
			t.Errorf("%s: the Catch must keep the state and put the error at $.error, has ResultPath %q", n, all.ResultPath)
		}
		restore := def.States[all.Next]
		if restore.Resource != register {
			t.Errorf("%s: the Catch goes to %s, which does not register the instance again", n, all.Next)
			continue
		}
		// Then the instance leaves Standby (TestStandbyIsLeft), and, after a wait, the
		// reservation is given back (whether or not that succeeds) and the execution fails
		// with the original error.
		next := restore.Next
		if def.States[next].Resource == "${ExitStandbyFunctionArn}" {
			next = def.States[next].Next
		}
		if def.States[next].Type == "Wait" {
			next = def.States[next].Next
		}
		release := def.States[next]
		if release.Resource != releaseCapacity {
			t.Errorf("%s: after %s comes %s, which does not release the reservation", n, all.Next, next)
			continue
		}
		for _, to := range append([]string{release.Next}, catchNexts(release)...) {
			if def.States[to].keepsError() {
				to = def.States[to].Next
			}
			if f := def.States[to]; f.Type != "Fail" || f.ErrorPath != "$.error.Error" || f.CausePath != "$.error.Cause" {
				t.Errorf("%s: after %s the execution must fail with the original error ($.error.Error, $.error.Cause), goes to %s %+v", n, next, to, f)
			}
		}
		// When the restore itself fails the execution fails; but when the instance is no
		// longer running (InstanceNotRunning) or its group is gone (TargetGroupNotFound)
		// there is nothing to put back, and the reservation is given back before failing
		// with the original error.
		for _, c := range restore.Catch {
			f := def.States[c.Next]
			if slices.Equal(c.ErrorEquals, []string{"InstanceNotRunning", "TargetGroupNotFound"}) {
				if !f.keepsError() || f.Next != restore.Next {
					t.Errorf("%s: an instance no longer running goes to %s, which does not keep the error and release the reservation", all.Next, c.Next)
				}
				continue
			}
			if f.Type != "Fail" {
				t.Errorf("%s: when the restore itself fails the execution must fail, goes to %s", all.Next, c.Next)
			}
		}
	}
}

// TestReservationIsReleased: once the capacity is reserved, every way the execution can
// end passes a release of the reservation first, but one: when re-registering the
// instance failed (RestoreFailed), the instance may still be out, so its reservation is
// kept for the recovery handler. A failed reservation is released too (it may have
// written part of it).
func TestReservationIsReleased(t *testing.T) {
	def := load(t, MaintainInstance)
	var reserve string
	for n, s := range def.States {
		if s.Resource == reserveCapacity {
			reserve = n
		}
	}
	if reserve == "" {
		t.Fatal("no state reserves capacity")
	}
	for _, c := range def.States[reserve].Catch {
		if def.States[c.Next].Resource != releaseCapacity {
			t.Errorf("%s: a failed reservation goes to %s, which does not release it", reserve, c.Next)
		}
	}
	// Walk from the reservation's success, never through a release.
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		s := def.States[name]
		if seen[name] || s.Resource == releaseCapacity {
			return
		}
		seen[name] = true
		if name != "RestoreFailed" && (s.Type == "Succeed" || s.Type == "Fail" || s.End) {
			t.Errorf("%s ends the execution without releasing the reservation", name)
		}
		for _, c := range s.Choices {
			if c.Variable != "$.dryRun" { // a dry run reserves nothing
				walk(c.Next)
			}
		}
		for _, n := range append([]string{s.Next, s.Default}, catchNexts(s)...) {
			if n != "" {
				walk(n)
			}
		}
	}
	walk(def.States[reserve].Next)
	if !seen["IsCapacityReserved"] || !seen["DeregisterTarget"] {
		t.Fatalf("the walk from %s did not reach the deregistration: %v", reserve, seen)
	}
}

var (
	reserveCapacity = "${ReserveCapacityFunctionArn}"
	releaseCapacity = "${ReleaseCapacityFunctionArn}"
)

// TestWaitsReadThePlan: a wait comes from the plan's waits (set by resolve-targets), or
// from the pollSeconds of the step that has just run: the Task whose result the wait reads
// leads to it, directly or through one Choice, so the value read is always the fresh one.
func TestWaitsReadThePlan(t *testing.T) {
	def := load(t, MaintainInstance)
	leadsTo := func(from, wait string) bool {
		if from == wait {
			return true
		}
		c := def.States[from]
		if c.Type != "Choice" {
			return false
		}
		if c.Default == wait {
			return true
		}
		for _, ch := range c.Choices {
			if ch.Next == wait {
				return true
			}
		}
		return false
	}
	fromResults := 0
	for n, s := range def.States {
		if s.Type != "Wait" || strings.HasPrefix(s.SecondsPath, "$.waits.") {
			continue
		}
		key, ok := strings.CutSuffix(s.SecondsPath, ".pollSeconds")
		if !ok {
			t.Errorf("%s: SecondsPath %q is neither one of the plan's waits nor a step's pollSeconds", n, s.SecondsPath)
			continue
		}
		fresh := false
		for _, task := range def.States {
			if task.Type == "Task" && task.ResultPath == key && leadsTo(task.Next, n) {
				fresh = true
			}
		}
		if !fresh {
			t.Errorf("%s: no Task writes %s and leads straight to the wait", n, key)
		}
		fromResults++
	}
	if fromResults < 7 {
		t.Errorf("%d waits read a step's pollSeconds; the command, drain and health loops all should", fromResults)
	}
}

func TestSubstitute(t *testing.T) {
	def := []byte(`{"a": "${One}", "b": "${Two}", "c": "${One}"}`)
	if got := Placeholders(def); !slices.Equal(got, []string{"One", "Two"}) {
		t.Errorf("Placeholders = %v", got)
	}
	out, err := Substitute(def, map[string]string{"One": "arn:1", "Two": "arn:2"})
	if err != nil || string(out) != `{"a": "arn:1", "b": "arn:2", "c": "arn:1"}` {
		t.Errorf("Substitute = %s, %v", out, err)
	}
	if _, err := Substitute(def, map[string]string{"One": "x"}); err == nil || !strings.Contains(err.Error(), "Two") {
		t.Errorf("Substitute with a missing value: %v", err)
	}
}

// TestFleetReleasesLeases: while the rollout holds its leases, every Task and Map is
// caught (States.ALL), and the catch path releases the leases and then fails with the
// original error; the normal path releases them before the summary. Once a continuation
// has taken the rollout over (ContinueAsNew started it), the leases are its to release.
func TestFleetReleasesLeases(t *testing.T) {
	def := load(t, MaintainFleet)
	acquire := def.States["AcquireLeases"]
	release := "${ReleaseLeasesFunctionArn}"
	if acquire.Resource != "${AcquireLeasesFunctionArn}" {
		t.Fatalf("AcquireLeases runs %s", acquire.Resource)
	}
	held := def.reachable(def.StartAt, false, "ReleaseLeases")
	for _, before := range []string{"IsContinuation", "Resume", "PlanRollout", "IsDryRun", "SummarizeRollout", "IsAborted", "RolloutDone", "RolloutAborted",
		"ContinuedDone", "ReadContinuationFailure", "ContinuationFailed"} {
		delete(held, before) // nothing is held yet, the leases were released, or the continuation holds them
	}
	if len(held) < 4 {
		t.Fatalf("only %v while leases are held", held)
	}
	for n := range held {
		s := def.States[n]
		if s.Type == "Succeed" {
			t.Errorf("%s: success while the leases are held", n)
		}
		if s.Type != "Task" && s.Type != "Map" {
			continue
		}
		var caught bool
		for _, c := range s.Catch {
			if slices.Contains(c.ErrorEquals, "States.ALL") && c.ResultPath == "$.error" {
				r := def.States[c.Next]
				f := def.States[r.Next]
				caught = r.Resource == release && f.Type == "Fail" && f.ErrorPath == "$.error.Error" && f.CausePath == "$.error.Cause"
			}
		}
		if !caught {
			t.Errorf("%s: not caught into releasing the leases and failing with the original error", n)
		}
	}
	if def.States["ReleaseLeases"].Resource != release || def.States["ReleaseLeases"].Next != "SummarizeRollout" {
		t.Error("the normal path must release the leases before the summary")
	}
	// A failed instance is caught inside the Map (counted against maxErrors), never
	// retried as a whole: a retry would maintain it again.
	child := def.States["RunWave"].ItemProcessor.States["MaintainInstance"]
	for _, r := range child.Retry {
		if slices.Contains(r.ErrorEquals, "States.TaskFailed") || slices.Contains(r.ErrorEquals, "States.ALL") {
			t.Errorf("the child execution is retried on %v", r.ErrorEquals)
		}
	}
	if len(child.Catch) == 0 || !slices.Contains(child.Catch[0].ErrorEquals, "States.ALL") {
		t.Error("a failed child must be caught inside the Map")
	}
}

// The Retry policy for transient failures of a function: Lambda's own service errors and
// the function's environment failing (transient), then drainpipe's TransientAPIError (throttling, 5xx after the SDK's retries). Each Task
// that invokes a function carries a copy, first, so the console shows it; this is the one
// source the copies are checked against.
var (
	lambdaServiceRetry = retrier{ErrorEquals: transient, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: "FULL"}
	transientAPIRetry  = retrier{ErrorEquals: []string{"TransientAPIError"}, IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: "FULL"}
	// longerRetry: the restore is the last line of defence, so it tries twice as often.
	longerRetry = map[string]int{RestoreExecution + "/RestoreExecution": 10}
)

func TestTransientRetryIsOnePolicy(t *testing.T) {
	tasks := 0
	for _, name := range Names() {
		var walk func(states map[string]state)
		walk = func(states map[string]state) {
			for id, s := range states {
				if s.ItemProcessor != nil {
					walk(s.ItemProcessor.States)
				}
				if s.Type != "Task" || !strings.HasSuffix(s.Resource, "FunctionArn}") {
					continue
				}
				tasks++
				want := transientAPIRetry
				if n, ok := longerRetry[name+"/"+id]; ok {
					want.MaxAttempts = n
				}
				if len(s.Retry) < 2 || !reflect.DeepEqual(s.Retry[0], lambdaServiceRetry) || !reflect.DeepEqual(s.Retry[1], want) {
					t.Errorf("%s %s: Retry %+v does not start with the transient policy %+v, %+v", name, id, s.Retry, lambdaServiceRetry, want)
				}
			}
		}
		walk(load(t, name).States)
	}
	if tasks < 20 {
		t.Errorf("checked %d function Tasks", tasks)
	}
}

// TestNoCatchResultIsDropped: every error a Catch records is read by a later state (a
// Fail's paths, a Pass's parameters, or a function that receives the state), so no
// failure is swallowed.
func TestNoCatchResultIsDropped(t *testing.T) {
	readers := map[string][]string{
		// Fields the functions read from the state they are given.
		MaintainFleet: {"$.releaseError"}, // summarize-rollout: rollout.State.ReleaseError
	}
	for _, name := range Names() {
		raw, _ := Definition(name)
		def := load(t, name)
		for id, s := range def.States {
			for _, c := range s.Catch {
				if c.ResultPath == "" || c.ResultPath == "$" {
					continue
				}
				read := slices.Contains(readers[name], c.ResultPath) ||
					strings.Count(string(raw), `"`+c.ResultPath+`.`) > 0 || strings.Count(string(raw), ` `+c.ResultPath+`.`) > 0
				if !read {
					t.Errorf("%s %s: the Catch writes %s, which nothing reads", name, id, c.ResultPath)
				}
			}
		}
	}
}

// TestStandbyIsLeft is the Auto Scaling property: once the instance may be in Standby
// (from EnterStandby on), every path to the end of the execution passes a Task that takes
// it out of Standby, or ends at RestoreFailed, which keeps the reservation so that the
// recovery handler (package recovery) takes it out when the execution ends; a failed exit
// goes there too. On the happy path the exit comes only once the instance is healthy.
func TestStandbyIsLeft(t *testing.T) {
	def := load(t, MaintainInstance)
	enter, exit := "${EnterStandbyFunctionArn}", "${ExitStandbyFunctionArn}"
	var start string
	exits := 0
	for n, s := range def.States {
		switch s.Resource {
		case enter:
			start = n
		case exit:
			exits++
		}
	}
	if start == "" || exits < 2 {
		t.Fatalf("EnterStandby %q, %d exits: want one entry and an exit on the happy path and the rollback", start, exits)
	}
	if to := def.States["IsTargetHealthy"].Choices[0].Next; def.States[to].Resource != exit {
		t.Errorf("once healthy, the instance goes to %s, not out of Standby", to)
	}
	if def.States[def.States[start].Next].Resource != "${DeregisterTargetFunctionArn}" {
		t.Errorf("Standby comes before the deregistration: %s goes to %s", start, def.States[start].Next)
	}
	seen := map[string]bool{}
	var walk func(path []string)
	walk = func(path []string) {
		n := path[len(path)-1]
		if seen[n] {
			return
		}
		seen[n] = true
		s := def.States[n]
		switch {
		case s.Resource == exit:
			// Out of Standby when it succeeds; when it fails, its catch must lead on.
			for _, c := range s.Catch {
				walk(append(slices.Clone(path), c.Next))
			}
			return
		case s.Type == "Fail" || s.Type == "Succeed" || s.End:
			if n != "RestoreFailed" {
				t.Errorf("the path %v ends without taking the instance out of Standby", path)
			}
			return
		}
		for _, m := range s.next() {
			walk(append(slices.Clone(path), m))
		}
		for _, c := range s.Catch {
			walk(append(slices.Clone(path), c.Next))
		}
	}
	walk([]string{start})
}

// TestNothingRegistersAfterTheRelease: once the reservation is given back on the way to
// success (the post-return hook), no path registers the instance, exits Standby or
// releases again: the instance may already be another execution's.
func TestNothingRegistersAfterTheRelease(t *testing.T) {
	def := load(t, MaintainInstance)
	after := ""
	for _, s := range def.States {
		if s.Resource == "${ReleaseCapacityFunctionArn}" && def.States[s.Next].Type != "Fail" {
			after = s.Next
		}
	}
	if after == "" {
		t.Fatal("no release on the way to success")
	}
	for n := range def.reachable(after, true, "") {
		switch def.States[n].Resource {
		case "${RegisterTargetFunctionArn}", "${ExitStandbyFunctionArn}", "${ReleaseCapacityFunctionArn}", "${DeregisterTargetFunctionArn}":
			t.Errorf("%s runs after the reservation was given back", n)
		}
	}
}
