package record_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/record"
	"github.com/drainpipe/drainpipe/internal/report"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

// TestWaves walks a rollout through the fleet's steps: leases, each wave's children with
// their names, inputs and floors, the results read from the children's executions, the
// error budget, the summary and the release.
func TestWaves(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	children := rollouttest.NewExecutions()
	tagger, notes := &rollouttest.Tagger{}, &rollouttest.Topic{}
	f := progress.Steps{DB: db, Now: func() time.Time { return now }}
	// ID(2) fails and is registered again but still initial; ID(4) never starts and stays
	// healthy.
	health := rollouttest.Health{States: map[string]workflow.HealthState{rollouttest.ID(2): workflow.Initial, rollouttest.ID(4): workflow.Healthy}}
	rec := record.Recorder{DB: db, EC2: tagger, SFN: children, ELB: health, Now: func() time.Time { return now }}
	l := leases.Steps{DB: db, Now: func() time.Time { return now }}
	r := report.Reporter{DB: db, SNS: notes, Now: func() time.Time { return now }}
	s := rollouttest.New(t, db, "nightly", rollout.Input{MaxErrors: 1, Maintenance: workflow.Maintenance{Action: workflow.ActionReboot}}, 2, 2, 1)

	s, err := l.Acquire(ctx, leases.AcquireRequest{State: s, Execution: s.Rollout.ID})
	if err != nil || s.Leases == nil || len(s.Leases.Held) != 1 {
		t.Fatalf("leases: %+v, %v", s.Leases, err)
	}
	s, err = f.NextWave(ctx, s)
	if err != nil || len(s.Wave.Items) != 2 || s.Wave.Done || s.Wave.Continue {
		t.Fatalf("first wave: %+v, %v", s.Wave, err)
	}
	c := s.Wave.Items[0]
	raw, err := s.Wave.ChildInput(c)
	if err != nil {
		t.Fatal(err)
	}
	child, err := workflow.DecodeInput(raw) // as the instance state machine reads it
	if c.Name != "nightly-"+rollouttest.ID(1) || err != nil || child.InstanceID != rollouttest.ID(1) || child.MinHealthyTargets[rollouttest.Web] != 15 ||
		child.Maintenance.Action != workflow.ActionReboot || child.CapacityWaitSeconds != rollout.DefaultCapacityWaitSeconds {
		t.Errorf("child %s: %+v, %v", raw, child, err)
	}
	if s.Cursor.Events != rollout.EstimateEvents(2) {
		t.Errorf("events %d, want %d", s.Cursor.Events, rollout.EstimateEvents(2))
	}
	// A child still running: record-wave waits (the state machine retries).
	children.Status[rollouttest.ChildARN(s, 1)] = sfntypes.ExecutionStatusSucceeded
	children.Status[rollouttest.ChildARN(s, 2)] = sfntypes.ExecutionStatusRunning
	if _, err := rec.RecordWave(ctx, s); faults.NameOf(err) != faults.ChildRunning {
		t.Fatalf("a running child: %v", err)
	}
	children.Status[rollouttest.ChildARN(s, 2)] = sfntypes.ExecutionStatusFailed
	after, err := rec.RecordWave(ctx, s)
	if err != nil || after.Cursor.Wave != 1 || after.Cursor.Done || after.Wave != nil {
		t.Fatalf("after wave 1: %+v, %v", after.Cursor, err)
	}
	// Recording the same wave again (a retried call) counts it once.
	if again, err := rec.RecordWave(ctx, s); err != nil || again.Cursor.Wave != 1 {
		t.Fatalf("recorded twice: %+v, %v", again.Cursor, err)
	}
	if meta, _ := (rollout.Store{DB: db, Table: rollouttest.RolloutTable}).Meta(ctx, s.Rollout.ID); meta.Failed != 1 || meta.Succeeded != 1 {
		t.Errorf("counts after a repeated record: %d succeeded, %d failed", meta.Succeeded, meta.Failed)
	}
	if len(tagger.Tagged) < 1 || tagger.Tagged[0] != rollouttest.ID(1) {
		t.Errorf("tagged %v", tagger.Tagged)
	}
	// Wave 2: one more failure (rollouttest.ID(4) never started) spends the error budget of 1.
	s, _ = f.NextWave(ctx, after)
	children.Status[rollouttest.ChildARN(s, 3)] = sfntypes.ExecutionStatusSucceeded
	s, err = rec.RecordWave(ctx, s)
	if err != nil || !s.Cursor.Done || !s.Cursor.Aborted || !strings.Contains(s.Cursor.StopReason, "more than maxErrors 1") {
		t.Fatalf("after wave 2: %+v, %v", s.Cursor, err)
	}
	if next, _ := f.NextWave(ctx, s); !next.Wave.Done {
		t.Errorf("a wave after the abort: %+v", next.Wave)
	}
	released, err := l.Release(ctx, s)
	if err != nil || len(released) != 1 {
		t.Errorf("released %v, %v", released, err)
	}
	sum, err := r.Summarize(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcome != rollout.OutcomeAborted || sum.Counts != (report.Counts{Planned: 5, Succeeded: 2, Failed: 2, Skipped: 1, NotStarted: 1, NotInService: 1}) || sum.Waves != 3 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Instances[0].Succeeded || len(sum.Instances[0].Cause) > 1003 || sum.Instances[1].Error != "NotStarted" {
		t.Errorf("failures first, causes bounded: %+v", sum.Instances[:2])
	}
	// What the load balancer said of each failed instance, and the cause in words.
	if first := sum.Instances[0]; first.InService != rollout.InServiceNotHealthy || !strings.Contains(first.Health, "is initial") ||
		!strings.HasPrefix(first.Cause, "exit 1: ") || sum.Instances[1].InService != rollout.InServiceHealthy {
		t.Errorf("in service: %+v / %+v", first, sum.Instances[1])
	}
	if len(notes.Messages) != 1 || !strings.Contains(notes.Messages[0], "FAILED "+rollouttest.ID(2)) || !strings.Contains(notes.Messages[0], "not started: "+rollouttest.ID(5)) {
		t.Errorf("notification %v", notes.Messages)
	}
}
