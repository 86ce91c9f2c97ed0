package targets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Checker runs the read-only checks of the instance's registrations. (Whether its groups
// can spare it is package capacity's to judge.)
type Checker struct {
	API HealthAPI
	// Now is the clock deadlines are measured with; nil means time.Now.
	Now clock.Clock
}

// GroupHealth returns the health of every target registered in the group.
func (c Checker) GroupHealth(ctx context.Context, arn string) ([]workflow.TargetState, error) {
	return DescribeGroup(ctx, c.API, arn)
}

// NewChecker makes a Checker whose client is made from an AWS config.
func NewChecker(cfg aws.Config) Checker { return Checker{API: elbv2.NewFromConfig(cfg)} }

// CheckInstance checks that every registration of the instance is a healthy target.
func (c Checker) CheckInstance(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	states, err := c.registrationStates(ctx, s)
	if err != nil {
		return workflow.TargetsReport{}, err
	}
	for _, t := range states {
		switch t.State {
		case workflow.Healthy:
		case workflow.Unused:
			return workflow.TargetsReport{}, faults.New(faults.InstanceNotInTargetGroup, "%s: the instance is not a registered target", t)
		default:
			return workflow.TargetsReport{}, faults.New(faults.InstanceNotHealthy, "%s: drainpipe only takes healthy targets out of rotation", t)
		}
	}
	_, at := stamp(c.Now)
	return workflow.TargetsReport{Done: true, CheckedAt: at, Targets: states}, nil
}

// CheckDrain checks once whether every registration has finished draining. It fails with
// DrainTimeout once the deadline has passed, and with DrainInterrupted if the instance
// was registered again meanwhile.
func (c Checker) CheckDrain(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	if s.Deregistration == nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "check-drain needs the deregistration result (deregistration.drainDeadline)")
	}
	deadline, err := workflow.ParseTime("deregistration.drainDeadline", s.Deregistration.DrainDeadline)
	if err != nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "%v", err)
	}
	states, err := c.registrationStates(ctx, s)
	if err != nil {
		return workflow.TargetsReport{}, err
	}
	t, at := stamp(c.Now)
	var draining []string
	for _, st := range states {
		switch st.State {
		case workflow.Unused:
		case workflow.Draining:
			draining = append(draining, st.String())
		default:
			return workflow.TargetsReport{}, faults.New(faults.DrainInterrupted, "%s while it should be draining: it was registered again by someone else; not running the maintenance", st)
		}
	}
	report := workflow.TargetsReport{Done: len(draining) == 0, CheckedAt: at, Targets: states}
	if !report.Done {
		// Draining ends with the delay: past it, the end is due at any moment.
		if delayEnds, err := s.Deregistration.After(s.Waits.DeregistrationDelaySeconds); err == nil {
			report.PollSeconds = untilOr(delayEnds, t, s.Waits.PollSeconds)
		} else {
			report.PollSeconds = s.Waits.PollSeconds
		}
	}
	if !report.Done && t.After(deadline) {
		return workflow.TargetsReport{}, faults.New(faults.DrainTimeout, "still draining at the deadline %s: %s", s.Deregistration.DrainDeadline, strings.Join(draining, "; "))
	}
	return report, nil
}

// CheckHealthy checks once, after registration, whether every registration of the
// instance is healthy. It fails with TargetNotHealthy once the deadline has passed, or at
// once when a registration is missing (someone deregistered it meanwhile).
func (c Checker) CheckHealthy(ctx context.Context, s workflow.State) (workflow.TargetsReport, error) {
	if s.Registration == nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "check-target-health needs the registration result (registration.healthyDeadline)")
	}
	deadline, err := workflow.ParseTime("registration.healthyDeadline", s.Registration.HealthyDeadline)
	if err != nil {
		return workflow.TargetsReport{}, faults.New(faults.InvalidInput, "%v", err)
	}
	var missing, notHealthy []string
	var states []workflow.TargetState
	for _, arn := range groupARNs(s.Registrations) {
		tgs, err := DescribeGroup(ctx, c.API, arn)
		if err != nil {
			return workflow.TargetsReport{}, err
		}
		for _, r := range s.Registrations {
			if r.TargetGroupARN == arn && !containsTarget(tgs, s.InstanceID, r.Port) {
				missing = append(missing, fmt.Sprintf("%s:%d is not registered in %s", s.InstanceID, r.Port, workflow.GroupName(arn)))
			}
		}
		for _, t := range tgs {
			if t.ID == s.InstanceID {
				states = append(states, t)
				if t.State != workflow.Healthy {
					notHealthy = append(notHealthy, t.String())
				}
			}
		}
	}
	if len(missing) > 0 {
		return workflow.TargetsReport{}, faults.New(faults.TargetNotHealthy, "%s", strings.Join(missing, "; "))
	}
	t, at := stamp(c.Now)
	report := workflow.TargetsReport{Done: len(notHealthy) == 0, CheckedAt: at, Targets: states}
	if !report.Done {
		if from, err := workflow.ParseTime("registration.registeredAt", s.Registration.RegisteredAt); err == nil {
			expected := from.Add(time.Duration(s.Waits.HealthySeconds) * time.Second) // the first check
			report.PollSeconds = workflow.NextPoll(t.Sub(expected), s.Waits.PollSeconds)
		} else {
			report.PollSeconds = s.Waits.PollSeconds
		}
	}
	if !report.Done && t.After(deadline) {
		return workflow.TargetsReport{}, faults.New(faults.TargetNotHealthy, "not healthy at the deadline %s: %s", s.Registration.HealthyDeadline, strings.Join(notHealthy, "; "))
	}
	return report, nil
}

// untilOr is the wait until end when it is still ahead of now (at most most), and
// past it the backoff from end (workflow.NextPoll).
func untilOr(end, now time.Time, most int) int {
	if now.Before(end) {
		return min(workflow.SecondsUntil(end, now), max(most, workflow.MinPollSeconds))
	}
	return workflow.NextPoll(now.Sub(end), most)
}

func containsTarget(targets []workflow.TargetState, id string, port int32) bool {
	for _, t := range targets {
		if t.ID == id && t.Port == port {
			return true
		}
	}
	return false
}

// registrationStates describes exactly the instance's registrations, naming id and port,
// one call per group.
func (c Checker) registrationStates(ctx context.Context, s workflow.State) ([]workflow.TargetState, error) {
	var states []workflow.TargetState
	for _, arn := range groupARNs(s.Registrations) {
		out, err := c.API.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{
			TargetGroupArn: &arn,
			Targets:        descriptions(s.InstanceID, s.Registrations, arn),
			Include:        includeAll,
		})
		if err != nil {
			return nil, describeError(arn, err)
		}
		states = append(states, toStates(arn, out.TargetHealthDescriptions)...)
	}
	return states, nil
}

// groupARNs lists the distinct groups of the registrations, in order.
func groupARNs(regs []workflow.Registration) []string {
	var arns []string
	seen := map[string]bool{}
	for _, r := range regs {
		if !seen[r.TargetGroupARN] {
			seen[r.TargetGroupARN] = true
			arns = append(arns, r.TargetGroupARN)
		}
	}
	return arns
}

// descriptions names the instance's registrations in one group, with their ports.
// portsIn are the instance's ports in the group.
func portsIn(regs []workflow.Registration, arn string) []int32 {
	var out []int32
	for _, r := range regs {
		if r.TargetGroupARN == arn {
			out = append(out, r.Port)
		}
	}
	return out
}

func descriptions(instanceID string, regs []workflow.Registration, arn string) []types.TargetDescription {
	var out []types.TargetDescription
	for _, r := range regs {
		if r.TargetGroupARN == arn {
			out = append(out, types.TargetDescription{Id: &instanceID, Port: &r.Port})
		}
	}
	return out
}
