// Package traffic owns the lab's load generator: client requests through the load
// balancer at a set rate with a bounded number of concurrent clients, recorded per
// second (requests, status codes, latency percentiles), the local equivalent of the
// post's curl loop and of ALB's RequestCount and HTTPCode_ELB_5XX_Count.
package traffic

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Error is the status recorded for a request that got no HTTP answer at all.
const Error = 0

// Generator sends requests and records what came back.
type Generator struct {
	// URL is the load balancer's address.
	URL string
	// Rate is requests per real second. Zero means closed loop: Clients clients each
	// sending their next request as soon as the last one is answered.
	Rate float64
	// Clients is the number of concurrent clients; with a Rate it bounds the requests in
	// flight, and a tick that finds every client busy is skipped and counted in Skipped.
	Clients int
	// Timeout bounds one request.
	Timeout time.Duration

	client *http.Client
	start  time.Time
	stop   context.CancelFunc
	done   sync.WaitGroup

	mu      sync.Mutex
	seconds []*second
	skipped int
	phase   string
	phases  map[string]*Totals
	order   []string
}

// Totals counts the requests of a phase.
type Totals struct {
	Requests int
	// Codes counts answers by HTTP status; Error counts requests without an answer.
	Codes map[int]int
}

// Failed is the number of requests that did not get a 2xx answer.
func (t Totals) Failed() int { return failed(t.Codes) }

type second struct {
	codes     map[int]int
	latencies []time.Duration
}

// Second is what happened during one real second of traffic.
type Second struct {
	// At is seconds since the traffic started.
	At       int
	Requests int
	// Codes counts answers by HTTP status; Error counts requests without an answer.
	Codes map[int]int
	P50   time.Duration
	P99   time.Duration
}

// Failed is the number of requests that did not get a 2xx answer.
func (s Second) Failed() int { return failed(s.Codes) }

func failed(codes map[int]int) int {
	n := 0
	for code, c := range codes {
		if code < 200 || code > 299 {
			n += c
		}
	}
	return n
}

// SetPhase labels the requests sent from now on; Phases counts them per label.
func (g *Generator) SetPhase(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.phase = name
}

// Phases returns the totals per phase label, in the order the labels were first used.
func (g *Generator) Phases() ([]string, map[string]Totals) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]Totals{}
	for name, t := range g.phases {
		codes := map[int]int{}
		for c, n := range t.Codes {
			codes[c] = n
		}
		out[name] = Totals{Requests: t.Requests, Codes: codes}
	}
	return slices.Clone(g.order), out
}

// Start begins sending requests until Stop or ctx ends.
func (g *Generator) Start(ctx context.Context) {
	if g.Clients <= 0 {
		g.Clients = 16
	}
	if g.Timeout <= 0 {
		g.Timeout = 10 * time.Second
	}
	g.client = &http.Client{Timeout: g.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: g.Clients, MaxConnsPerHost: g.Clients}}
	ctx, g.stop = context.WithCancel(ctx)
	g.start = time.Now()
	if g.Rate <= 0 {
		for range g.Clients {
			g.done.Add(1)
			go func() {
				defer g.done.Done()
				for ctx.Err() == nil {
					g.one(ctx)
				}
			}()
		}
		return
	}
	slots := make(chan struct{}, g.Clients)
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / g.Rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				g.mu.Lock()
				g.skipped++
				g.mu.Unlock()
				continue
			}
			g.done.Add(1)
			go func() {
				defer g.done.Done()
				defer func() { <-slots }()
				g.one(ctx)
			}()
		}
	}()
}

// Stop stops sending and waits for the requests in flight.
func (g *Generator) Stop() {
	if g.stop != nil {
		g.stop()
	}
	g.done.Wait()
	g.client.CloseIdleConnections()
}

// Elapsed is the real time since the traffic started.
func (g *Generator) Elapsed() time.Duration { return time.Since(g.start) }

func (g *Generator) one(ctx context.Context) {
	g.mu.Lock()
	phase := g.phase
	g.mu.Unlock()
	sent := time.Now()
	req, _ := http.NewRequest(http.MethodGet, g.URL, nil) // no ctx: a request in flight at Stop finishes
	code := Error
	resp, err := g.client.Do(req)
	if err == nil {
		body, readErr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		code = resp.StatusCode
		if readErr != nil || (code == http.StatusOK && !strings.HasPrefix(string(body), "Hello, World! From ")) {
			code = Error
		}
	}
	if ctx.Err() != nil && code == Error {
		return // cut by Stop, not by the system under test
	}
	latency := time.Since(sent)
	g.mu.Lock()
	defer g.mu.Unlock()
	i := int(sent.Sub(g.start) / time.Second)
	for len(g.seconds) <= i {
		g.seconds = append(g.seconds, &second{codes: map[int]int{}})
	}
	g.seconds[i].codes[code]++
	g.seconds[i].latencies = append(g.seconds[i].latencies, latency)
	if g.phases == nil {
		g.phases = map[string]*Totals{}
	}
	t, ok := g.phases[phase]
	if !ok {
		t = &Totals{Codes: map[int]int{}}
		g.phases[phase] = t
		g.order = append(g.order, phase)
	}
	t.Requests++
	t.Codes[code]++
}

// Seconds returns the record so far, one entry per real second.
func (g *Generator) Seconds() []Second {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Second, len(g.seconds))
	for i, s := range g.seconds {
		out[i] = Second{At: i, Codes: map[int]int{}}
		for code, n := range s.codes {
			out[i].Codes[code] = n
			out[i].Requests += n
		}
		lat := slices.Clone(s.latencies)
		slices.Sort(lat)
		out[i].P50, out[i].P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	}
	return out
}

// Skipped counts ticks when every client was busy (the offered rate was not reached).
func (g *Generator) Skipped() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.skipped
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
