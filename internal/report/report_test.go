package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/record"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

// TestSummaryIsBounded: a rollout of thousands of instances summarizes in a bounded
// output; the table keeps the rest.
func TestSummaryIsBounded(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	sizes := make([]int, 300)
	for i := range sizes {
		sizes[i] = 10
	}
	r := Reporter{DB: db, SNS: &rollouttest.Topic{}}
	s := rollouttest.New(t, db, "wide", rollout.Input{DryRun: true}, sizes...)
	s.Rollout.DryRun = true
	sum, err := r.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Planned != 3000 || len(sum.Plan.Waves) != PlanListLimit/10 || !sum.Truncated || sum.Outcome != rollout.OutcomeDryRun {
		t.Errorf("counts %+v, %d waves listed, truncated %v", sum.Counts, len(sum.Plan.Waves), sum.Truncated)
	}
	if n := len(fmt.Sprint(sum)); n > 64*1024 {
		t.Errorf("summary of %d bytes", n)
	}
}

// TestSummaryOfManyFailures: the largest summary the bounds allow (a hundred failures
// with long causes, a hundred skips with long reasons, a thousand instances in the plan)
// stays far below Step Functions' 256 KiB, as JSON: under 160 KiB.
func TestSummaryOfManyFailures(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	sizes := make([]int, 150)
	for i := range sizes {
		sizes[i] = 10
	}
	failing := rollouttest.NewExecutions()
	f := progress.Steps{DB: db}
	rec := record.Recorder{DB: db, EC2: &rollouttest.Tagger{}, SFN: failing, ELB: rollouttest.Health{}}
	r := Reporter{DB: db, SNS: &rollouttest.Topic{}}
	var skips []rollout.Skip
	for i := range 150 {
		skips = append(skips, rollout.Skip{InstanceID: rollouttest.ID(5000 + i), Reason: strings.Repeat("not healthy: port 8080 in web is unhealthy; ", 10)})
	}
	s := rollouttest.WithSkips(t, db, "failing", rollout.Input{MaxErrors: 2000, Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, skips, sizes...)
	for w := range 12 {
		var err error
		if s, err = f.NextWave(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Wave.Items {
			failing.Status[rollout.ExecutionARN(rollouttest.InstanceMachine, c.Name)] = sfntypes.ExecutionStatusFailed
		}
		if s, err = rec.RecordWave(ctx, s); err != nil || s.Cursor.Wave != w+1 {
			t.Fatal(s.Cursor, err)
		}
	}
	sum, err := r.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sum)
	if sum.Counts.Failed != 120 || sum.Counts.Skipped != 150 || len(sum.Instances) != ListLimit || len(sum.Skipped) != ListLimit || len(raw) > 160*1024 {
		t.Errorf("%d failed, %d listed, %d bytes of JSON", sum.Counts.Failed, len(sum.Instances), len(raw))
	}
	t.Logf("summary of 120 failures: %d bytes of JSON", len(raw))
}

// TestNothingIsSwallowed: what goes wrong around a rollout without failing an instance
// reaches the summary's problems, its text (the notification) and so the execution's
// outcome (the state machine fails on any problem): a lease release that failed, a
// child's output that cannot be read, a child that succeeded with no output, and a
// notification that could not be sent.
func TestNothingIsSwallowed(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	children := rollouttest.NewExecutions()
	steps := progress.Steps{DB: db}
	rec := record.Recorder{DB: db, EC2: &rollouttest.Tagger{}, SFN: children, ELB: rollouttest.Health{}}
	s := rollouttest.New(t, db, "problems", rollout.Input{Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, 2)
	s, err := steps.NextWave(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	children.Status[rollouttest.ChildARN(s, 1)] = sfntypes.ExecutionStatusSucceeded
	children.Output[rollouttest.ChildARN(s, 1)] = `{"phaseSeconds": not json`
	children.Status[rollouttest.ChildARN(s, 2)] = sfntypes.ExecutionStatusSucceeded
	if s, err = rec.RecordWave(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.ReleaseError = &rollout.Failure{Error: "APIError", Cause: "releasing the lease on web: AccessDeniedException"}

	notes := &rollouttest.Topic{}
	sum, err := Reporter{DB: db, SNS: notes}.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Succeeded != 2 || sum.Outcome != rollout.OutcomeCompleted || len(sum.Problems) != 2 {
		t.Fatalf("counts %+v, outcome %s, problems %q", sum.Counts, sum.Outcome, sum.Problems)
	}
	for _, want := range []string{"releasing the rollout's leases failed: APIError", rollouttest.ID(1) + " (wave 1): the output of its execution is not readable"} {
		if !slices.ContainsFunc(sum.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("problems %q: none says %q", sum.Problems, want)
		}
		if len(notes.Messages) != 1 || !strings.Contains(notes.Messages[0], "PROBLEM") || !strings.Contains(notes.Messages[0], want) {
			t.Errorf("notification %q does not carry %q", notes.Messages, want)
		}
	}

	// A notification that cannot be sent is a problem of the summary, not an error that
	// would lose it.
	s.ReleaseError = nil
	sum, err = Reporter{DB: db, SNS: &rollouttest.Topic{Err: rollouttest.ErrUnavailable}}.Summarize(ctx, s)
	if err != nil {
		t.Fatalf("a failed notification failed the summary: %v", err)
	}
	if len(sum.Problems) != 2 || !strings.Contains(sum.Problems[1], "notifying") || !strings.Contains(sum.Text, rollouttest.ErrUnavailable.Error()) {
		t.Errorf("problems %q, text %q", sum.Problems, sum.Text)
	}

	// A child that succeeded without an output is reported too.
	delete(children.Output, rollouttest.ChildARN(s, 1))
	children.Output[rollouttest.ChildARN(s, 1)] = ""
}
