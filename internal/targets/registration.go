package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// RegistrarAPI is the part of the ELBv2 client Registrar uses.
type RegistrarAPI interface {
	RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput, opts ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(ctx context.Context, in *elbv2.DeregisterTargetsInput, opts ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
}

// Registrar takes the instance out of its groups and puts it back, always naming the
// exact ports it was registered with. Both operations are idempotent, so the state
// machine may retry them and the rollback path may register an instance that is still
// registered.
type Registrar struct {
	API RegistrarAPI
	// Now is the clock deadlines are measured from; nil means time.Now.
	Now clock.Clock
}

// NewRegistrar makes a Registrar whose client is made from an AWS config.
func NewRegistrar(cfg aws.Config) Registrar { return Registrar{API: elbv2.NewFromConfig(cfg)} }

// Deregister deregisters every registration and returns the drain deadline.
func (r Registrar) Deregister(ctx context.Context, s workflow.State) (workflow.Deregistration, error) {
	if len(s.Registrations) == 0 {
		return workflow.Deregistration{}, faults.New(faults.InvalidInput, "deregister-target needs registrations")
	}
	for _, arn := range groupARNs(s.Registrations) {
		_, err := r.API.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{
			TargetGroupArn: &arn,
			Targets:        descriptions(s.InstanceID, s.Registrations, arn),
		})
		audit.Record(ctx, audit.Deregister, err, nil, audit.Instance(s.InstanceID), audit.Group(arn), audit.Ports(portsIn(s.Registrations, arn)))
		if err != nil {
			return workflow.Deregistration{}, fmt.Errorf("deregistering %s from %s: %w", s.InstanceID, arn, err)
		}
	}
	t, at := stamp(r.Now)
	return workflow.Deregistration{DeregisteredAt: at, DrainDeadline: workflow.Deadline(t, s.Deadlines.DrainSeconds)}, nil
}

// Register registers every registration again and returns the healthy deadline. What
// cannot be put back is named: an instance no longer running (InstanceNotRunning), or a
// group deleted meanwhile (TargetGroupNotFound, after registering it in every group that
// still exists).
func (r Registrar) Register(ctx context.Context, s workflow.State) (workflow.Registered, error) {
	if len(s.Registrations) == 0 {
		return workflow.Registered{}, faults.New(faults.InvalidInput, "register-target needs registrations")
	}
	var deleted, refused []string
	var refusal error
	for _, arn := range groupARNs(s.Registrations) {
		_, err := r.API.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
			TargetGroupArn: &arn,
			Targets:        descriptions(s.InstanceID, s.Registrations, arn),
		})
		audit.Record(ctx, audit.Register, err, nil, audit.Instance(s.InstanceID), audit.Group(arn), audit.Ports(portsIn(s.Registrations, arn)))
		// It was registered here before, so ELB refuses it now (InvalidTarget) because it
		// is no longer running: RegisterTargets takes running instances only. The other
		// groups are still tried.
		var invalid *types.InvalidTargetException
		if errors.As(err, &invalid) {
			refused, refusal = append(refused, workflow.GroupName(arn)), err
			continue
		}
		var gone *types.TargetGroupNotFoundException
		if errors.As(err, &gone) {
			deleted = append(deleted, arn)
			continue
		}
		if err != nil {
			return workflow.Registered{}, fmt.Errorf("registering %s in %s: %w", s.InstanceID, arn, err)
		}
	}
	if len(refused) > 0 {
		return workflow.Registered{}, faults.New(faults.InstanceNotRunning,
			"the load balancer refuses to register %s in %s again (%v): the instance was stopped or terminated, and is not in service there; register it again once it runs",
			s.InstanceID, strings.Join(refused, ", "), refusal)
	}
	if len(deleted) > 0 {
		return workflow.Registered{}, faults.New(faults.TargetGroupNotFound,
			"target group(s) %s no longer exist: %s cannot be registered there again (it is registered again in every other group)",
			strings.Join(deleted, ", "), s.InstanceID)
	}
	t, at := stamp(r.Now)
	return workflow.Registered{RegisteredAt: at, HealthyDeadline: workflow.Deadline(t, s.Deadlines.HealthySeconds)}, nil
}
