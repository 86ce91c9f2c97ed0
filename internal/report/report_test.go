package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/rollout/rollouttest"
	"github.com/drainpipe/drainpipe/internal/workflow"
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
// stays far below Step Functions' 256 KiB, as JSON.
func TestSummaryOfManyFailures(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	sizes := make([]int, 150)
	for i := range sizes {
		sizes[i] = 10
	}
	failing := rollouttest.NewExecutions()
	f := progress.Steps{DB: db, EC2: &rollouttest.Tagger{}, SFN: failing}
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
		if s, err = f.RecordWave(ctx, s); err != nil || s.Cursor.Wave != w+1 {
			t.Fatal(s.Cursor, err)
		}
	}
	sum, err := r.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sum)
	if sum.Counts.Failed != 120 || sum.Counts.Skipped != 150 || len(sum.Instances) != ListLimit || len(sum.Skipped) != ListLimit || len(raw) > 128*1024 {
		t.Errorf("%d failed, %d listed, %d bytes of JSON", sum.Counts.Failed, len(sum.Instances), len(raw))
	}
	t.Logf("summary of 120 failures: %d bytes of JSON", len(raw))
}
