package rollout

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublisherAPI is the part of the SNS client the summary uses.
type PublisherAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Summary is the fleet execution's output. It is bounded whatever the fleet's size: the
// lists hold at most ListLimit entries each (failures first) and say when there is more;
// the rollouts table keeps everything.
type Summary struct {
	// Rollout is the rollout's ID; Table is where its record lives.
	Rollout string `json:"rollout"`
	Table   string `json:"table"`
	// Outcome: completed, aborted (error budget spent), stopped (window closed, work
	// remains) or dry-run.
	Outcome    string `json:"outcome"`
	Aborted    bool   `json:"aborted"`
	StopReason string `json:"stopReason,omitempty"`
	Counts     Counts `json:"counts"`
	// Instances are the results, failed ones first.
	Instances []Result `json:"instances"`
	Skipped   []Skip   `json:"skipped"`
	// NotStarted are instances planned in waves that did not run.
	NotStarted []string `json:"notStarted"`
	// Truncated: a list above was cut at ListLimit.
	Truncated bool `json:"truncated,omitempty"`
	// Plan is the groups' budgets and the first waves, up to PlanListLimit instances.
	Plan     Plan `json:"plan"`
	Waves    int  `json:"waves"`
	WavesRun int  `json:"wavesRun"`
	// Parts is how many executions ran the rollout (see PartEventBudget).
	Parts int `json:"parts"`
	// TotalSeconds is from planning to the summary.
	TotalSeconds float64 `json:"totalSeconds"`
	// Text is the summary in a few lines, as notified.
	Text string `json:"text"`
}

// ListLimit bounds each list of the summary, and PlanListLimit the instances its plan
// lists: its output stays far below Step Functions' 256 KiB, and the notification below
// SNS's.
const (
	ListLimit     = 100
	PlanListLimit = 1000
	// SummaryCauseLimit bounds each failure's cause and each skip's reason in the summary
	// (the table keeps 1,000 characters of a cause, the child execution all of it);
	// TextLineLimit the failures, and the skips, the notification spells out.
	SummaryCauseLimit = 300
	TextLineLimit     = 20
)

// Counts of a rollout.
type Counts struct {
	Planned    int `json:"planned"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
	NotStarted int `json:"notStarted"`
}

// Outcomes.
const (
	OutcomeCompleted = "completed"
	OutcomeAborted   = "aborted"
	OutcomeStopped   = "stopped"
	OutcomeDryRun    = "dry-run"
)

// Summarize reads the rollout's record, builds the summary, records the outcome and
// publishes the summary when the rollout names a topic (not for a dry run).
func (f Fleet) Summarize(ctx context.Context, s State) (Summary, error) {
	meta, waves, skips, err := f.store(s).All(ctx, s.Rollout.ID)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Rollout: s.Rollout.ID, Table: s.Rollout.Table, WavesRun: s.Cursor.Wave, StopReason: s.Cursor.StopReason,
		Aborted: s.Cursor.Aborted, Parts: s.Rollout.Part, Instances: []Result{}, Skipped: []Skip{}, NotStarted: []string{},
		Plan: Plan{Groups: meta.Groups}, Waves: meta.Waves}
	sum.Plan.Groups = bounded(sum.Plan.Groups, &sum.Truncated)
	var failed, succeeded []Result
	listed := 0
	for i, w := range waves {
		sum.Counts.Planned += len(w.Instances)
		ids := make([]string, 0, len(w.Instances))
		for _, item := range w.Instances {
			ids = append(ids, item.InstanceID)
		}
		if listed+len(ids) <= PlanListLimit {
			sum.Plan.Waves = append(sum.Plan.Waves, Wave{InstanceIDs: ids, BelowBudget: w.BelowBudget})
			listed += len(ids)
		} else {
			sum.Truncated = true
		}
		for _, r := range w.Results {
			if r.Succeeded {
				succeeded = append(succeeded, r)
			} else {
				failed = append(failed, r)
			}
		}
		if i >= s.Cursor.Wave && w.Results == nil && !meta.Input.DryRun {
			sum.NotStarted = append(sum.NotStarted, ids...)
		}
	}
	for i := range failed {
		failed[i].Cause = truncate(failed[i].Cause, SummaryCauseLimit) // the whole cause is in the table
	}
	sum.Counts.Succeeded, sum.Counts.Failed = len(succeeded), len(failed)
	sum.Counts.Skipped, sum.Counts.NotStarted = len(skips), len(sum.NotStarted)
	sum.Instances = bounded(append(failed, succeeded...), &sum.Truncated)
	sum.Skipped = bounded(skips, &sum.Truncated)
	for i := range sum.Skipped {
		sum.Skipped[i].Reason = truncate(sum.Skipped[i].Reason, SummaryCauseLimit)
	}
	sum.NotStarted = bounded(sum.NotStarted, &sum.Truncated)
	switch {
	case meta.Input.DryRun:
		sum.Outcome = OutcomeDryRun
	case s.Cursor.Aborted:
		sum.Outcome = OutcomeAborted
	case sum.Counts.NotStarted > 0:
		sum.Outcome = OutcomeStopped
	default:
		sum.Outcome = OutcomeCompleted
	}
	sum.TotalSeconds = float64(f.now().Sub(meta.StartedAt).Milliseconds()) / 1000
	sum.Text = text(sum)
	if err := f.store(s).Finish(ctx, s.Rollout.ID, sum.Outcome, sum.StopReason); err != nil {
		return Summary{}, err
	}
	if s.Rollout.TopicARN != "" && !meta.Input.DryRun {
		subject := "drainpipe rollout " + sum.Outcome
		if _, err := f.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &s.Rollout.TopicARN, Subject: &subject, Message: &sum.Text}); err != nil {
			return Summary{}, fmt.Errorf("notifying %s: %w", s.Rollout.TopicARN, err)
		}
	}
	return sum, nil
}

func bounded[T any](list []T, truncated *bool) []T {
	if len(list) > ListLimit {
		*truncated = true
		return list[:ListLimit]
	}
	if list == nil {
		return []T{}
	}
	return list
}

func text(sum Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "drainpipe rollout %s %s: %d planned in %d waves, %d succeeded, %d failed, %d skipped, %d not started (%.0f s).",
		sum.Rollout, sum.Outcome, sum.Counts.Planned, sum.Waves, sum.Counts.Succeeded, sum.Counts.Failed, sum.Counts.Skipped, sum.Counts.NotStarted, sum.TotalSeconds)
	if sum.StopReason != "" {
		fmt.Fprintf(&b, " Stopped: %s.", sum.StopReason)
	}
	lines := 0
	for _, r := range sum.Instances {
		if !r.Succeeded && lines < TextLineLimit {
			fmt.Fprintf(&b, "\nFAILED %s (wave %d): %s: %s (put back in service by its execution %s)", r.InstanceID, r.Wave+1, r.Error, r.Cause, r.ExecutionARN)
			lines++
		}
	}
	for _, k := range sum.Skipped {
		if lines < 2*TextLineLimit {
			fmt.Fprintf(&b, "\nskipped %s: %s", k.InstanceID, truncate(k.Reason, 120))
			lines++
		}
	}
	if n := sum.Counts.Failed + sum.Counts.Skipped; n > lines {
		fmt.Fprintf(&b, "\n(%d more failed or skipped: see the output's lists and the rollouts table)", n-lines)
	}
	if len(sum.NotStarted) > 0 {
		fmt.Fprintf(&b, "\nnot started: %s", strings.Join(sum.NotStarted, ", "))
	}
	if sum.Truncated {
		fmt.Fprintf(&b, "\n(lists cut at %d; the whole record is in table %s under rollout %s)", ListLimit, sum.Table, sum.Rollout)
	}
	return b.String()
}
