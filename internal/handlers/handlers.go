// Package handlers reaches every function's handler by its catalog name, for the lab and
// the contract tests: the same constructors and methods as the lambdas/<name> mains (a
// test checks that each main and its entry here name the same two), bound to an AWS
// config, the lab's clock, and, for the contract tests, fake clients. No Lambda links
// it: each main links only its own handler.
package handlers

import (
	"context"
	"fmt"
	"reflect"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/clock"
	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/drain"
	"github.com/drainpipe/drainpipe/internal/faults"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/planner"
	"github.com/drainpipe/drainpipe/internal/precheck"
	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/record"
	"github.com/drainpipe/drainpipe/internal/recovery"
	"github.com/drainpipe/drainpipe/internal/report"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Deps is what a handler is built from.
type Deps struct {
	// Config is the AWS configuration the SDK clients are made from.
	Config aws.Config
	// Now replaces the clock of the handler's receiver, when set.
	Now clock.Clock
	// Token replaces the resolver's token source (the reboot flag), when set.
	Token func() string
	// Clients replace the receiver's SDK clients: each field of the receiver whose
	// interface type one of them implements gets the first such.
	Clients []any
}

// Build makes a function's handler from its dependencies.
type Build func(Deps) lambda.Handler

// All is every function's handler, by catalog name.
var All = map[string]Build{
	catalog.ResolveTargets.Name:    bind(catalog.ResolveTargets, targets.NewResolver, targets.Resolver.Resolve),
	catalog.CheckInstance.Name:     bind(catalog.CheckInstance, precheck.New, precheck.Checker.Check),
	catalog.ReserveCapacity.Name:   bind(catalog.ReserveCapacity, capacity.Reserving(targets.NewChecker), capacity.Reserver.Reserve),
	catalog.EnterStandby.Name:      bind(catalog.EnterStandby, standby.New, standby.Mover.Enter),
	catalog.DeregisterTarget.Name:  bind(catalog.DeregisterTarget, targets.NewRegistrar, targets.Registrar.Deregister),
	catalog.CheckDrain.Name:        bind(catalog.CheckDrain, drain.New, drain.Drainer.Check),
	catalog.SendCommand.Name:       bind(catalog.SendCommand, command.NewRunner, command.Runner.Send),
	catalog.CheckCommand.Name:      bind(catalog.CheckCommand, command.NewRunner, command.Runner.Check),
	catalog.RegisterTarget.Name:    bind(catalog.RegisterTarget, targets.NewRegistrar, targets.Registrar.Register),
	catalog.CheckTargetHealth.Name: bind(catalog.CheckTargetHealth, targets.NewChecker, targets.Checker.CheckHealthy),
	catalog.ExitStandby.Name:       bind(catalog.ExitStandby, standby.New, standby.Mover.Exit),
	catalog.ReleaseCapacity.Name:   bind(catalog.ReleaseCapacity, capacity.NewReleaser, capacity.Reserver.Release),
	catalog.Summarize.Name:         bindFunc(catalog.Summarize, workflow.Summarize),
	catalog.PlanRollout.Name:       bind(catalog.PlanRollout, planner.New, planner.Planner.Plan),
	catalog.AcquireLeases.Name:     bind(catalog.AcquireLeases, leases.New, leases.Steps.Acquire),
	catalog.NextWave.Name:          bind(catalog.NextWave, progress.New, progress.Steps.NextWave),
	catalog.RecordWave.Name:        bind(catalog.RecordWave, record.New, record.Recorder.RecordWave),
	catalog.ReleaseLeases.Name:     bind(catalog.ReleaseLeases, leases.New, leases.Steps.Release),
	catalog.SummarizeRollout.Name:  bind(catalog.SummarizeRollout, report.New, report.Reporter.Summarize),
	catalog.RestoreExecution.Name:  bind(catalog.RestoreExecution, recovery.New, recovery.Recoverer.Restore),
}

// Lookup returns the named function's Build.
func Lookup(name string) (Build, error) {
	b, ok := All[name]
	if !ok {
		return nil, fmt.Errorf("no function named %q", name)
	}
	return b, nil
}

// Invoke runs a handler on a JSON payload as the Lambda runtime does, and returns the
// response payload or the function error.
func Invoke(ctx context.Context, h lambda.Handler, payload []byte) ([]byte, error) {
	return h.Invoke(ctx, payload)
}

func bind[S, Req, Resp any](f catalog.Function, build func(aws.Config) S, handle func(S, context.Context, Req) (Resp, error)) Build {
	return func(d Deps) lambda.Handler {
		s := build(d.Config)
		d.inject(&s)
		return lambda.NewHandler(start.Bind(f, s, handle))
	}
}

func bindFunc[Req, Resp any](f catalog.Function, handle func(context.Context, Req) (Resp, error)) Build {
	return func(Deps) lambda.Handler { return lambda.NewHandler(faults.Lambda(f.Name, handle)) }
}

var (
	clockType = reflect.TypeFor[clock.Clock]()
	tokenType = reflect.TypeFor[func() string]()
)

// inject sets the receiver's clock, token source and clients from d, where d has them. A
// field that holds a struct of its own, directly or behind an interface (capacity.Reserver's
// health reader, a targets.Checker), gets its clients the same way.
func (d Deps) inject(receiver any) {
	v := reflect.ValueOf(receiver).Elem()
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		field, ft := v.Field(i), v.Type().Field(i)
		if !ft.IsExported() {
			continue
		}
		switch {
		case ft.Type == clockType && d.Now != nil:
			field.Set(reflect.ValueOf(d.Now))
		case ft.Type == tokenType && d.Token != nil:
			field.Set(reflect.ValueOf(d.Token))
		case ft.Type.Kind() == reflect.Struct: // a receiver of its own (precheck.Checker's targets.Checker)
			d.inject(field.Addr().Interface())
		case ft.Type.Kind() == reflect.Interface:
			if c := d.client(ft.Type); c.IsValid() {
				field.Set(c)
			} else if !field.IsNil() && field.Elem().Kind() == reflect.Struct {
				inner := reflect.New(field.Elem().Type())
				inner.Elem().Set(field.Elem())
				d.inject(inner.Interface())
				field.Set(inner.Elem())
			}
		}
	}
}

// client is the first of d's clients that implements t.
func (d Deps) client(t reflect.Type) reflect.Value {
	for _, c := range d.Clients {
		if reflect.TypeOf(c).Implements(t) {
			return reflect.ValueOf(c)
		}
	}
	return reflect.Value{}
}
