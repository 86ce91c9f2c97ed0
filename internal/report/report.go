// Package report ends a fleet rollout: summarize-rollout reads the rollout's whole record,
// builds a summary bounded whatever the fleet's size, records the outcome, and publishes
// the summary to the notification topic. Whatever went wrong around the rollout without
// failing an instance (a lease not released, a child's output unreadable, the
// notification itself) is listed in the summary's problems, and the fleet state machine
// then fails the execution with RolloutProblems.
package report

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

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
	// Outcome: completed, aborted (error budget spent, or an alarm fired), stopped (window
	// closed, work remains) or dry-run.
	Outcome string `json:"outcome"`
	Aborted bool   `json:"aborted"`
	// Error is the error an aborted rollout fails with (RolloutAborted, AlarmActive,
	// AlarmNotFound); the state machine's RolloutAborted state reads it.
	Error      string `json:"error,omitempty"`
	StopReason string `json:"stopReason,omitempty"`
	Counts     Counts `json:"counts"`
	// Instances are the results, failed ones first.
	Instances []rollout.Result `json:"instances"`
	Skipped   []rollout.Skip   `json:"skipped"`
	// NotStarted are instances planned in waves that did not run.
	NotStarted []string `json:"notStarted"`
	// Truncated: a list above was cut at ListLimit.
	Truncated bool `json:"truncated,omitempty"`
	// Plan is the groups' budgets and the first waves, up to PlanListLimit instances.
	Plan     waveplan.Plan `json:"plan"`
	Waves    int           `json:"waves"`
	WavesRun int           `json:"wavesRun"`
	// Parts is how many executions ran the rollout (see PartEventBudget).
	Parts int `json:"parts"`
	// TotalSeconds is from planning to the summary.
	TotalSeconds float64 `json:"totalSeconds"`
	// Problems went wrong around the rollout without failing an instance: a lease not
	// released, a child's output not readable, the notification not sent. Any problem
	// fails the fleet execution with RolloutProblems after the summary.
	Problems []string `json:"problems"`
	// Text is the summary in a few lines, as notified.
	Text string `json:"text"`
}

// PublisherAPI is the part of the SNS client the summary uses.

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
	// NotInService: failed instances the load balancer did not report registered and
	// healthy in every group when their wave was recorded.
	NotInService int `json:"notInService"`
	// NothingToDo: succeeded instances whose required check found nothing to do; they
	// were never taken out.
	NothingToDo int `json:"nothingToDo"`
}

// Reporter runs summarize-rollout.
type Reporter struct {
	DB  rollout.StoreAPI
	SNS PublisherAPI
	Now clock.Clock
}

// New makes the reporter's clients from an AWS config.
func New(cfg aws.Config) Reporter {
	return Reporter{DB: dynamodb.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg)}
}

// Summarize reads the rollout's record, builds the summary, records the outcome and
// publishes the summary when the rollout names a topic (not for a dry run). A failed
// publish is one of the summary's problems, not an error: the summary is the record of
// what happened, and the fleet state machine fails the execution on any problem.
func (f Reporter) Summarize(ctx context.Context, s rollout.State) (Summary, error) {
	st := s.Store(f.DB)
	meta, waves, skips, err := st.All(ctx, s.Rollout.ID)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Rollout: s.Rollout.ID, Table: s.Rollout.Table, WavesRun: s.Cursor.Wave, StopReason: s.Cursor.StopReason,
		Aborted: s.Cursor.Aborted, Parts: s.Rollout.Part, Instances: []rollout.Result{}, Skipped: []rollout.Skip{}, NotStarted: []string{}, Problems: []string{},
		Plan: waveplan.Plan{Groups: meta.Groups}, Waves: meta.Waves}
	sum.Plan.Groups = bounded(sum.Plan.Groups, &sum.Truncated)
	var failed, succeeded []rollout.Result
	var problems []string
	if e := s.ReleaseError; e != nil {
		problems = append(problems, "releasing the rollout's leases failed: "+e.Error+": "+rollout.Truncate(e.Cause, SummaryCauseLimit))
	}
	listed := 0
	for i, w := range waves {
		sum.Counts.Planned += len(w.Instances)
		ids := make([]string, 0, len(w.Instances))
		for _, item := range w.Instances {
			ids = append(ids, item.InstanceID)
		}
		if listed+len(ids) <= PlanListLimit {
			sum.Plan.Waves = append(sum.Plan.Waves, waveplan.Wave{InstanceIDs: ids, BelowBudget: w.BelowBudget, Zone: w.Zone})
			listed += len(ids)
		} else {
			sum.Truncated = true
		}
		for _, r := range w.Results {
			if r.Problem != "" {
				problems = append(problems, fmt.Sprintf("%s (wave %d): %s", r.InstanceID, r.Wave+1, r.Problem))
			}
			if r.Succeeded {
				succeeded = append(succeeded, r)
				if r.Outcome == workflow.OutcomeNothingToDo {
					sum.Counts.NothingToDo++
				}
			} else {
				failed = append(failed, r)
			}
		}
		if i >= s.Cursor.Wave && w.Results == nil && !meta.Input.DryRun {
			sum.NotStarted = append(sum.NotStarted, ids...)
		}
	}
	var missing []string // failed instances not registered again: a problem of the rollout
	for i := range failed {
		// The table keeps the whole cause (to 1,000 characters) and health.
		failed[i].Cause = rollout.Truncate(failed[i].Cause, SummaryCauseLimit)
		failed[i].Health = rollout.Truncate(failed[i].Health, SummaryCauseLimit)
		switch failed[i].InService {
		case rollout.InServiceHealthy, "": // "": recorded before drainpipe read it
		case rollout.InServiceMissing:
			sum.Counts.NotInService++
			missing = append(missing, failed[i].InstanceID)
		default:
			sum.Counts.NotInService++
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d failed instance(s) are NOT registered again in all their groups, so their executions did not put them back: %s",
			len(missing), spellIDs(missing, TextLineLimit)))
	}
	sum.Counts.Succeeded, sum.Counts.Failed = len(succeeded), len(failed)
	sum.Counts.Skipped, sum.Counts.NotStarted = len(skips), len(sum.NotStarted)
	sum.Instances = bounded(append(failed, succeeded...), &sum.Truncated)
	sum.Skipped = bounded(skips, &sum.Truncated)
	for i := range sum.Skipped {
		sum.Skipped[i].Reason = rollout.Truncate(sum.Skipped[i].Reason, SummaryCauseLimit)
	}
	sum.NotStarted = bounded(sum.NotStarted, &sum.Truncated)
	switch {
	case meta.Input.DryRun:
		sum.Outcome = rollout.OutcomeDryRun
	case s.Cursor.Aborted:
		sum.Outcome, sum.Error = rollout.OutcomeAborted, cmp.Or(s.Cursor.StopError, faults.RolloutAborted)
	case sum.Counts.NotStarted > 0:
		sum.Outcome = rollout.OutcomeStopped
	default:
		sum.Outcome = rollout.OutcomeCompleted
	}
	sum.TotalSeconds = float64(f.Now.Now().Sub(meta.StartedAt).Milliseconds()) / 1000
	sum.Problems = bounded(problems, &sum.Truncated)
	sum.Text = text(sum)
	if err := st.Finish(ctx, s.Rollout.ID, sum.Outcome, sum.StopReason); err != nil {
		return Summary{}, err
	}
	if s.Rollout.TopicARN != "" && !meta.Input.DryRun {
		subject := "drainpipe rollout " + sum.Outcome
		if len(sum.Problems) > 0 {
			subject += " with problems"
		}
		if _, err := f.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &s.Rollout.TopicARN, Subject: &subject, Message: &sum.Text}); err != nil {
			// Retried by the SDK already; the execution's failure (RolloutProblems) and
			// its status-change notification carry it.
			sum.Problems = append(sum.Problems, rollout.Truncate(fmt.Sprintf("notifying %s failed: %v", s.Rollout.TopicARN, err), SummaryCauseLimit))
			sum.Text += "\nPROBLEM " + sum.Problems[len(sum.Problems)-1]
		}
	}
	return sum, nil
}

// standing says where a failed instance stood when its wave was recorded, as the load
// balancer reported it.
func standing(r rollout.Result) string {
	switch r.InService {
	case rollout.InServiceHealthy:
		return "registered again and healthy (execution " + r.ExecutionARN + ")"
	case rollout.InServiceNotHealthy:
		return "registered again but NOT healthy: " + r.Health + " (execution " + r.ExecutionARN + ")"
	case rollout.InServiceMissing:
		return "NOT back in service: " + r.Health + " (execution " + r.ExecutionARN + ")"
	}
	return "execution " + r.ExecutionARN
}

// spellIDs spells out up to n IDs, and how many more there are.
func spellIDs(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
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
	fmt.Fprintf(&b, "drainpipe rollout %s %s: %d planned in %d waves, %d succeeded, %d failed, %d skipped, %d not started, %d of the succeeded with nothing to do and left in service (%.0f s).",
		sum.Rollout, sum.Outcome, sum.Counts.Planned, sum.Waves, sum.Counts.Succeeded, sum.Counts.Failed, sum.Counts.Skipped, sum.Counts.NotStarted, sum.Counts.NothingToDo, sum.TotalSeconds)
	if sum.StopReason != "" {
		fmt.Fprintf(&b, " Stopped: %s.", sum.StopReason)
	}
	lines := 0
	for _, r := range sum.Instances {
		if !r.Succeeded && lines < TextLineLimit {
			fmt.Fprintf(&b, "\nFAILED %s (wave %d): %s: %s; %s", r.InstanceID, r.Wave+1, r.Error, r.Cause, standing(r))
			lines++
		}
	}
	for _, k := range sum.Skipped {
		if lines < 2*TextLineLimit {
			fmt.Fprintf(&b, "\nskipped %s: %s", k.InstanceID, rollout.Truncate(k.Reason, 120))
			lines++
		}
	}
	if n := sum.Counts.Failed + sum.Counts.Skipped; n > lines {
		fmt.Fprintf(&b, "\n(%d more failed or skipped: see the output's lists and the rollouts table)", n-lines)
	}
	if len(sum.NotStarted) > 0 {
		fmt.Fprintf(&b, "\nnot started: %s", strings.Join(sum.NotStarted, ", "))
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(&b, "\nPROBLEM %s", p)
	}
	if sum.Truncated {
		fmt.Fprintf(&b, "\n(lists cut at %d; the whole record is in table %s under rollout %s)", ListLimit, sum.Table, sum.Rollout)
	}
	return b.String()
}
