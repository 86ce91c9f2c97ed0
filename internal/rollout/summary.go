package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublisherAPI is the part of the SNS client the summary uses.
type PublisherAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Summary is the fleet execution's output.
type Summary struct {
	// Outcome: completed, aborted (error budget spent), stopped (window closed, work
	// remains) or dry-run.
	Outcome    string   `json:"outcome"`
	Aborted    bool     `json:"aborted"`
	StopReason string   `json:"stopReason,omitempty"`
	Counts     Counts   `json:"counts"`
	Instances  []Result `json:"instances"`
	Skipped    []Skip   `json:"skipped"`
	NotStarted []string `json:"notStarted"`
	Plan       Plan     `json:"plan"`
	WavesRun   int      `json:"wavesRun"`
	// TotalSeconds is from planning to the summary.
	TotalSeconds float64 `json:"totalSeconds"`
	// Text is the summary in a few lines, as notified.
	Text string `json:"text"`
}

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

// Summarizer builds the summary and sends it to the notification topic.
type Summarizer struct {
	SNS PublisherAPI
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Summarize builds the summary and publishes it when the state names a topic.
func (z Summarizer) Summarize(ctx context.Context, s State) (Summary, error) {
	now := time.Now
	if z.Now != nil {
		now = z.Now
	}
	sum := Summary{Instances: s.Results, Skipped: s.Skipped, Plan: s.Plan, WavesRun: s.Cursor.Wave, StopReason: s.Cursor.StopReason,
		Aborted: s.Cursor.Aborted, NotStarted: []string{}}
	if sum.Instances == nil {
		sum.Instances = []Result{}
	}
	if sum.Skipped == nil {
		sum.Skipped = []Skip{}
	}
	for i := s.Cursor.Wave; i < len(s.Waves); i++ {
		for _, item := range s.Waves[i] {
			sum.NotStarted = append(sum.NotStarted, item.InstanceID)
		}
	}
	for _, w := range s.Waves {
		sum.Counts.Planned += len(w)
	}
	for _, r := range s.Results {
		if r.Succeeded {
			sum.Counts.Succeeded++
		} else {
			sum.Counts.Failed++
		}
	}
	sum.Counts.Skipped, sum.Counts.NotStarted = len(s.Skipped), len(sum.NotStarted)
	switch {
	case s.Input.DryRun:
		sum.Outcome, sum.NotStarted, sum.Counts.NotStarted = OutcomeDryRun, []string{}, 0
	case s.Cursor.Aborted:
		sum.Outcome = OutcomeAborted
	case len(sum.NotStarted) > 0:
		sum.Outcome = OutcomeStopped
	default:
		sum.Outcome = OutcomeCompleted
	}
	if start, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil {
		sum.TotalSeconds = float64(now().Sub(start).Round(10*time.Millisecond).Milliseconds()) / 1000
	}
	sum.Text = text(s, sum)
	if s.TopicARN != "" && !s.Input.DryRun {
		subject := "drainpipe rollout " + sum.Outcome
		if _, err := z.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &s.TopicARN, Subject: &subject, Message: &sum.Text}); err != nil {
			return Summary{}, fmt.Errorf("notifying %s: %w", s.TopicARN, err)
		}
	}
	return sum, nil
}

func text(s State, sum Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "drainpipe rollout %s %s: %d planned in %d waves, %d succeeded, %d failed, %d skipped, %d not started (%.0f s).",
		s.ExecutionARN, sum.Outcome, sum.Counts.Planned, len(s.Waves), sum.Counts.Succeeded, sum.Counts.Failed, sum.Counts.Skipped, sum.Counts.NotStarted, sum.TotalSeconds)
	if sum.StopReason != "" {
		fmt.Fprintf(&b, " Stopped: %s.", sum.StopReason)
	}
	for _, r := range sum.Instances {
		if !r.Succeeded {
			fmt.Fprintf(&b, "\nFAILED %s (wave %d): %s: %s (put back in service by its execution %s)", r.InstanceID, r.Wave+1, r.Error, r.Cause, r.ExecutionARN)
		}
	}
	for _, k := range sum.Skipped {
		fmt.Fprintf(&b, "\nskipped %s: %s", k.InstanceID, k.Reason)
	}
	if len(sum.NotStarted) > 0 {
		fmt.Fprintf(&b, "\nnot started: %s", strings.Join(sum.NotStarted, ", "))
	}
	return b.String()
}
