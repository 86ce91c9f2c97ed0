package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drainpipe/drainpipe/internal/faults"
)

// TaggerAPI is the part of the EC2 client the wave recorder uses.
type TaggerAPI interface {
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// Recorder records a wave's outcome and decides whether the next wave starts.
type Recorder struct {
	EC2 TaggerAPI
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Record adds the wave's results, tags the instances maintained with the time, and moves
// the cursor: on to the next wave, or done when every wave ran, when failures exceed
// maxErrors (aborted), or when the maintenance window (notAfter) has closed.
func (r Recorder) Record(ctx context.Context, s State) (State, error) {
	if s.Cursor.Done || s.Cursor.Wave >= len(s.Waves) {
		return State{}, faults.New(faults.InvalidInput, "record-wave: no wave is running (cursor %+v, %d waves)", s.Cursor, len(s.Waves))
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var maintained []string
	for _, item := range s.WaveResults {
		res := Result{InstanceID: item.InstanceID, Wave: s.Cursor.Wave}
		switch {
		case item.Result != nil && item.Result.Status == "SUCCEEDED":
			res.Succeeded, res.ExecutionARN = true, item.Result.ExecutionArn
			var out struct {
				PhaseSeconds map[string]float64 `json:"phaseSeconds"`
			}
			_ = json.Unmarshal(item.Result.Output, &out)
			res.PhaseSeconds = out.PhaseSeconds
			maintained = append(maintained, item.InstanceID)
		case item.Error != nil:
			res.Error, res.Cause, res.ExecutionARN = childError(item.Error.Error, item.Error.Cause)
		default:
			res.Error, res.Cause = "Unknown", "the wave returned no result for this instance"
		}
		s.Results = append(s.Results, res)
	}
	if len(maintained) > 0 {
		stamp := now().UTC().Format(time.RFC3339)
		_, err := r.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: maintained,
			Tags: []ec2types.Tag{{Key: ptr(MaintainedTag), Value: &stamp}}})
		if err != nil {
			return State{}, fmt.Errorf("tagging %v as maintained: %w", maintained, err)
		}
	}
	s.WaveResults, s.Current = nil, nil
	s.Cursor.Wave++
	failed := 0
	for _, res := range s.Results {
		if !res.Succeeded {
			failed++
		}
	}
	switch {
	case failed > s.Input.MaxErrors:
		s.Cursor.Done, s.Cursor.Aborted = true, true
		s.Cursor.StopReason = fmt.Sprintf("%d instance(s) failed, more than maxErrors %d", failed, s.Input.MaxErrors)
	case s.Cursor.Wave >= len(s.Waves):
		s.Cursor.Done = true
	case windowClosed(s.Input.NotAfter, now()):
		s.Cursor.Done = true
		s.Cursor.StopReason = "the maintenance window ended at " + s.Input.NotAfter
	}
	return s, nil
}

func windowClosed(notAfter string, now time.Time) bool {
	if notAfter == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, notAfter)
	return err == nil && !now.Before(t)
}

// childError reads a failed child execution's error. startExecution.sync reports it as
// States.TaskFailed with the DescribeExecution answer, as JSON, in the Cause; when the
// Cause is not that JSON the error is reported as it came.
func childError(name, cause string) (string, string, string) {
	var d struct {
		Error        string `json:"Error"`
		Cause        string `json:"Cause"`
		ExecutionArn string `json:"ExecutionArn"`
	}
	if json.Unmarshal([]byte(cause), &d) == nil && d.Error != "" {
		return d.Error, d.Cause, d.ExecutionArn
	}
	return name, cause, ""
}
