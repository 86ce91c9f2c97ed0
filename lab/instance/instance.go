// Package instance owns the lab's EC2 instances: real HTTP servers, each on its own
// loopback address, serving "Hello, World! From <instance-id>" like the post's user-data
// service (or, for scale tests, simulated: up or down, with no socket). An instance can be stopped, rebooted (down for a while, then its service starts
// again, as the post's @reboot cron entry does) and counted (boots, in-flight requests).
// Fault hooks make one never come back, fail its health checks after a reboot, or answer
// slowly.
//
// Besides "/", the service answers GET /inflight with the number of other requests in
// flight on the instance ("2\n"), as an application's in-flight gauge does for an idle
// check (curl -fsS http://$INSTANCE_IP:8080/inflight); the gauge request itself is not
// counted, served or delayed, and fails (500) as the whole service does after a boot
// with UnhealthyAfterReboot.
//
// An instance also holds the state a package manager gives it: how many patches it is
// missing (3 at first) and whether a reboot is required to finish installing some (as
// needs-restarting -r reports it), which every boot clears. Package ssm reads and changes
// both.
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

	mu      sync.Mutex
	servers []*http.Server
	// listeners are the servers' own: Stop closes them at once, even when a server has
	// not begun serving yet, so that a Start right after finds the ports free.
	listeners []net.Listener
	up        bool
	boots     int
	upSignal  chan struct{} // closed when the instance is up
	faults    Faults
	// off: the instance is stopped or terminated (EC2's sense): it does not boot until
	// PowerOn, whatever reboot was under way.
	off bool

	// missing is the number of patches not installed; rebootRequired: some installed
	// patches take effect only after a reboot. onRebootRequired are told of its changes.
	missing          int
	rebootRequired   bool
	onRebootRequired []func(bool)

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

// InitialMissingPatches is how many patches a new instance is missing.
const InitialMissingPatches = 3

// New returns a stopped instance, missing InitialMissingPatches patches.
func New(id, ip string, ports []int, rebootSeconds float64, c *clock.Clock) *Instance {
	return &Instance{ID: id, IP: ip, Ports: ports, RebootSeconds: rebootSeconds, clock: c, upSignal: make(chan struct{}),
		missing: InitialMissingPatches}
}

// SetMissingPatches sets how many patches the instance is missing (a negative n is 0).
func (i *Instance) SetMissingPatches(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.missing = max(n, 0)
}

// MissingPatches is how many patches the instance is missing.
func (i *Instance) MissingPatches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.missing
}

// SetRebootRequired sets whether a reboot is required to finish installing patches. The
// next boot clears it.
func (i *Instance) SetRebootRequired(required bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.setRebootRequired(required)
}

// RebootRequired reports whether a reboot is required to finish installing patches.
func (i *Instance) RebootRequired() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rebootRequired
}

// OnRebootRequired calls f with the reboot-required flag now, then at each change, in
// order. f runs under the instance's lock: it must not call the instance.
func (i *Instance) OnRebootRequired(f func(required bool)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.onRebootRequired = append(i.onRebootRequired, f)
	f(i.rebootRequired)
}

// setRebootRequired changes the flag and tells the watchers. Callers hold i.mu.
func (i *Instance) setRebootRequired(required bool) {
	if i.rebootRequired == required {
		return
	}
	i.rebootRequired = required
	for _, f := range i.onRebootRequired {
		f(required)
	}
}

// SetFaults replaces the instance's fault hooks.
func (i *Instance) SetFaults(f Faults) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.faults = f
}

// Start boots the instance: its service listens on every port, and no reboot is required
// any more. A powered-off instance does not boot.
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
	var listeners []net.Listener
	for idx, port := range i.Ports {
		if i.Simulated {
			break
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(i.IP, strconv.Itoa(port)))
		if err != nil {
			for k, s := range servers {
				_ = s.Close()
				_ = listeners[k].Close()
			}
			return fmt.Errorf("instance %s: %w", i.ID, err)
		}
		if port == 0 { // a free port, kept across reboots
			i.Ports[idx] = ln.Addr().(*net.TCPAddr).Port
		}
		srv := &http.Server{Handler: i.handler(i.boots > 0 && i.faults.UnhealthyAfterReboot), ReadHeaderTimeout: 10 * time.Second}
		servers, listeners = append(servers, srv), append(listeners, ln)
		go func() { _ = srv.Serve(ln) }()
	}
	i.servers, i.listeners = servers, listeners
	i.up = true
	i.boots++
	i.setRebootRequired(false)
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
	for k, s := range i.servers {
		_ = s.Close()
		_ = i.listeners[k].Close()
	}
	i.servers, i.listeners = nil, nil
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
		if r.URL.Path == "/inflight" { // the gauge: other requests only, at once
			if unhealthy {
				http.Error(w, "service failed to start", http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "%d\n", i.inflight.Load())
			return
		}
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
