package lab_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/sfn"
	"github.com/drainpipe/drainpipe/lab/ssm"
	"github.com/drainpipe/drainpipe/lab/traffic"
	"github.com/drainpipe/drainpipe/schema"
)

// fleetLab: web (8080) holds instances 0-7, api (9090) holds 7-11 with 11 on port 9091.
func fleetConfig() lab.Config {
	cfg := lab.Demo()
	cfg.Instances = 12
	web := lab.GroupSpec{Name: "web", Port: 8080, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 30}
	for k := 0; k <= 7; k++ {
		web.Members = append(web.Members, lab.Member{Instance: k})
	}
	api := lab.GroupSpec{Name: "api", Port: 9090, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 20}
	for k := 7; k <= 10; k++ {
		api.Members = append(api.Members, lab.Member{Instance: k})
	}
	api.Members = append(api.Members, lab.Member{Instance: 11, Port: 9091})
	cfg.Groups = []lab.GroupSpec{web, api}
	return cfg
}

type fleetRun struct {
	lab     *lab.Lab
	result  sfn.Result
	totals  []traffic.Totals
	mu      sync.Mutex
	out     map[string][2]time.Time // instance -> deregistered, back
	summary struct {
		Outcome   string `json:"outcome"`
		Counts    struct{ Planned, Succeeded, Failed, Skipped, NotStarted int }
		Instances []struct {
			InstanceID string `json:"instanceId"`
			Wave       int    `json:"wave"`
			Succeeded  bool   `json:"succeeded"`
		} `json:"instances"`
		Plan struct {
			Groups []struct {
				ARN        string `json:"targetGroupArn"`
				MinHealthy int    `json:"minHealthy"`
				OwnFloor   int    `json:"ownFloor"`
				Zones      []struct {
					Zone       string `json:"zone"`
					MinHealthy int    `json:"minHealthy"`
				} `json:"zones"`
			} `json:"groups"`
			Waves []struct {
				InstanceIDs []string `json:"instanceIds"`
				Zone        string   `json:"zone"`
			} `json:"waves"`
		} `json:"plan"`
	}
}

func startLab(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	l, err := lab.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	if err := l.WaitAllHealthy(context.Background(), 120*time.Second); err != nil {
		t.Fatal(err)
	}
	return l
}

// rollout runs the fleet state machine under traffic on every group.
func rollout(t *testing.T, l *lab.Lab, name string, input map[string]any) *fleetRun {
	t.Helper()
	ctx := context.Background()
	r := &fleetRun{lab: l, out: map[string][2]time.Time{}}
	var gens []*traffic.Generator
	for _, url := range l.URLs {
		g := &traffic.Generator{URL: url, Rate: 100, Clients: 16}
		g.Start(ctx)
		gens = append(gens, g)
	}
	res, err := l.MaintainFleet(ctx, name, input, func(e sfn.Event) {
		if e.InstanceID == "" || e.Type != "StateEntered" {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		w := r.out[e.InstanceID]
		switch e.Name {
		case "DeregisterTarget":
			w[0] = time.Now()
		case "Summarize", "RestoreTarget":
			w[1] = time.Now()
		}
		r.out[e.InstanceID] = w
	})
	if err != nil {
		t.Fatal(err)
	}
	r.result = res
	for _, g := range gens {
		g.Stop()
		_, phases := g.Phases()
		r.totals = append(r.totals, phases[""])
	}
	if res.Succeeded {
		if err := schema.Validate(schema.FleetOutput, res.Output); err != nil {
			t.Errorf("the summary does not match its schema: %v\n%s", err, res.Output)
		}
		if err := json.Unmarshal(res.Output, &r.summary); err != nil {
			t.Fatalf("output %s: %v", res.Output, err)
		}
	}
	return r
}

// maxOut is the largest number of instances out of rotation at the same time.
func (r *fleetRun) maxOut() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	most := 0
	for _, a := range r.out {
		n := 0
		for _, b := range r.out {
			if !b[0].After(a[0]) && b[1].After(a[0]) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func fleetInput(l *lab.Lab, extra map[string]any) map[string]any {
	var arns []string
	for _, g := range l.Groups {
		arns = append(arns, g.ARN)
	}
	in := map[string]any{"targetGroupArns": arns, "maintenance": map[string]any{"action": "reboot"}, "pollSeconds": 2,
		"maxConcurrency": 3, "minHealthyPercent": 75}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

// assertKeptTheBudget checks a completed rollout against its own plan and the load
// balancer's record: every instance ran once, in the wave planned for it, and booted once
// (boots are the counts before the rollout); no wave was larger than maxConcurrency and no
// more were out at once; no group's healthy count fell below the plan's floor after start
// (lab seconds); the clients of every group lost no request. It returns the floors.
func (r *fleetRun) assertKeptTheBudget(t *testing.T, boots map[string]int, start float64, maxConcurrency int) map[string]int {
	t.Helper()
	l, s := r.lab, r.summary
	floors := map[string]int{}
	for _, g := range s.Plan.Groups {
		floors[g.ARN] = g.MinHealthy
	}
	planned := map[string]int{}
	for i, w := range s.Plan.Waves {
		if len(w.InstanceIDs) > maxConcurrency {
			t.Errorf("wave %d has %d instances > maxConcurrency %d", i, len(w.InstanceIDs), maxConcurrency)
		}
		for _, id := range w.InstanceIDs {
			planned[id] = i
		}
	}
	for _, res := range s.Instances {
		if w, ok := planned[res.InstanceID]; !ok || w != res.Wave {
			t.Errorf("%s ran in wave %d, planned %d (%v)", res.InstanceID, res.Wave, w, ok)
		}
	}
	for _, inst := range l.Instances {
		if inst.Boots() != boots[inst.ID]+1 {
			t.Errorf("%s booted %d times, want once", inst.ID, inst.Boots()-boots[inst.ID])
		}
	}
	if n := r.maxOut(); n > maxConcurrency {
		t.Errorf("%d instances out of rotation at once > maxConcurrency %d", n, maxConcurrency)
	}
	for i, g := range l.Groups {
		for _, sample := range g.History() {
			if sample.At >= start && sample.Healthy < floors[g.ARN] {
				t.Errorf("group %s had %d healthy targets at %.1f lab s, below its floor %d", g.Config().Name, sample.Healthy, sample.At, floors[g.ARN])
			}
		}
		if lost := r.totals[i].Failed(); lost != 0 || r.totals[i].Requests < 500 {
			t.Errorf("group %s: %d of %d requests lost", g.Config().Name, lost, r.totals[i].Requests)
		}
	}
	return floors
}

func TestFleetRolloutKeepsTheCapacityBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := fleetConfig()
	l := startLab(t, cfg)
	boots := map[string]int{}
	for _, inst := range l.Instances {
		boots[inst.ID] = inst.Boots()
	}
	start := l.Clock.Since()
	r := rollout(t, l, "budget", fleetInput(l, nil))
	if !r.result.Succeeded {
		t.Fatalf("%s: %s", r.result.Error, r.result.Cause)
	}
	s := r.summary
	if s.Outcome != "completed" || s.Counts.Succeeded != 12 || s.Counts.Failed != 0 {
		t.Errorf("summary %+v", s.Counts)
	}
	// Budgets: web 8 healthy keeps 6 (75%), api 5 keeps 4 (3.75 rounded up).
	floors := r.assertKeptTheBudget(t, boots, start, 3)
	if floors[l.Groups[0].ARN] != 6 || floors[l.Groups[1].ARN] != 4 {
		t.Errorf("floors %v, want web 6 and api 4", floors)
	}
	if err := l.WaitAllHealthy(context.Background(), 30*time.Second); err != nil {
		t.Error(err)
	}
	assertAllRegisteredAndHealthy(t, l.Registrations(), cfg)
	if items := leaseItems(l); len(items) != 0 {
		t.Errorf("leases left behind: %v", items)
	}
	if msgs := l.API.SNS.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Body, "12 succeeded, 0 failed") {
		t.Errorf("notification %+v", msgs)
	}
	// The maintained tag lets a later rollout skip them.
	again := rollout(t, l, "again", fleetInput(l, map[string]any{"skipIfMaintainedWithin": "7d", "dryRun": true}))
	if !again.result.Succeeded || again.summary.Counts.Skipped != 12 || again.summary.Counts.Planned != 0 {
		t.Errorf("resume: %+v, %s", again.summary.Counts, again.result.Cause)
	}
}

// TestRolloutOfSixtyRealInstances: the largest rollout of real lab instances (servers that
// reboot, behind the load balancer, under traffic) that CI's time allows: 60 instances in
// three groups of 20, ten at a time, each group kept at 80 %. Every instance is maintained
// once, the load balancer's record keeps every floor, no request is lost, and nothing is
// left held.
func TestRolloutOfSixtyRealInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := groupsOf(20, 20, 20)
	l := startLab(t, cfg)
	boots := map[string]int{}
	for _, inst := range l.Instances {
		boots[inst.ID] = inst.Boots()
	}
	start := l.Clock.Since()
	began := time.Now()
	r := rollout(t, l, "sixty", fleetInput(l, map[string]any{"maxConcurrency": 10, "minHealthyPercent": 80}))
	if !r.result.Succeeded {
		t.Fatalf("%s: %s", r.result.Error, r.result.Cause)
	}
	s := r.summary
	if s.Outcome != "completed" || s.Counts.Succeeded != 60 || s.Counts.Failed != 0 {
		t.Errorf("summary %s %+v", s.Outcome, s.Counts)
	}
	for arn, floor := range r.assertKeptTheBudget(t, boots, start, 10) {
		if floor != 16 {
			t.Errorf("%s: floor %d, want 16 (80 %% of 20)", arn, floor)
		}
	}
	if len(s.Plan.Waves) < 6 {
		t.Errorf("%d waves: 60 instances ten at a time need at least 6", len(s.Plan.Waves))
	}
	assertBack(t, l, cfg)
	if items := leaseItems(l); len(items) != 0 {
		t.Errorf("leases left behind: %v", items)
	}
	if msgs := l.API.SNS.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Body, "60 succeeded, 0 failed") {
		t.Errorf("notification %+v", msgs)
	}
	var requests int
	for _, tot := range r.totals {
		requests += tot.Requests
	}
	t.Logf("60 real instances, 3 groups, maxConcurrency 10: %d waves, 0 of %d requests lost, %v",
		len(s.Plan.Waves), requests, time.Since(began).Round(time.Second))
}

// leaseItems are the rollouts' leases in the capacity table.
func leaseItems(l *lab.Lab) []map[string]ddbtypes.AttributeValue {
	return capacityItems(l, "lease#")
}

// capacityItems are the capacity table's items whose key starts with prefix.
func capacityItems(l *lab.Lab, prefix string) []map[string]ddbtypes.AttributeValue {
	items, err := l.Items(context.Background(), lab.CapacityTable)
	if err != nil {
		panic(err)
	}
	var out []map[string]ddbtypes.AttributeValue
	for _, it := range items {
		if pk, ok := it["pk"].(*ddbtypes.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, prefix) {
			out = append(out, it)
		}
	}
	return out
}

func putItem(t *testing.T, l *lab.Lab, table string, item map[string]ddbtypes.AttributeValue) {
	t.Helper()
	cfg, err := l.API.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := awsdynamodb.NewFromConfig(cfg).PutItem(context.Background(), &awsdynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
}

func TestFleetStopsWhenErrorsExceedTheBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := groupsOf(6)
	l := startLab(t, cfg)
	bad := l.Instances[2] // wave 2 of 3 (instances are planned in id order, two a wave)
	l.SSM.SetFaults(bad.ID, ssm.Faults{FailWith: 1, Stderr: "yum: cannot lock the database"})
	boots := map[string]int{}
	for _, inst := range l.Instances {
		boots[inst.ID] = inst.Boots()
	}
	r := rollout(t, l, "errors", fleetInput(l, map[string]any{"maxConcurrency": 2, "minHealthyPercent": 50, "maxErrors": 0}))
	if r.result.Succeeded || r.result.Error != "RolloutAborted" {
		t.Fatalf("result %v %s, want RolloutAborted", r.result.Succeeded, r.result.Error)
	}
	for _, want := range []string{"FAILED " + bad.ID, "MaintenanceFailed", "yum: cannot lock the database", "registered again and healthy", "not started: " + l.Instances[4].ID + ", " + l.Instances[5].ID} {
		if !strings.Contains(r.result.Cause, want) {
			t.Errorf("cause lacks %q:\n%s", want, r.result.Cause)
		}
	}
	for k, inst := range l.Instances {
		want := boots[inst.ID]
		if k < 4 && k != 2 {
			want++
		}
		if inst.Boots() != want {
			t.Errorf("instance %d booted %d times, want %d", k, inst.Boots()-boots[inst.ID], want-boots[inst.ID])
		}
	}
	// The failed instance was put back by its own execution; nothing is left out.
	if err := l.WaitAllHealthy(context.Background(), 30*time.Second); err != nil {
		t.Error(err)
	}
	assertAllRegisteredAndHealthy(t, l.Registrations(), cfg)
	if len(leaseItems(l)) != 0 {
		t.Error("the aborted rollout left its leases")
	}
	if lost := r.totals[0].Failed(); lost != 0 {
		t.Errorf("%d requests lost", lost)
	}
}

func TestOverlappingRolloutsAndExpiredLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	ctx := context.Background()
	first := make(chan sfn.Result, 1)
	go func() {
		res, _ := l.MaintainFleet(ctx, "first", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50}), nil)
		first <- res
	}()
	if err := l.WaitUntil(ctx, 60*time.Second, func() bool { return len(leaseItems(l)) == 1 }); err != nil {
		t.Fatal("the first rollout never took its lease")
	}
	second, err := l.MaintainFleet(ctx, "second", fleetInput(l, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Succeeded || second.Error != "RolloutInProgress" || !strings.Contains(second.Cause, "execution:drainpipe-maintain-fleet:first") {
		t.Errorf("second rollout: %v %s: %s", second.Succeeded, second.Error, second.Cause)
	}
	if slices.Contains(second.States, "RunWave") {
		t.Errorf("the second rollout started a wave: %v", second.States)
	}
	if items := leaseItems(l); len(items) != 1 || !strings.HasSuffix(items[0]["holder"].(*ddbtypes.AttributeValueMemberS).Value, ":first") {
		t.Errorf("the lease after the refused rollout: %v", items)
	}
	// Refused before any change: it started no instance's execution.
	for _, d := range l.SFN.List(lab.InstanceStateMachineARN, "") {
		if strings.HasPrefix(d.Name, "second-") {
			t.Errorf("the refused rollout started %s", d.Name)
		}
	}
	res := <-first
	if !res.Succeeded {
		t.Fatalf("first rollout: %s: %s", res.Error, res.Cause)
	}
	if len(leaseItems(l)) != 0 {
		t.Error("leases left after the first rollout")
	}

	// A crashed run's expired lease is taken over.
	crashed, past := "arn:aws:states:us-east-1:123456789012:execution:drainpipe-maintain-fleet:crashed", "1"
	arn := l.Groups[0].ARN
	putItem(t, l, lab.CapacityTable, map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "lease#" + arn},
		"targetGroupArn": &ddbtypes.AttributeValueMemberS{Value: arn},
		"holder":         &ddbtypes.AttributeValueMemberS{Value: crashed}, "expiresAt": &ddbtypes.AttributeValueMemberN{Value: past}})
	res, err = l.MaintainFleet(ctx, "after-crash", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50, "dryRun": true}), nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("dry run after a crash: %v %s %s", err, res.Error, res.Cause)
	}
	res, err = l.MaintainFleet(ctx, "takeover", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50, "instanceIds": []string{l.Instances[0].ID}}), nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("rollout over an expired lease: %v %s %s", err, res.Error, res.Cause)
	}
	if len(leaseItems(l)) != 0 {
		t.Error("the taken-over lease was not released")
	}
}

func TestFleetDryRunAndRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := startLab(t, lab.Demo())
	l.SetUnmanaged(l.Instances[1].ID, true)
	// An instance without the deployment's instanceTag: drainpipe may not command it.
	if err := l.CreateTags([]string{l.Instances[2].ID}, map[string]string{lab.InstanceTag.Key: "disabled"}); err != nil {
		t.Fatal(err)
	}
	r := rollout(t, l, "dry", fleetInput(l, map[string]any{"dryRun": true, "maxConcurrency": 1, "minHealthyPercent": 50}))
	if !r.result.Succeeded || r.summary.Outcome != "dry-run" || r.summary.Counts.Planned != 1 || r.summary.Counts.Skipped != 2 {
		t.Errorf("dry run: %+v %s", r.summary, r.result.Output)
	}
	for _, want := range []string{"not managed by SSM", "not tagged " + lab.InstanceTag.String()} {
		if !strings.Contains(string(r.result.Output), want) {
			t.Errorf("the skip reason %q is missing: %s", want, r.result.Output)
		}
	}
	if err := l.CreateTags([]string{l.Instances[2].ID}, map[string]string{lab.InstanceTag.Key: lab.InstanceTag.Value}); err != nil {
		t.Fatal(err)
	}
	assertNoChange(t, l)
	if len(leaseItems(l)) != 0 || len(l.API.SNS.Messages()) != 0 {
		t.Error("a dry run took leases or notified")
	}
	l.SetUnmanaged(l.Instances[1].ID, false)
	refused := rollout(t, l, "budget", fleetInput(l, map[string]any{"minHealthyPercent": 100}))
	if refused.result.Succeeded || refused.result.Error != "CapacityBudgetExceeded" {
		t.Errorf("minHealthyPercent 100: %v %s", refused.result.Succeeded, refused.result.Error)
	}
	for name, extra := range map[string]map[string]any{
		"bad":   {"maxConcurrency": -2},
		"empty": {"instanceIds": []string{}},
		"wide":  {"maxConcurrency": 41},
		"dup":   {"targetGroupArns": []string{l.Groups[0].ARN, l.Groups[0].ARN}},
	} {
		bad := rollout(t, l, name, fleetInput(l, extra))
		if bad.result.Error != "InvalidInput" || strings.HasPrefix(errorMessage(t, bad.result.Cause), "InvalidInput") {
			t.Errorf("%s: %s: %s", name, bad.result.Error, bad.result.Cause)
		}
	}
	assertNoChange(t, l)
	if len(leaseItems(l)) != 0 {
		t.Error("a refused rollout took leases")
	}
}

// TestRolloutProblemsFailTheExecution: a rollout whose notification cannot be sent (SNS
// throttles every Publish, past the SDK's retries) still maintains every instance and
// records its summary, but the execution fails with RolloutProblems, whose cause (the
// summary's text) says what went wrong, so the failure notification carries it.
func TestRolloutProblemsFailTheExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	cfg := lab.Demo()
	l := startLab(t, cfg)
	l.API.Throttle("Publish", 1)
	r := rollout(t, l, "unheard", fleetInput(l, map[string]any{"maxConcurrency": 1, "minHealthyPercent": 50}))
	if r.result.Succeeded || r.result.Error != "RolloutProblems" || !strings.Contains(r.result.Cause, "PROBLEM notifying") ||
		!strings.Contains(r.result.Cause, "3 succeeded, 0 failed") {
		t.Fatalf("rollout: succeeded %v, %s: %s", r.result.Succeeded, r.result.Error, r.result.Cause)
	}
	if calls := l.API.Calls()["Publish"]; calls < 3 {
		t.Errorf("Publish was called %d times: the SDK's retries did not run", calls)
	}
	if err := l.WaitAllHealthy(context.Background(), 30*time.Second); err != nil {
		t.Error(err)
	}
	assertAllRegisteredAndHealthy(t, l.Registrations(), cfg)
	if len(leaseItems(l)) != 0 {
		t.Error("leases left after the rollout")
	}
	if lost := r.totals[0].Failed(); lost != 0 {
		t.Errorf("%d requests lost", lost)
	}
}

// TestHundredsOfInstances plans a rollout over 240 instances in three groups (the third
// overlapping the other two) with the real fleet state machine, as a dry run.
func TestHundredsOfInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	cfg := lab.Demo()
	cfg.Scale = 0.2 // 240 targets' health checks at a pace two cores keep up with
	cfg.Instances = 240
	a := lab.GroupSpec{Name: "a", Port: 8080, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 30}
	b := lab.GroupSpec{Name: "b", Port: 8080, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 30}
	c := lab.GroupSpec{Name: "c", Port: 9090, HealthCheck: lab.PostHealthCheck, DeregistrationDelaySeconds: 30}
	for k := range 240 {
		if k < 120 {
			a.Members = append(a.Members, lab.Member{Instance: k})
		} else {
			b.Members = append(b.Members, lab.Member{Instance: k})
		}
		if k%4 == 0 {
			c.Members = append(c.Members, lab.Member{Instance: k})
		}
	}
	cfg.Groups = []lab.GroupSpec{a, b, c}
	l := startLab(t, cfg)
	start := time.Now()
	res, err := l.MaintainFleet(context.Background(), "hundreds", fleetInput(l, map[string]any{"dryRun": true, "maxConcurrency": 20, "minHealthyPercent": 90}), nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("%v %s %s", err, res.Error, res.Cause)
	}
	t.Logf("planned 240 instances in %v", time.Since(start).Round(time.Millisecond))
	var out struct {
		Counts struct{ Planned int }
		Plan   struct {
			Groups []struct{ Healthy, MinHealthy, MaxOut int }
			Waves  []struct {
				InstanceIDs []string `json:"instanceIds"`
			}
		}
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatal(err)
	}
	// a and b: 120 healthy keep 108, out 12; c: 60 keep 54, out 6.
	want := [][3]int{{120, 108, 12}, {120, 108, 12}, {60, 54, 6}}
	for i, g := range out.Plan.Groups {
		if [3]int{g.Healthy, g.MinHealthy, g.MaxOut} != want[i] {
			t.Errorf("group %d: %+v, want %v", i, g, want[i])
		}
	}
	inC := map[string]bool{}
	for _, m := range c.Members {
		inC[l.Instances[m.Instance].ID] = true
	}
	total := 0
	for i, w := range out.Plan.Waves {
		total += len(w.InstanceIDs)
		n := 0
		for _, id := range w.InstanceIDs {
			if inC[id] {
				n++
			}
		}
		if len(w.InstanceIDs) > 20 || n > 6 {
			t.Errorf("wave %d: %d instances, %d of group c", i, len(w.InstanceIDs), n)
		}
	}
	if out.Counts.Planned != 240 || total != 240 {
		t.Errorf("planned %d (%d in waves), want 240", out.Counts.Planned, total)
	}
}
