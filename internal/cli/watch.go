package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/statemachine"
)

// Phases watch gives an instance besides statemachine's: before its execution starts,
// after it ends, and when its rollout ended before its wave.
const (
	phaseWaiting = "waiting"
	phaseDone    = "done"
	phaseFailed  = "failed"
	phaseStopped = "stopped"
	phaseNotRun  = "not run"
)

// progress is an execution's progress at one moment: what watch shows.
type progress struct {
	Execution string    `json:"execution"`
	Status    string    `json:"status"`
	Started   time.Time `json:"startDate"`
	Stopped   time.Time `json:"stopDate,omitzero"`
	Error     string    `json:"error,omitempty"`
	Cause     string    `json:"cause,omitempty"`
	// For a rollout: the waves recorded and planned.
	WavesDone int `json:"wavesDone,omitempty"`
	Waves     int `json:"waves,omitempty"`
	// Instances: a rollout's planned instances, or a lone execution's instance.
	Instances []instanceProgress `json:"instances"`
	// Groups: each group's healthy targets against its floor (a rollout's groups, or the
	// groups a lone execution's input names).
	Groups []groupHealth `json:"groups,omitempty"`
	// Out are the instances reserved out of service by the execution or its children.
	Out []string `json:"outOfService"`
}

// instanceProgress is where an instance stands.
type instanceProgress struct {
	ID string `json:"instanceId"`
	// Wave is its wave in a rollout, from 1.
	Wave int `json:"wave,omitempty"`
	// Phase is waiting, one of statemachine's phases (checking, draining, maintenance,
	// health check, returning, releasing, restoring), done, failed, stopped or not run.
	Phase string `json:"phase"`
	// State is the state its execution is in, while it runs.
	State string `json:"state,omitempty"`
	// Since is when it entered the phase (unset while waiting).
	Since time.Time `json:"since,omitzero"`
	// Error is why it failed, with what the load balancer said of it.
	Error string `json:"error,omitempty"`
	// Steps are the phases it went through, each with when it began, as its execution's
	// history tells them (while watch follows the execution).
	Steps []phaseStep `json:"phases,omitempty"`
}

// phaseStep is a phase an instance entered, and when.
type phaseStep struct {
	Phase string    `json:"phase"`
	Since time.Time `json:"since"`
}

// groupHealth is a group's healthy targets against its floor.
type groupHealth struct {
	Group   string `json:"targetGroupArn"`
	Healthy int    `json:"healthy"`
	Targets int    `json:"targets"`
	Floor   int    `json:"minHealthy,omitempty"`
}

// counts are the instances by phase, the ones running together.
func (p progress) counts() (done, failed, running, waiting int) {
	for _, in := range p.Instances {
		switch in.Phase {
		case phaseDone:
			done++
		case phaseFailed, phaseStopped:
			failed++
		case phaseWaiting, phaseNotRun:
			waiting++
		default:
			running++
		}
	}
	return
}

// follower follows instance executions by their history, reading only the events that
// are new since the last poll.
type follower struct {
	sfn    *sfn.Client
	traces map[string]*trace
	// loneGroups are the groups a lone execution whose input names none was seen
	// holding its instance out of (by the capacity ledger), kept once seen.
	loneGroups []string
}

// trace is what the history of one execution said so far.
type trace struct {
	lastID       int64
	state, phase string
	since        time.Time
	ended        string // the terminal event's type
	error        string
	steps        []phaseStep
}

// enter records that the execution entered phase at at, if it is a new phase.
func (t *trace) enter(phase string, at time.Time) {
	if phase == t.phase {
		return
	}
	t.phase, t.since = phase, at
	t.steps = append(t.steps, phaseStep{phase, at})
}

// follow reads the events of the execution since the last call. It reports false for an
// execution that does not exist (yet).
func (f *follower) follow(ctx context.Context, arn string) (*trace, bool, error) {
	t := f.traces[arn]
	if t == nil {
		t = &trace{}
		f.traces[arn] = t
	}
	if t.ended != "" {
		return t, true, nil
	}
	var fresh []sfntypes.HistoryEvent // newest first
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, ReverseOrder: true, MaxResults: 100, IncludeExecutionData: aws.Bool(false)}
	pages := sfn.NewGetExecutionHistoryPaginator(f.sfn, in)
read:
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		var missing *sfntypes.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			return t, false, nil
		}
		if err != nil {
			return t, false, fmt.Errorf("reading the history of %s: %w", arn, err)
		}
		for _, e := range page.Events {
			if e.Id <= t.lastID {
				break read
			}
			fresh = append(fresh, e)
		}
	}
	for _, e := range slices.Backward(fresh) {
		t.lastID = max(t.lastID, e.Id)
		at := aws.ToTime(e.Timestamp)
		switch {
		case strings.HasSuffix(string(e.Type), "StateEntered") && e.StateEnteredEventDetails != nil:
			t.state = aws.ToString(e.StateEnteredEventDetails.Name)
			t.enter(statemachine.InstancePhase(t.state), at)
		case e.Type == sfntypes.HistoryEventTypeExecutionSucceeded:
			t.ended = string(e.Type)
			t.enter(phaseDone, at)
		case e.Type == sfntypes.HistoryEventTypeExecutionFailed:
			t.ended = string(e.Type)
			t.enter(phaseFailed, at)
			if d := e.ExecutionFailedEventDetails; d != nil {
				t.error = aws.ToString(d.Error)
			}
		case e.Type == sfntypes.HistoryEventTypeExecutionTimedOut:
			t.ended, t.error = string(e.Type), "States.Timeout"
			t.enter(phaseFailed, at)
		case e.Type == sfntypes.HistoryEventTypeExecutionAborted:
			t.ended = string(e.Type)
			t.enter(phaseStopped, at)
		case e.Type == sfntypes.HistoryEventTypeExecutionStarted && t.phase == "":
			t.enter(statemachine.PhaseChecking, at)
		}
	}
	return t, true, nil
}

// instance is where an instance whose execution is arn stands by that execution.
func (f *follower) instance(ctx context.Context, id string, wave int, arn string) (instanceProgress, error) {
	in := instanceProgress{ID: id, Wave: wave, Phase: phaseWaiting}
	t, ok, err := f.follow(ctx, arn)
	if err != nil || !ok {
		return in, err
	}
	in.Phase, in.Since, in.Error, in.Steps = t.phase, t.since, t.error, slices.Clone(t.steps)
	if t.ended == "" {
		in.State = t.state
	}
	return in, nil
}

// progress reads an execution's progress. For a rollout: its record (the waves, the
// groups' floors, the results of the waves recorded), the executions of the wave running
// now (named after the rollout and the instance), the instances reserved out of service,
// and each group's health. For a lone execution: its own history.
func (c *cmd) progress(ctx context.Context, f *follower, d *sfn.DescribeExecutionOutput) (progress, error) {
	p := progress{Execution: aws.ToString(d.Name), Status: string(d.Status), Started: aws.ToTime(d.StartDate),
		Stopped: aws.ToTime(d.StopDate), Error: aws.ToString(d.Error), Cause: causeText(aws.ToString(d.Cause)), Out: []string{}}
	instanceMachine, err := c.machine(ctx, "maintain-instance")
	if err != nil {
		return p, err
	}
	// The capacity table, read once: the reservations, and a lone execution's groups.
	items, err := c.scan(ctx)
	if err != nil {
		return p, err
	}
	mine := map[string]bool{aws.ToString(d.ExecutionArn): true}
	var groups []groupHealth
	if aws.ToString(d.StateMachineArn) == instanceMachine {
		var input workflow.Input
		_ = json.Unmarshal([]byte(aws.ToString(d.Input)), &input)
		in, err := f.instance(ctx, input.InstanceID, 0, aws.ToString(d.ExecutionArn))
		if err != nil {
			return p, err
		}
		p.Instances = []instanceProgress{in}
		if len(input.TargetGroupARNs) == 0 {
			// Its groups were found by its own lookup: they are the ones the ledger
			// shows it holding the instance out of, once it has.
			for _, g := range groupHolds(items, aws.ToString(d.ExecutionArn)) {
				if !slices.Contains(f.loneGroups, g) {
					f.loneGroups = append(f.loneGroups, g)
				}
			}
			input.TargetGroupARNs = f.loneGroups
		}
		for _, g := range input.TargetGroupARNs {
			groups = append(groups, groupHealth{Group: g})
		}
	} else {
		meta, waves, err := c.rolloutOf(ctx, d)
		if err != nil {
			return p, err
		}
		p.WavesDone, p.Waves = meta.Next, meta.Waves
		current := true // the first wave not recorded is the one running (or about to)
		for i, w := range waves {
			results := map[string]rollout.Result{}
			for _, r := range w.Results {
				results[r.InstanceID] = r
			}
			for _, item := range w.Instances {
				in := instanceProgress{ID: item.InstanceID, Wave: i + 1, Phase: phaseWaiting}
				// Every planned child is the rollout's: a reservation an earlier wave's
				// child left behind is the rollout's to answer for too.
				child := rollout.ExecutionARN(instanceMachine, rollout.ChildName(meta.Name, item.InstanceID))
				mine[child] = true
				switch r, ok := results[item.InstanceID]; {
				case ok:
					in = resultProgress(in, r)
				case len(w.Results) == 0 && current:
					if in, err = f.instance(ctx, item.InstanceID, i+1, child); err != nil {
						return p, err
					}
				}
				if in.Phase == phaseWaiting && d.Status != sfntypes.ExecutionStatusRunning {
					in.Phase = phaseNotRun
				}
				p.Instances = append(p.Instances, in)
			}
			if len(w.Results) == 0 {
				current = false
			}
		}
		for _, g := range meta.Groups {
			groups = append(groups, groupHealth{Group: g.ARN, Floor: g.MinHealthy})
		}
	}
	for _, g := range groups {
		states, err := targets.DescribeGroup(ctx, c.elb, g.Group)
		if err != nil {
			return p, err
		}
		g.Targets = len(states)
		for _, s := range states {
			if s.Serving() {
				g.Healthy++
			}
		}
		p.Groups = append(p.Groups, g)
	}
	for _, r := range reserved(items) {
		if mine[r.Holder] && !slices.Contains(p.Out, r.InstanceID) {
			p.Out = append(p.Out, r.InstanceID)
		}
	}
	slices.Sort(p.Out)
	return p, nil
}

// resultProgress is an instance whose wave was recorded.
func resultProgress(in instanceProgress, r rollout.Result) instanceProgress {
	if r.Succeeded {
		in.Phase = phaseDone
		return in
	}
	in.Phase, in.Error = phaseFailed, r.Error
	if r.InService != "" && r.InService != rollout.InServiceHealthy {
		in.Error += " (" + r.InService + ")"
	}
	if r.Problem != "" {
		in.Error += ": " + r.Problem
	}
	return in
}

// rolloutOf reads the rollout an execution of the fleet machine runs: its own, or, for a
// continuation, the one its input hands over. A rollout not planned yet has an empty
// record.
func (c *cmd) rolloutOf(ctx context.Context, d *sfn.DescribeExecutionOutput) (rollout.Meta, []rollout.WaveRecord, error) {
	id := aws.ToString(d.ExecutionArn)
	var cont rollout.Continuation
	if json.Unmarshal([]byte(aws.ToString(d.Input)), &cont) == nil && cont.State.Rollout.ID != "" {
		id = cont.State.Rollout.ID
	}
	meta, waves, _, err := rollout.Store{DB: c.db, Table: c.prefix + "-rollouts"}.All(ctx, id)
	if errors.Is(err, rollout.ErrNotRecorded) {
		return rollout.Meta{}, nil, nil // not planned (yet): nothing to follow but the execution
	}
	return meta, waves, err
}

// watch shows the execution's progress until it ends: redrawn in place on a terminal,
// a line for each change otherwise (a JSON object for each change with --output json).
func (c *cmd) watch(ctx context.Context, arn string) error {
	f := &follower{sfn: c.sfn, traces: map[string]*trace{}}
	var r renderer = &plain{w: c.env.Stdout}
	switch {
	case c.json:
		r = &jsonLines{w: c.env.Stdout}
	case c.env.Size != nil:
		r = &screen{w: c.env.Stdout, size: c.env.Size}
	}
	var end *sfn.DescribeExecutionOutput
	err := c.poll(ctx, func() (bool, error) {
		d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		if err != nil {
			return false, fmt.Errorf("describing %s: %w", arn, err)
		}
		p, err := c.progress(ctx, f, d)
		if err != nil {
			return false, err
		}
		footer := ""
		if c.env.Footer != nil {
			footer = c.env.Footer()
		}
		r.render(p, footer, time.Now())
		if d.Status == sfntypes.ExecutionStatusRunning {
			return false, nil
		}
		end = d
		return true, nil
	})
	switch {
	case err != nil:
		return err
	case end.Status == sfntypes.ExecutionStatusSucceeded:
		return nil
	}
	return failedError{fmt.Sprintf("%s ended %s: %s: %s", aws.ToString(end.Name), end.Status, aws.ToString(end.Error), causeText(aws.ToString(end.Cause)))}
}

// maxPollFailures is how many polls in a row may fail for a transient reason before
// watch or abort gives up: with the backoff, about four minutes of an API's trouble.
const maxPollFailures = 10

// poll calls read until it reports done, every Poll. A read that failed for a transient
// reason (see transient) is tried again after a backoff, doubling from Poll to 30 s, and
// says so on stderr: the view keeps what it last showed. Any other error, or the
// maxPollFailures-th transient one in a row, ends it.
func (c *cmd) poll(ctx context.Context, read func() (done bool, err error)) error {
	failures := 0
	for {
		done, err := read()
		switch {
		case err == nil && done:
			return nil
		case err == nil:
			failures = 0
		case ctx.Err() != nil:
			return ctx.Err()
		case !transient(err) || failures+1 >= maxPollFailures:
			return err
		default:
			failures++
		}
		wait := min(c.env.Poll<<failures, max(c.env.Poll, 30*time.Second))
		if failures > 0 {
			fmt.Fprintf(c.env.Stderr, "drainpipe: %v; trying again in %s (%d of %d)\n", err, wait.Round(time.Millisecond), failures, maxPollFailures-1)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// transient reports whether err is worth another try at the next poll: the SDK's own
// retries ran out, or the error is one it classes as retryable or a throttle (a dropped
// connection, a 5xx, ThrottlingException).
func transient(err error) bool {
	var exhausted *retry.MaxAttemptsError
	return errors.As(err, &exhausted) ||
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary ||
		retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
