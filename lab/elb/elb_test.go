package elb

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/instance"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// scale: one lab second is 10 ms, so a 1 s interval ticks every 10 ms.
const scale = 0.01

type fleet map[string]*instance.Instance

func (f fleet) Address(id string) (string, bool) {
	i, ok := f[id]
	if !ok {
		return "", false
	}
	return i.IP, true
}

type env struct {
	t     *testing.T
	clock *clock.Clock
	lb    *LoadBalancer
	group *Group
	url   string
	fleet fleet
}

// newEnv: n instances registered in one group (interval 1 s, timeout 1 s, thresholds 2/2,
// delay 5 s) and healthy.
func newEnv(t *testing.T, n int) *env {
	t.Helper()
	c := clock.New(scale)
	f := fleet{}
	var refs []TargetRef
	for k := range n {
		id := fmt.Sprintf("i-%017x", k+1)
		inst := instance.New(id, "127.0.0.1", []int{0}, 3, c)
		if err := inst.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(inst.Stop)
		f[id] = inst
		refs = append(refs, TargetRef{ID: id, Port: int32(inst.Ports[0])})
	}
	lb := New(c, f, "eu-west-1", "123456789012")
	t.Cleanup(lb.Close)
	g := lb.CreateTargetGroup(GroupConfig{Name: "web", Port: 8080,
		HealthCheck: HealthCheck{IntervalSeconds: 1, TimeoutSeconds: 1, HealthyThreshold: 2, UnhealthyThreshold: 2}, DeregistrationDelaySeconds: 5})
	url, err := g.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.RegisterTargets(g.ARN, refs); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: c, lb: lb, group: g, url: url, fleet: f}
	for _, r := range refs {
		e.waitState(r, StateHealthy, 10)
	}
	return e
}

func (e *env) ref(k int) TargetRef {
	id := fmt.Sprintf("i-%017x", k+1)
	return TargetRef{ID: id, Port: int32(e.fleet[id].Ports[0])}
}

func (e *env) state(r TargetRef) TargetHealth {
	e.t.Helper()
	th, err := e.lb.DescribeTargetHealth(e.group.ARN, []TargetRef{r})
	if err != nil {
		e.t.Fatal(err)
	}
	return th[0]
}

// patience bounds the waits whose length is not under test: long enough never to fail a
// working lab on a loaded machine, short enough that a broken one fails instead of hanging.
const patience = 5 * time.Second

// waitState waits up to labSeconds for the target to reach the state.
func (e *env) waitState(r TargetRef, state string, labSeconds float64) TargetHealth {
	e.t.Helper()
	var th TargetHealth
	labtest.WaitFor(e.t, e.clock.Seconds(labSeconds), time.Millisecond, fmt.Sprintf("%s:%d to be %s (%g lab seconds)", r.ID, r.Port, state, labSeconds), func() (bool, any) {
		th = e.state(r)
		return th.State == state, th
	})
	return th
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	code, body, err := e.fetch(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return code, body
}

// fetch is get for goroutines other than the test's: it returns the error.
func (e *env) fetch(path string) (int, string, error) {
	resp, err := http.Get(e.url + strings.TrimPrefix(path, "/"))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func TestRegisteredTargetIsInitialThenHealthyAfterOneCheck(t *testing.T) {
	e := newEnv(t, 2)
	r := e.ref(0)
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
		t.Fatal(err)
	}
	e.waitState(r, StateUnused, 10)
	if err := e.lb.RegisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
		t.Fatal(err)
	}
	if th := e.state(r); th.State != StateInitial || th.Reason != ReasonRegistrationInProgress {
		t.Fatalf("just registered: %+v, want initial/%s", th, ReasonRegistrationInProgress)
	}
	// No traffic while initial: a request sent and answered while the target was initial
	// throughout must have gone elsewhere. Requests go back to back (no pause) until the
	// target leaves initial or patience runs out; waitState then fails if it is still
	// initial.
	for deadline := time.Now().Add(patience); e.state(r).State == StateInitial && time.Now().Before(deadline); {
		_, body := e.get("/")
		if strings.Contains(body, r.ID) && e.state(r).State == StateInitial {
			t.Fatal("an initial target got a request")
		}
	}
	e.waitState(r, StateHealthy, 3)

	// One passing check, not HealthyThreshold of them: in a group with threshold 5 a new
	// target is healthy well before 5 intervals.
	slow := e.lb.CreateTargetGroup(GroupConfig{Name: "five", Port: 8080,
		HealthCheck: HealthCheck{IntervalSeconds: 1, TimeoutSeconds: 1, HealthyThreshold: 5, UnhealthyThreshold: 2}})
	start := time.Now()
	if err := e.lb.RegisterTargets(slow.ARN, []TargetRef{r}); err != nil {
		t.Fatal(err)
	}
	// The wait is not bounded by the 4 lab seconds: the assertion below says how long it
	// took.
	labtest.WaitFor(t, patience, time.Millisecond, "the target to be healthy in the threshold-5 group", func() (bool, any) {
		th, err := e.lb.DescribeTargetHealth(slow.ARN, []TargetRef{r})
		if err != nil {
			t.Fatal(err)
		}
		return th[0].State == StateHealthy, th[0]
	})
	if took := e.clock.Lab(time.Since(start)).Seconds(); took >= 4 {
		t.Errorf("healthy after %.1f lab seconds; one check (interval 1 s) should do, not 5", took)
	}
}

func TestDrainingKeepsInFlightAndShowsDrainingForTheWholeDelay(t *testing.T) {
	e := newEnv(t, 2)
	r := e.ref(0)
	// A long request to the first instance, in flight when it is deregistered: ask the
	// instance through the load balancer until the round robin lands on it (until
	// patience runs out: the goroutine cannot fail the test, it reports what it got).
	var wg sync.WaitGroup
	var code int
	var body string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for deadline := time.Now().Add(patience); ; {
			c, b, err := e.fetch("/slow?seconds=3")
			switch {
			case err != nil:
				code, body = 0, err.Error()
				return
			case strings.Contains(b, r.ID) || c != 200:
				code, body = c, b
				return
			case time.Now().After(deadline):
				code, body = 0, "the round robin never sent a request to "+r.ID
				return
			}
		}
	}()
	labtest.WaitFor(t, patience, time.Millisecond, "a request in flight on "+r.ID, func() (bool, any) {
		n := e.fleet[r.ID].InFlight()
		return n > 0, fmt.Sprintf("%d in flight", n)
	})
	start := time.Now()
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
		t.Fatal(err)
	}
	if th := e.state(r); th.State != StateDraining || th.Reason != ReasonDeregistrationInProcess {
		t.Fatalf("after deregistration: %+v", th)
	}
	// New requests go elsewhere.
	for range 20 {
		if _, b := e.get("/"); strings.Contains(b, r.ID) {
			t.Fatal("a draining target got a new request")
		}
	}
	wg.Wait()
	if code != 200 {
		t.Fatalf("in-flight request during draining: %d %q", code, body)
	}
	// Still draining after the request finished: the whole 5 s delay.
	if th := e.state(r); th.State != StateDraining {
		t.Fatalf("after in-flight requests finished: %+v, want draining until the delay ends", th)
	}
	e.waitState(r, StateUnused, 8)
	if took := e.clock.Lab(time.Since(start)).Seconds(); took < 5 {
		t.Errorf("unused after %.1f lab seconds, before the 5 s delay", took)
	}
	if th := e.state(r); th.Reason != ReasonNotRegistered {
		t.Errorf("after draining: %+v", th)
	}
	all, _ := e.lb.DescribeTargetHealth(e.group.ARN, nil)
	if len(all) != 1 {
		t.Errorf("whole-group describe lists %d targets, want 1", len(all))
	}
}

// TestInFlightRequestIsCutWhenTheDelayEnds: a request longer than the deregistration
// delay (30 s against 5 s) fails with a 502 when the delay ends, not before and not at its
// own end.
func TestInFlightRequestIsCutWhenTheDelayEnds(t *testing.T) {
	e := newEnv(t, 1)
	r := e.ref(0)
	done := make(chan int, 1)
	go func() { c, _, _ := e.fetch("/slow?seconds=30"); done <- c }()
	labtest.WaitFor(t, patience, time.Millisecond, "the request in flight on "+r.ID, func() (bool, any) {
		n := e.fleet[r.ID].InFlight()
		return n > 0, fmt.Sprintf("%d in flight", n)
	})
	start := time.Now()
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusBadGateway {
		t.Errorf("request still running when the delay ended: %d, want 502", code)
	}
	if took := e.clock.Lab(time.Since(start)).Seconds(); took < 5 || took >= 30 {
		t.Errorf("the request ended %.1f lab seconds after the deregistration; want at the 5 s delay's end", took)
	}
}

// TestDeregistrationPropagates: with a propagation time, a deregistered target shows
// draining at once but still gets its share of new requests until the time has passed,
// then none; a request it took meanwhile is cut when the delay ends. Without one (the
// default), it gets none from the start.
func TestDeregistrationPropagates(t *testing.T) {
	const delay, slow = 50, 58 // lab seconds; the slow requests stay under the idle timeout
	for _, tt := range []struct {
		name        string
		propagation float64 // lab seconds
		share       int     // of 6 requests right after the deregistration
	}{
		{"none", 0, 0},
		{"30 s", 30, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 2)
			e.lb.SetPropagation(tt.propagation)
			e.group = e.lb.CreateTargetGroup(GroupConfig{Name: "slow-drain", Port: 8080,
				HealthCheck: HealthCheck{IntervalSeconds: 1, TimeoutSeconds: 1, HealthyThreshold: 2, UnhealthyThreshold: 2}, DeregistrationDelaySeconds: delay})
			url, err := e.group.Listen()
			if err != nil {
				t.Fatal(err)
			}
			e.url = url
			r, other := e.ref(0), e.ref(1)
			if err := e.lb.RegisterTargets(e.group.ARN, []TargetRef{r, other}); err != nil {
				t.Fatal(err)
			}
			e.waitState(r, StateHealthy, 10)
			e.waitState(other, StateHealthy, 10)

			type result struct {
				code int
				at   float64 // lab seconds after the deregistration
			}
			results := make(chan result, 2)
			start := time.Now()
			if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{r}); err != nil {
				t.Fatal(err)
			}
			if th := e.state(r); th.State != StateDraining || th.Reason != ReasonDeregistrationInProcess {
				t.Fatalf("right after DeregisterTargets: %+v, want draining", th)
			}
			if tt.share > 0 {
				// Two slow requests: the round robin alternates, so one lands on the
				// target and is cut when the delay ends, the other is answered.
				for range 2 {
					go func() {
						code, _, _ := e.fetch(fmt.Sprintf("/slow?seconds=%d", slow))
						results <- result{code, e.clock.Lab(time.Since(start)).Seconds()}
					}()
				}
				labtest.WaitFor(t, patience, time.Millisecond, "both slow requests in flight", func() (bool, any) {
					n, m := e.fleet[r.ID].InFlight(), e.fleet[other.ID].InFlight()
					return n > 0 && m > 0, fmt.Sprintf("%d and %d in flight", n, m)
				})
			}
			served := 0
			for range 6 {
				if _, body := e.get("/"); strings.Contains(body, r.ID) {
					served++
				}
			}
			if took := e.clock.Lab(time.Since(start)).Seconds(); tt.share > 0 && took >= tt.propagation {
				t.Fatalf("the requests took %.1f lab seconds, past the %g s propagation: the test cannot tell", took, tt.propagation)
			}
			if served != tt.share {
				t.Errorf("right after the deregistration the target got %d of 6 new requests, want %d", served, tt.share)
			}
			// Past the propagation: no new request, while still draining.
			time.Sleep(time.Until(start.Add(e.clock.Seconds(tt.propagation))))
			for range 20 {
				if _, body := e.get("/"); strings.Contains(body, r.ID) {
					t.Fatalf("%.1f lab seconds after the deregistration, past the propagation, the target got a new request", e.clock.Lab(time.Since(start)).Seconds())
				}
			}
			if th := e.state(r); th.State != StateDraining {
				t.Fatalf("the delay ended before the test did: %+v", th)
			}
			if tt.share == 0 {
				return
			}
			got := []result{<-results, <-results}
			slices.SortFunc(got, func(a, b result) int { return a.code - b.code })
			if got[0].code != http.StatusOK || got[1].code != http.StatusBadGateway || got[1].at < delay || got[1].at >= slow {
				t.Errorf("the two slow requests: %+v; want a 200 and a 502 at the %d s delay's end", got, delay)
			}
		})
	}
}

func TestRebootWithoutDrainingGives502UntilUnhealthy(t *testing.T) {
	e := newEnv(t, 2)
	r := e.ref(0)
	e.fleet[r.ID].Reboot()
	saw502 := false
	deadline := time.Now().Add(e.clock.Seconds(4))
	for time.Now().Before(deadline) && !saw502 {
		code, _ := e.get("/")
		saw502 = code == http.StatusBadGateway
	}
	if !saw502 {
		t.Fatal("no 502 while a rebooting target was still considered healthy")
	}
	th := e.waitState(r, StateUnhealthy, 4)
	if th.Reason != ReasonFailedHealthChecks {
		t.Errorf("unhealthy reason %q, want %s", th.Reason, ReasonFailedHealthChecks)
	}
	for range 20 {
		if code, _ := e.get("/"); code != 200 {
			t.Fatalf("got %d after the target was marked unhealthy", code)
		}
	}
	// Back after the reboot (3 lab s): healthy again after HealthyThreshold checks.
	e.waitState(r, StateHealthy, 8)
}

func TestFailOpenAndUnhealthyReasons(t *testing.T) {
	e := newEnv(t, 2)
	for k := range 2 {
		e.fleet[e.ref(k).ID].SetFaults(instance.Faults{RequestSeconds: 2})
	}
	for k := range 2 {
		if th := e.waitState(e.ref(k), StateUnhealthy, 6); th.Reason != ReasonTimeout {
			t.Errorf("slow target unhealthy with %q, want %s", th.Reason, ReasonTimeout)
		}
	}
	// Every target unhealthy: the group fails open and still answers.
	if code, body := e.get("/"); code != 200 || !strings.HasPrefix(body, "Hello, World! From i-") {
		t.Errorf("fail-open: %d %q", code, body)
	}
}

func TestSlowTargetGives504(t *testing.T) {
	e := newEnv(t, 1)
	if code, _ := e.get(fmt.Sprintf("/slow?seconds=%d", IdleTimeoutSeconds+5)); code != http.StatusGatewayTimeout {
		t.Errorf("target silent past the idle timeout: %d, want 504", code)
	}
}

func TestResponseCodeMismatch(t *testing.T) {
	e := newEnv(t, 1)
	r := e.ref(0)
	e.fleet[r.ID].SetFaults(instance.Faults{UnhealthyAfterReboot: true})
	e.fleet[r.ID].Stop()
	if err := e.fleet[r.ID].Start(); err != nil {
		t.Fatal(err)
	}
	if th := e.waitState(r, StateUnhealthy, 5); th.Reason != ReasonResponseCodeMismatch {
		t.Errorf("500 answers: %+v, want %s", th, ReasonResponseCodeMismatch)
	}
}

func TestAPIErrorsAndIdempotence(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := e.lb.DescribeTargetHealth(e.group.ARN+"0", nil); err == nil || err.(*APIError).Code != "TargetGroupNotFound" {
		t.Errorf("unknown group: %v", err)
	}
	if err := e.lb.RegisterTargets(e.group.ARN, []TargetRef{{ID: "i-0000000000000dead"}}); err == nil || err.(*APIError).Code != "InvalidTarget" {
		t.Errorf("unknown instance: %v", err)
	}
	// Deregistering what is not registered succeeds silently.
	r := e.ref(0)
	if err := e.lb.DeregisterTargets(e.group.ARN, []TargetRef{{ID: r.ID, Port: 1}}); err != nil {
		t.Errorf("deregistering an unregistered port: %v", err)
	}
	if th := e.state(r); th.State != StateHealthy {
		t.Errorf("the registration on the real port changed: %+v", th)
	}
	// Registering a registered target changes nothing.
	if err := e.lb.RegisterTargets(e.group.ARN, []TargetRef{r}); err != nil || e.state(r).State != StateHealthy {
		t.Errorf("re-registering a healthy target: %v, %+v", err, e.state(r))
	}
	for _, tt := range []struct {
		matcher string
		code    int
		want    bool
	}{{"200", 200, true}, {"200", 204, false}, {"200-299", 204, true}, {"200,302", 302, true}, {"200,302", 301, false}} {
		if got := matches(tt.matcher, tt.code); got != tt.want {
			t.Errorf("matches(%q, %d) = %v", tt.matcher, tt.code, got)
		}
	}
	_ = context.Background
}

func TestDescribeTargetGroupsPages(t *testing.T) {
	e := newEnv(t, 1)
	for k := range 4 {
		e.lb.CreateTargetGroup(GroupConfig{Name: fmt.Sprintf("g%d", k), Port: 80, HealthCheck: HealthCheck{IntervalSeconds: 5, TimeoutSeconds: 2, HealthyThreshold: 2, UnhealthyThreshold: 2}})
	}
	var all []GroupDescription
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("still paging after %d pages of 2 (5 groups); marker %q", pages, marker)
		}
		page, next, err := e.lb.DescribeTargetGroups(nil, marker, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		marker = next
	}
	if len(all) != 5 {
		t.Errorf("paged through %d groups, want 5", len(all))
	}
	if _, _, err := e.lb.DescribeTargetGroups([]string{e.group.ARN, "arn:nope"}, "", 0); err == nil {
		t.Error("a missing ARN among several: no error")
	}
}
