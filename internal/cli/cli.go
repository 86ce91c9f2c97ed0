// Package cli is the drainpipe command for operators: validate an input, start an
// instance or fleet execution (validated first, with a deterministic name so that a
// repeated start does not run twice), plan a fleet (a dry run, as waves per target group
// with the capacity each leaves), watch an execution, abort one and confirm its instances
// were put back, list the reservations and leases, and list recent rollouts. It finds the
// deployment by its name prefix (ListStateMachines) and speaks to AWS through the standard
// config chain, so it drives the lab (AWS_ENDPOINT_URL) as it drives AWS.
package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/ddbitem"
	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/targets"
	"github.com/drainpipe/drainpipe/internal/waveplan"
	"github.com/drainpipe/drainpipe/internal/workflow"
	"github.com/drainpipe/drainpipe/schema"
)

// Exit codes.
const (
	// ExitOK: done; for start --wait, watch and abort, the execution succeeded or was put
	// back.
	ExitOK = 0
	// ExitFailed: the execution failed, was aborted, or (abort) an instance is not back.
	ExitFailed = 1
	// ExitUsage: a bad command line or an invalid input; nothing was sent.
	ExitUsage = 2
	// ExitAWS: AWS refused or the deployment was not found.
	ExitAWS = 3
	// ExitInterrupted: interrupted (Ctrl-C); what was started keeps running. A signal
	// other than SIGINT exits 128 plus its number (SIGTERM: 143).
	ExitInterrupted = 130
)

// Signaled is the cause of a context canceled by a signal (see SignalContext).
type Signaled struct{ Signal os.Signal }

func (s Signaled) Error() string { return "interrupted by " + s.Signal.String() }

// SignalContext is a context canceled, with Signaled as its cause, when one of sigs
// arrives; stop stops listening.
func SignalContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(Signaled{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(context.Canceled) }
}

// interruptedCode is the exit code of a run its context's cancellation ended.
func interruptedCode(ctx context.Context) int {
	var s Signaled
	if errors.As(context.Cause(ctx), &s) {
		if n, ok := s.Signal.(syscall.Signal); ok && n != syscall.SIGINT {
			return 128 + int(n)
		}
	}
	return ExitInterrupted
}

// interruptedNote says, per command, where an interrupted run leaves things.
func interruptedNote(command string) string {
	switch command {
	case "start":
		return "interrupted; an execution it started keeps running: drainpipe watch NAME follows it again, drainpipe abort NAME stops it"
	case "watch":
		return "interrupted; the execution keeps running: drainpipe watch follows it again"
	case "abort":
		return "interrupted; if abort said it stopped the execution, its instances are still put back without it: drainpipe reservations shows what is held"
	}
	return "interrupted; nothing was changed"
}

// Env is what the command runs with.
type Env struct {
	Config         aws.Config
	Stdout, Stderr io.Writer
	// Poll is watch's and abort's pause between reads (default 2 s).
	Poll time.Duration
	// Size, when Stdout is a terminal, reads its size (see Terminal): watch then redraws
	// its view in place.
	Size func() (cols, rows int)
	// Footer, when set, gives a line watch shows under its view (the lab's demo shows
	// its traffic there).
	Footer func() string
}

// usageError is a bad command line or input: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// failedError is an execution that did not succeed: exit 1.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

// Usage is the command's help.
const Usage = `drainpipe: operate a drainpipe deployment.

  drainpipe validate instance|fleet FILE       check an input against the schema and drainpipe's rules
  drainpipe start instance|fleet FILE [--name N] [--wait]
                                               start an execution (named after its input unless --name)
  drainpipe plan FILE                          a fleet's dry run: waves per target group, and the capacity each leaves
  drainpipe watch EXECUTION                    follow an execution (its ARN or name) until it ends
  drainpipe abort EXECUTION [--timeout 10m]    stop it, and confirm its instances were put back
  drainpipe reservations                       who holds which instance out, and the rollouts' leases
  drainpipe history [--limit 10]               recent fleet rollouts and their outcomes

Flags for every command: --prefix (the deployment's namePrefix, default drainpipe),
--output text|json. AWS: the standard config chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL). Exit codes: 0 done, 1 the execution failed or an instance is not
back, 2 bad usage or input (nothing sent), 3 AWS refused or no deployment, 130
interrupted (what was started keeps running; 143 for SIGTERM).
`

// Run runs the command line args (without the program name) and returns the exit code.
func Run(ctx context.Context, env Env, args []string) int {
	if env.Poll == 0 {
		env.Poll = 2 * time.Second
	}
	err := run(ctx, env, args)
	var u usageError
	var f failedError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(env.Stderr, "drainpipe:", interruptedNote(args[0]))
		return interruptedCode(ctx)
	case errors.As(err, &u):
		fmt.Fprintln(env.Stderr, "drainpipe:", err)
		return ExitUsage
	case errors.As(err, &f):
		fmt.Fprintln(env.Stderr, "drainpipe:", err)
		return ExitFailed
	default:
		fmt.Fprintln(env.Stderr, "drainpipe:", err)
		return ExitAWS
	}
}

// cmd is one invocation: the flags every command takes, and the deployment.
type cmd struct {
	env    Env
	prefix string
	json   bool
	flags  *flag.FlagSet
	sfn    *sfn.Client
	db     *dynamodb.Client
	elb    *elbv2.Client
	// machines are the state machines found, by name.
	machines map[string]string
}

func run(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stdout, Usage)
		if len(args) == 0 {
			return usage("name a command")
		}
		return nil
	}
	c := &cmd{env: env, flags: flag.NewFlagSet(args[0], flag.ContinueOnError), machines: map[string]string{}}
	c.flags.SetOutput(io.Discard)
	c.flags.StringVar(&c.prefix, "prefix", "drainpipe", "the deployment's namePrefix")
	output := c.flags.String("output", "text", "text or json")
	name := c.flags.String("name", "", "the execution's name (start)")
	wait := c.flags.Bool("wait", false, "watch the execution to its end (start)")
	timeout := c.flags.Duration("timeout", 10*time.Minute, "how long abort waits for the instances to be put back")
	limit := c.flags.Int("limit", 10, "how many rollouts history lists")
	// Flags may follow the positional arguments.
	var pos []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := c.flags.Parse(rest); err != nil {
			return usage("%s: %v", args[0], err)
		}
		rest = c.flags.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if *output != "text" && *output != "json" {
		return usage("--output %q: text or json", *output)
	}
	if *limit < 1 || *limit > 1000 {
		return usage("--limit %d: from 1 to 1000", *limit)
	}
	if *timeout <= 0 {
		return usage("--timeout %v: give a duration above 0, such as 10m", *timeout)
	}
	c.json = *output == "json"
	c.sfn, c.db, c.elb = sfn.NewFromConfig(env.Config), dynamodb.NewFromConfig(env.Config), elbv2.NewFromConfig(env.Config)
	switch args[0] {
	case "validate":
		if len(pos) != 2 {
			return usage("validate instance|fleet FILE")
		}
		_, err := readInput(pos[0], pos[1], false)
		if err == nil {
			return c.print(map[string]any{"valid": true}, "valid")
		}
		return err
	case "start":
		if len(pos) != 2 {
			return usage("start instance|fleet FILE [--name NAME] [--wait]")
		}
		return c.start(ctx, pos[0], pos[1], *name, *wait)
	case "plan":
		if len(pos) != 1 {
			return usage("plan FILE (a fleet input)")
		}
		return c.plan(ctx, pos[0])
	case "watch":
		if len(pos) != 1 {
			return usage("watch EXECUTION")
		}
		arn, err := c.execution(ctx, pos[0])
		if err != nil {
			return err
		}
		return c.watch(ctx, arn)
	case "abort":
		if len(pos) != 1 {
			return usage("abort EXECUTION")
		}
		return c.abort(ctx, pos[0], *timeout)
	case "reservations":
		return c.reservations(ctx)
	case "history":
		return c.history(ctx, *limit)
	default:
		return usage("unknown command %q (see drainpipe help)", args[0])
	}
}

// readInput reads an input file and checks it as drainpipe will: against the schema and
// with drainpipe's own validation. dryRun forces a dry run.
func readInput(kind, path string, dryRun bool) ([]byte, error) {
	name, decode := schema.InstanceInput, func(raw []byte) error { _, err := workflow.DecodeInput(raw); return err }
	switch kind {
	case "instance":
	case "fleet":
		name, decode = schema.FleetInput, func(raw []byte) error { _, err := rollout.DecodeInput(raw); return err }
	default:
		return nil, usage("%q: instance or fleet", kind)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usage("%v", err)
	}
	if dryRun {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, usage("%s is not a JSON object: %v", path, err)
		}
		m["dryRun"] = true
		raw, _ = json.Marshal(m)
	}
	if err := schema.Validate(name, raw); err != nil {
		return nil, usage("%s does not match %s:\n%v", path, name, err)
	}
	if err := decode(raw); err != nil {
		return nil, usage("%s: %v", path, err)
	}
	return raw, nil
}

// machine finds the deployment's state machine ("maintain-fleet", ...), once.
func (c *cmd) machine(ctx context.Context, which string) (string, error) {
	want := c.prefix + "-" + which
	if arn, ok := c.machines[want]; ok {
		return arn, nil
	}
	pages := sfn.NewListStateMachinesPaginator(c.sfn, &sfn.ListStateMachinesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing the state machines: %w", err)
		}
		for _, m := range page.StateMachines {
			if aws.ToString(m.Name) == want {
				c.machines[want] = aws.ToString(m.StateMachineArn)
				return c.machines[want], nil
			}
		}
	}
	return "", fmt.Errorf("no state machine %s in %s: deploy drainpipe (make deploy), or give its --prefix", want, c.env.Config.Region)
}

// execution is an execution's ARN, from its ARN or its name (of the fleet or instance
// machine).
func (c *cmd) execution(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "arn:") {
		return ref, nil
	}
	for _, which := range []string{"maintain-fleet", "maintain-instance"} {
		m, err := c.machine(ctx, which)
		if err != nil {
			return "", err
		}
		arn := rollout.ExecutionARN(m, ref)
		if _, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn}); err == nil {
			return arn, nil
		}
	}
	return "", usage("no execution named %q", ref)
}

// start starts an execution of the input, named after it unless name is given: a
// repeated start of the same input finds the same execution.
func (c *cmd) start(ctx context.Context, kind, path, name string, wait bool) error {
	raw, err := readInput(kind, path, false)
	if err != nil {
		return err
	}
	arn, already, err := c.startRaw(ctx, kind, raw, name)
	if err != nil {
		return err
	}
	verb := "started"
	if already {
		verb = "already started with the same input:"
	}
	if err := c.print(map[string]any{"executionArn": arn, "alreadyStarted": already}, "%s %s", verb, arn); err != nil {
		return err
	}
	if wait {
		return c.watch(ctx, arn)
	}
	return nil
}

func (c *cmd) startRaw(ctx context.Context, kind string, raw []byte, name string) (arn string, already bool, err error) {
	machine, err := c.machine(ctx, "maintain-"+kind)
	if err != nil {
		return "", false, err
	}
	if name == "" {
		sum := sha256.Sum256(raw)
		name = "cli-" + hex.EncodeToString(sum[:8])
	}
	// An execution of that name: the same input is the same run, started before (Step
	// Functions would return a running one as if new, and refuse an ended one); another
	// input is a clash.
	arn = rollout.ExecutionARN(machine, name)
	d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
	case err != nil:
		return "", false, fmt.Errorf("describing %s: %w", arn, err)
	case !sameJSON(aws.ToString(d.Input), raw):
		return "", false, usage("the name %q is taken by an execution with another input: give another --name", name)
	case d.Status == sfntypes.ExecutionStatusRunning:
		return arn, true, nil
	default:
		fmt.Fprintf(c.env.Stderr, "%s ran this input already (ended %s at %s); to run it again, give it a --name\n", name, d.Status,
			aws.ToTime(d.StopDate).UTC().Format(time.RFC3339))
		return arn, true, nil
	}
	out, err := c.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &machine, Name: &name, Input: aws.String(string(raw))})
	if err != nil {
		return "", false, fmt.Errorf("starting %s: %w", name, err)
	}
	return aws.ToString(out.ExecutionArn), false, nil
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a string, b []byte) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// print writes v as JSON, or the text.
func (c *cmd) print(v any, format string, args ...any) error {
	if c.json {
		return json.NewEncoder(c.env.Stdout).Encode(v)
	}
	_, err := fmt.Fprintf(c.env.Stdout, format+"\n", args...)
	return err
}

// plan runs the fleet input as a dry run and prints its waves, per target group, with
// the healthy targets each wave leaves against the group's floor.
func (c *cmd) plan(ctx context.Context, path string) error {
	raw, err := readInput("fleet", path, true)
	if err != nil {
		return err
	}
	// A dry run changes nothing: each plan is a new one, of the fleet as it is now.
	arn, _, err := c.startRaw(ctx, "fleet", raw, fmt.Sprintf("plan-%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	d, err := c.waitEnd(ctx, arn)
	if err != nil {
		return err
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		return failedError{fmt.Sprintf("the plan was refused: %s: %s", aws.ToString(d.Error), causeText(aws.ToString(d.Cause)))}
	}
	var sum struct {
		Plan struct {
			Groups []struct {
				ARN                         string `json:"targetGroupArn"`
				Healthy, MinHealthy, MaxOut int
				Zones                       []waveplan.ZoneBudget `json:"zones"`
			} `json:"groups"`
			Waves []struct {
				InstanceIDs []string `json:"instanceIds"`
				Zone        string   `json:"zone"`
			} `json:"waves"`
		} `json:"plan"`
		Skipped []rollout.Skip `json:"skipped"`
		Waves   int            `json:"waves"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &sum); err != nil {
		return fmt.Errorf("reading the plan: %w", err)
	}
	// Each instance's targets in each group: one per port it is registered on, as the
	// budget counts them.
	members := map[string]map[string]int{}
	for _, g := range sum.Plan.Groups {
		states, err := targets.DescribeGroup(ctx, c.elb, g.ARN)
		if err != nil {
			return err
		}
		members[g.ARN] = map[string]int{}
		for _, s := range states {
			members[g.ARN][s.ID]++
		}
	}
	type groupLeft struct {
		Group   string `json:"targetGroupArn"`
		Out     int    `json:"out"`
		Left    int    `json:"healthyLeft"`
		Floor   int    `json:"minHealthy"`
		Healthy int    `json:"healthy"`
	}
	type wave struct {
		Instances []string    `json:"instanceIds"`
		Zone      string      `json:"zone,omitempty"`
		Groups    []groupLeft `json:"groups"`
	}
	var waves []wave
	var b strings.Builder
	fmt.Fprintf(&b, "plan: %d wave(s) (dry run %s)\n", sum.Waves, arn)
	for _, g := range sum.Plan.Groups {
		if len(g.Zones) == 0 {
			continue
		}
		var zones []string
		for _, z := range g.Zones {
			zones = append(zones, fmt.Sprintf("%s keeps %d of %d", z.Zone, z.MinHealthy, z.Healthy))
		}
		fmt.Fprintf(&b, "%s has cross-zone load balancing off: each zone keeps its own floor: %s\n", workflow.GroupName(g.ARN), strings.Join(zones, ", "))
	}
	for i, w := range sum.Plan.Waves {
		wv := wave{Instances: w.InstanceIDs, Zone: w.Zone}
		zone := ""
		if w.Zone != "" {
			zone = " (" + w.Zone + ")"
		}
		fmt.Fprintf(&b, "wave %d%s: %s\n", i+1, zone, strings.Join(w.InstanceIDs, ", "))
		for _, g := range sum.Plan.Groups {
			out := 0
			for _, id := range w.InstanceIDs {
				out += members[g.ARN][id]
			}
			if out == 0 {
				continue
			}
			gl := groupLeft{Group: g.ARN, Out: out, Left: g.Healthy - out, Floor: g.MinHealthy, Healthy: g.Healthy}
			wv.Groups = append(wv.Groups, gl)
			fmt.Fprintf(&b, "  %-24s %d out, %d of %d healthy left (floor %d)\n", workflow.GroupName(g.ARN), out, gl.Left, g.Healthy, g.MinHealthy)
		}
		waves = append(waves, wv)
	}
	for _, s := range sum.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.InstanceID, s.Reason)
	}
	return c.print(map[string]any{"execution": arn, "waves": waves, "skipped": sum.Skipped}, "%s", strings.TrimSuffix(b.String(), "\n"))
}

// causeText is a Cause in words: a function error's message, or the Cause as it is.
func causeText(cause string) string {
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &payload) == nil && payload.ErrorMessage != "" {
		return payload.ErrorMessage
	}
	return cause
}

func (c *cmd) waitEnd(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	for {
		d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", arn, err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d, nil
		}
		if err := sleep(ctx, c.env.Poll); err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// scan reads every item of the deployment's capacity table.
func (c *cmd) scan(ctx context.Context) ([]map[string]ddbtypes.AttributeValue, error) {
	table := c.prefix + "-capacity"
	var items []map[string]ddbtypes.AttributeValue
	pages := dynamodb.NewScanPaginator(c.db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", table, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

// reserved are the instance reservations among the capacity table's items.
func reserved(items []map[string]ddbtypes.AttributeValue) []capacity.Reservation {
	var out []capacity.Reservation
	for _, item := range items {
		if strings.HasPrefix(ddbitem.String(item, ddbitem.CapacityKey), "instance#") {
			if r, ok := capacity.ReservationOf(item); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// groupHolds are the groups whose ledger, among the capacity table's items, has an
// instance held out by holder.
func groupHolds(items []map[string]ddbtypes.AttributeValue, holder string) []string {
	var groups []string
	for _, item := range items {
		if pk := ddbitem.String(item, ddbitem.CapacityKey); strings.HasPrefix(pk, "group#") {
			for _, h := range capacity.Ledger(item) {
				if h.Holder == holder {
					groups = append(groups, strings.TrimPrefix(pk, "group#"))
					break
				}
			}
		}
	}
	slices.Sort(groups)
	return groups
}

// reservations lists who holds which instance out, per group, and the rollouts' leases.
func (c *cmd) reservations(ctx context.Context) error {
	items, err := c.scan(ctx)
	if err != nil {
		return err
	}
	type hold struct {
		Group    string    `json:"targetGroupArn,omitempty"`
		Instance string    `json:"instanceId,omitempty"`
		Holder   string    `json:"holder"`
		Since    time.Time `json:"since,omitzero"`
		Expires  time.Time `json:"expiresAt"`
	}
	var holds, leases []hold
	for _, item := range items {
		pk := ddbitem.String(item, ddbitem.CapacityKey)
		switch {
		case strings.HasPrefix(pk, "group#"):
			for _, h := range capacity.Ledger(item) {
				holds = append(holds, hold{Group: strings.TrimPrefix(pk, "group#"), Instance: h.InstanceID, Holder: h.Holder, Since: h.Since, Expires: h.ExpiresAt})
			}
		case strings.HasPrefix(pk, "lease#"):
			leases = append(leases, hold{Group: ddbitem.String(item, "targetGroupArn"), Holder: ddbitem.String(item, "holder"),
				Expires: time.Unix(ddbitem.Number(item, ddbitem.CapacityExpiry), 0)})
		}
	}
	by := func(a, b hold) int { return strings.Compare(a.Group+a.Instance, b.Group+b.Instance) }
	slices.SortFunc(holds, by)
	slices.SortFunc(leases, by)
	var b strings.Builder
	if len(holds) == 0 {
		b.WriteString("no instance is reserved out of service\n")
	}
	for _, h := range holds {
		fmt.Fprintf(&b, "%s out of %s, held by %s since %s (expires %s)\n", h.Instance, workflow.GroupName(h.Group), h.Holder,
			h.Since.Format(time.RFC3339), h.Expires.UTC().Format(time.RFC3339))
	}
	for _, l := range leases {
		fmt.Fprintf(&b, "lease on %s held by rollout %s (expires %s)\n", workflow.GroupName(l.Group), l.Holder, l.Expires.UTC().Format(time.RFC3339))
	}
	return c.print(map[string]any{"reservations": holds, "leases": leases}, "%s", strings.TrimSuffix(b.String(), "\n"))
}

// history lists the latest fleet rollouts and how they ended.
func (c *cmd) history(ctx context.Context, limit int) error {
	machine, err := c.machine(ctx, "maintain-fleet")
	if err != nil {
		return err
	}
	out, err := c.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &machine, MaxResults: int32(min(max(limit, 1), 1000))})
	if err != nil {
		return fmt.Errorf("listing rollouts: %w", err)
	}
	type entry struct {
		Name, Status, Outcome string
		Start                 time.Time
		Counts                map[string]int `json:",omitempty"`
	}
	var entries []entry
	var b strings.Builder
	for i, e := range out.Executions {
		if i >= limit {
			break
		}
		en := entry{Name: aws.ToString(e.Name), Status: string(e.Status), Start: aws.ToTime(e.StartDate)}
		if d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn}); err == nil {
			var sum struct {
				Outcome string         `json:"outcome"`
				Counts  map[string]int `json:"counts"`
			}
			if json.Unmarshal([]byte(aws.ToString(d.Output)), &sum) == nil {
				en.Outcome, en.Counts = sum.Outcome, sum.Counts
			} else if d.Error != nil {
				en.Outcome = aws.ToString(d.Error)
			}
		}
		entries = append(entries, en)
		fmt.Fprintf(&b, "%s  %-40s %-9s %s", en.Start.UTC().Format(time.RFC3339), en.Name, en.Status, en.Outcome)
		if en.Counts != nil {
			fmt.Fprintf(&b, " (%d planned, %d succeeded, %d failed, %d skipped)", en.Counts["planned"], en.Counts["succeeded"], en.Counts["failed"], en.Counts["skipped"])
		}
		b.WriteString("\n")
	}
	if len(entries) == 0 {
		b.WriteString("no rollouts yet\n")
	}
	return c.print(map[string]any{"rollouts": entries}, "%s", strings.TrimSuffix(b.String(), "\n"))
}

// abort stops the execution and waits until nothing it or its children held is still
// reserved: the restore (started by the stop's status change event, 90 s later) has put
// every instance back. It then says where each instance stands by the load balancer.
func (c *cmd) abort(ctx context.Context, ref string, timeout time.Duration) error {
	arn, err := c.execution(ctx, ref)
	if err != nil {
		return err
	}
	d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	if err != nil {
		return fmt.Errorf("describing %s: %w", arn, err)
	}
	if d.Status == sfntypes.ExecutionStatusRunning {
		if _, err := c.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &arn, Error: aws.String("OperatorAbort"),
			Cause: aws.String("stopped with drainpipe abort")}); err != nil {
			return fmt.Errorf("stopping %s: %w", arn, err)
		}
		fmt.Fprintf(c.env.Stderr, "stopped %s; waiting for its instances to be put back\n", arn)
	}
	deadline := time.Now().Add(timeout)
	f := &follower{sfn: c.sfn, traces: map[string]*trace{}}
	var end *sfn.DescribeExecutionOutput
	err = c.poll(ctx, func() (bool, error) {
		d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		if err != nil {
			return false, fmt.Errorf("describing %s: %w", arn, err)
		}
		v, err := c.progress(ctx, f, d)
		if err != nil {
			return false, err
		}
		if len(v.Out) == 0 && d.Status != sfntypes.ExecutionStatusRunning {
			end = d
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, failedError{fmt.Sprintf("after %v, still held out of service: %s (see drainpipe reservations)", timeout, strings.Join(v.Out, ", "))}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// Nothing held: every instance was put back, or could not be (stopped, terminated,
	// its group deleted). Say which, by the load balancer.
	missing, err := c.notRegistered(ctx, end)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return failedError{fmt.Sprintf("%s is %s and holds nothing, but NOT registered: %s", aws.ToString(end.Name), end.Status, strings.Join(missing, "; "))}
	}
	return c.print(map[string]any{"execution": arn, "status": end.Status, "outOfService": []string{}},
		"%s is %s; none of its instances is held out of service, and each is registered in its groups", aws.ToString(end.Name), end.Status)
}

// notRegistered lists the execution's instances that the load balancer does not have
// registered in a group they were in: a lone execution's instance in its input's groups
// (or, when it named none, any group), a rollout's planned instances in their groups.
func (c *cmd) notRegistered(ctx context.Context, d *sfn.DescribeExecutionOutput) ([]string, error) {
	type want struct{ id, group string }
	var wants []want
	instanceMachine, err := c.machine(ctx, "maintain-instance")
	if err != nil {
		return nil, err
	}
	if aws.ToString(d.StateMachineArn) == instanceMachine {
		var in workflow.Input
		_ = json.Unmarshal([]byte(aws.ToString(d.Input)), &in)
		for _, g := range in.TargetGroupARNs {
			wants = append(wants, want{in.InstanceID, g})
		}
	} else {
		meta, waves, err := c.rolloutOf(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, w := range waves {
			for _, item := range w.Instances {
				for _, gi := range item.Groups {
					if gi >= 0 && gi < len(meta.Groups) {
						wants = append(wants, want{item.InstanceID, meta.Groups[gi].ARN})
					}
				}
			}
		}
	}
	registered := map[string]map[string]bool{}
	var missing []string
	for _, w := range wants {
		if registered[w.group] == nil {
			states, err := targets.DescribeGroup(ctx, c.elb, w.group)
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s in %s (%v)", w.id, workflow.GroupName(w.group), err))
				continue
			}
			registered[w.group] = map[string]bool{}
			for _, s := range states {
				registered[w.group][s.ID] = true
			}
		}
		if !registered[w.group][w.id] {
			missing = append(missing, fmt.Sprintf("%s in %s", w.id, workflow.GroupName(w.group)))
		}
	}
	return missing, nil
}
