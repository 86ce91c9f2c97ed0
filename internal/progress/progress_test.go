package progress_test

import (
	"context"
	"testing"

	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/lab/rollouttest"
)

// TestContinueAsNew: when a wave would take the execution's history past the budget, the
// rollout is handed over; the continuation takes it over and the first execution can no
// longer release its leases.
func TestContinueAsNew(t *testing.T) {
	t.Parallel()
	db := rollouttest.Tables(t)
	ctx := context.Background()
	f := progress.Steps{DB: db}
	l := leases.Steps{DB: db}
	s := rollouttest.New(t, db, "big", rollout.Input{}, 40, 40)
	s, err := l.Acquire(ctx, leases.AcquireRequest{State: s, Execution: s.Rollout.ID})
	if err != nil {
		t.Fatal(err)
	}
	s.Cursor.Events = rollout.PartEventBudget - rollout.WaveEvents(40) + 1
	s, err = f.NextWave(ctx, s)
	if err != nil || !s.Wave.Continue || len(s.Wave.Items) != 0 || s.Wave.ContinuationName != "big-part-2" {
		t.Fatalf("next wave at the budget: %+v, %v", s.Wave, err)
	}
	part2 := "arn:aws:states:eu-west-1:123456789012:execution:drainpipe-maintain-fleet:big-part-2"
	handed := s.Wave.ContinuationInput.State
	taken, err := l.Acquire(ctx, leases.AcquireRequest{State: handed, Execution: part2})
	if err != nil || taken.Rollout.Part != 2 || taken.Rollout.Execution != part2 || taken.Cursor.Events != rollout.EstimateEvents() {
		t.Fatalf("the continuation: %+v, %v", taken.Rollout, err)
	}
	if released, err := l.Release(ctx, s); err != nil || len(released) != 0 {
		t.Errorf("the first part released %v (%v) after handing over", released, err)
	}
	// A second execution cannot take over from the first any more.
	if _, err := l.Acquire(ctx, leases.AcquireRequest{State: handed, Execution: part2 + "-again"}); faults.NameOf(err) != faults.RolloutInProgress {
		t.Errorf("a second continuation: %v", err)
	}
	next, err := f.NextWave(ctx, taken)
	if err != nil || len(next.Wave.Items) != 40 {
		t.Errorf("the continuation's wave: %+v, %v", next.Wave, err)
	}
}
