package traffic

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab/labtest"
)

// phaseReaches waits until the generator has recorded at least n requests in the phase
// and, when codes are named, at least one answer with each of them. It returns how long
// that took.
func phaseReaches(t *testing.T, g *Generator, phase string, n int, codes ...int) time.Duration {
	t.Helper()
	return labtest.WaitFor(t, 10*time.Second, 2*time.Millisecond, fmt.Sprintf("%d requests in phase %q with codes %v", n, phase, codes), func() (bool, any) {
		_, phases := g.Phases()
		p := phases[phase]
		if p.Requests < n {
			return false, p
		}
		for _, c := range codes {
			if p.Codes[c] == 0 {
				return false, p
			}
		}
		return true, p
	})
}

func TestGeneratorCountsCodesPerPhase(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("Hello, World! From i-1\n"))
	}))
	defer srv.Close()
	g := &Generator{URL: srv.URL, Rate: 400, Clients: 8}
	// Each phase runs until it has 50 requests with both codes; at 400 a second that
	// must take no more than 300 ms.
	g.SetPhase("one")
	g.Start(context.Background())
	took := map[string]time.Duration{"one": phaseReaches(t, g, "one", 50, 200, 502)}
	g.SetPhase("two")
	took["two"] = phaseReaches(t, g, "two", 50, 200, 502)
	g.Stop()
	for phase, d := range took {
		if d > 300*time.Millisecond {
			t.Errorf("phase %s: 50 requests took %v at 400 a second, more than 300 ms", phase, d)
		}
	}
	order, phases := g.Phases()
	if len(order) != 2 || order[0] != "one" || order[1] != "two" {
		t.Fatalf("phases %v", order)
	}
	total := 0
	for _, name := range order {
		p := phases[name]
		total += p.Requests
		if p.Requests < 50 || p.Codes[502] == 0 || p.Codes[200] == 0 || p.Failed() != p.Codes[502] {
			t.Errorf("phase %s: %+v", name, p)
		}
	}
	if int64(total) != n.Load() {
		t.Errorf("recorded %d requests, server saw %d", total, n.Load())
	}
	secs := g.Seconds()
	if len(secs) == 0 || secs[0].Requests == 0 || secs[0].P50 <= 0 || secs[0].P99 < secs[0].P50 {
		t.Errorf("seconds = %+v", secs)
	}
}

func TestWrongBodyIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>oops")) }))
	defer srv.Close()
	g := &Generator{URL: srv.URL, Rate: 100, Clients: 2}
	g.Start(context.Background())
	phaseReaches(t, g, "", 5)
	g.Stop()
	_, phases := g.Phases()
	if p := phases[""]; p.Requests == 0 || p.Codes[Error] != p.Requests {
		t.Errorf("a 200 without the service's answer must count as an error: %+v", p)
	}
}

func TestClosedLoopClients(t *testing.T) {
	var inflight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		_, _ = w.Write([]byte("Hello, World! From i-1\n"))
	}))
	defer srv.Close()
	g := &Generator{URL: srv.URL, Clients: 4}
	g.Start(context.Background())
	// 100 answers, each taking 2 ms, within 200 ms: more than one client at a time.
	if took := phaseReaches(t, g, "", 100); took > 200*time.Millisecond {
		t.Errorf("closed loop of 4 clients: 100 requests took %v, more than 200 ms", took)
	}
	g.Stop()
	_, phases := g.Phases()
	if p := phases[""]; p.Requests < 100 || p.Failed() != 0 || most.Load() > 4 || most.Load() < 2 {
		t.Errorf("closed loop of 4 clients: %+v, at most %d in flight", p, most.Load())
	}
}
