// Package instance owns the lab's EC2 instances: real HTTP servers, each on its own
// loopback address, serving "Hello, World! From <instance-id>" like the post's user-data
// service (or, for scale tests, simulated: up or down, with no socket). An instance can be stopped, rebooted (down for a while, then its service starts
// again, as the post's @reboot cron entry does) and counted (boots, in-flight requests).
// Fault hooks make one never come back, fail its health checks after a reboot, or answer
// slowly.
package instance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
)

// Instance is one lab instance.
type Instance struct {
	ID string
	// IP is its loopback address, for example 127.31.7.2.
	IP string
	// Ports it serves on; the first is the service's usual port. A 0 becomes a free port
	// at the first start and stays the same across reboots.
	Ports []int
	// RebootSeconds is how long a reboot keeps it down, in lab seconds.
	RebootSeconds float64
	// Simulated: no service listens; the instance is only up or down. For fleets larger
	// than sockets allow (the scale tests); the load balancer probes it (Probe) instead of
	// sending it health checks, and it takes no traffic.
	Simulated bool

	clock *clock.Clock

	mu       sync.Mutex
	servers  []*http.Server
	up       bool
	boots    int
	upSignal chan struct{} // closed when the instance is up
	faults   Faults
	// off: the instance is stopped or terminated (EC2's sense): it does not boot until
	// PowerOn, whatever reboot was under way.
	off bool

	inflight atomic.Int64
	served   atomic.Int64
}

// Faults are the instance's fault hooks. The zero value is a healthy instance.
type Faults struct {
	// NeverComesBack: after the next reboot the instance stays down.
	NeverComesBack bool
	// UnhealthyAfterReboot: after the next boot the service answers 500.
	UnhealthyAfterReboot bool
	// RequestSeconds delays every answer by this many lab seconds.
	RequestSeconds float64
}

// New returns a stopped instance.
func New(id, ip string, ports []int, rebootSeconds float64, c *clock.Clock) *Instance {
	return &Instance{ID: id, IP: ip, Ports: ports, RebootSeconds: rebootSeconds, clock: c, upSignal: make(chan struct{})}
}

// SetFaults replaces the instance's fault hooks.
func (i *Instance) SetFaults(f Faults) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.faults = f
}

// Start boots the instance: its service listens on every port. A powered-off instance
// does not boot.
func (i *Instance) Start() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.up {
		return nil
	}
	if i.off {
		return fmt.Errorf("instance %s is powered off", i.ID)
	}
	var servers []*http.Server
	for idx, port := range i.Ports {
		if i.Simulated {
			break
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(i.IP, strconv.Itoa(port)))
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("instance %s: %w", i.ID, err)
		}
		if port == 0 { // a free port, kept across reboots
			i.Ports[idx] = ln.Addr().(*net.TCPAddr).Port
		}
		srv := &http.Server{Handler: i.handler(i.boots > 0 && i.faults.UnhealthyAfterReboot), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	i.servers = servers
	i.up = true
	i.boots++
	close(i.upSignal)
	return nil
}

// Stop shuts the instance down at once: listeners and open connections close, so requests
// in flight fail, as they do when a machine reboots.
func (i *Instance) Stop() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.up {
		return
	}
	for _, s := range i.servers {
		_ = s.Close()
	}
	i.servers = nil
	i.up = false
	i.upSignal = make(chan struct{})
}

// PowerOff stops the instance as EC2's StopInstances or TerminateInstances does: it shuts
// down at once (requests in flight fail) and stays down, a reboot under way included,
// until PowerOn.
func (i *Instance) PowerOff() {
	i.mu.Lock()
	i.off = true
	i.mu.Unlock()
	i.Stop()
}

// PowerOn boots a powered-off instance, as StartInstances does.
func (i *Instance) PowerOn() error {
	i.mu.Lock()
	i.off = false
	i.mu.Unlock()
	return i.Start()
}

// Reboot stops the instance and starts it again after RebootSeconds (lab time), unless it
// was told never to come back. It returns at once; WaitUp waits for the boot.
func (i *Instance) Reboot() {
	i.Stop()
	i.mu.Lock()
	never := i.faults.NeverComesBack
	i.mu.Unlock()
	if never {
		return
	}
	go func() {
		time.Sleep(i.clock.Seconds(i.RebootSeconds))
		_ = i.Start() // the address was ours a moment ago; a failure shows as a dead instance
	}()
}

// WaitUp waits until the instance is up, or ctx ends.
func (i *Instance) WaitUp(ctx context.Context) error {
	i.mu.Lock()
	ch := i.upSignal
	i.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Probe is a health check of a simulated instance: whether it is up. ok is false for a
// real instance, which is checked over HTTP.
func (i *Instance) Probe() (up, ok bool) {
	if !i.Simulated {
		return false, false
	}
	return i.Up(), true
}

// Up reports whether the service is listening.
func (i *Instance) Up() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.up
}

// Boots counts the boots, the first start included.
func (i *Instance) Boots() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.boots
}

// InFlight is the number of requests being served now.
func (i *Instance) InFlight() int64 { return i.inflight.Load() }

// Served is the number of requests answered since the lab started.
func (i *Instance) Served() int64 { return i.served.Load() }

// URL is the service's address on its first port.
func (i *Instance) URL() string {
	return "http://" + net.JoinHostPort(i.IP, strconv.Itoa(i.Ports[0])) + "/"
}

func (i *Instance) handler(unhealthy bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		i.inflight.Add(1)
		defer i.inflight.Add(-1)
		i.mu.Lock()
		delay := i.faults.RequestSeconds
		i.mu.Unlock()
		if s := r.URL.Query().Get("seconds"); r.URL.Path == "/slow" && s != "" {
			delay, _ = strconv.ParseFloat(s, 64)
		}
		if delay > 0 {
			select {
			case <-time.After(i.clock.Seconds(delay)):
			case <-r.Context().Done():
				return
			}
		}
		if unhealthy {
			http.Error(w, "service failed to start", http.StatusInternalServerError)
			return
		}
		i.served.Add(1)
		fmt.Fprintf(w, "Hello, World! From %s\n", i.ID)
	})
	return mux
}
