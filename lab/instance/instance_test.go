package instance

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/drainpipe/drainpipe/lab/clock"
	"github.com/drainpipe/drainpipe/lab/labtest"
)

// patience bounds the waits whose length is not under test.
const patience = 5 * time.Second

// start starts an instance on a loopback address of its own, so that its port, kept
// across reboots, is not taken meanwhile by another test's connections.
func start(t *testing.T) *Instance {
	t.Helper()
	ip := fmt.Sprintf("127.%d.%d.%d", 200+rand.IntN(50), 1+rand.IntN(250), 1+rand.IntN(250))
	inst := New("i-0123456789abcdef0", ip, []int{0}, 2, clock.New(0.01))
	if err := inst.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	return inst
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestPatchState: an instance starts missing 3 patches with no reboot required; both can
// be set; a stop alone keeps the flag, and a boot (a reboot ending, a power on) clears it,
// the watchers told of every change in order.
func TestPatchState(t *testing.T) {
	inst := start(t)
	if inst.MissingPatches() != 3 || inst.RebootRequired() {
		t.Fatalf("new instance: %d missing, reboot required %v; want 3, false", inst.MissingPatches(), inst.RebootRequired())
	}
	var mu sync.Mutex
	var seen []bool
	inst.OnRebootRequired(func(required bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, required)
	})
	for _, tt := range []struct {
		name     string
		do       func()
		missing  int
		required bool
	}{
		{"set missing", func() { inst.SetMissingPatches(7) }, 7, false},
		{"negative is 0", func() { inst.SetMissingPatches(-2) }, 0, false},
		{"reboot required", func() { inst.SetRebootRequired(true) }, 0, true},
		{"set again", func() { inst.SetRebootRequired(true) }, 0, true},
		{"stop", inst.Stop, 0, true},
		{"start", func() {
			if err := inst.Start(); err != nil {
				t.Fatal(err)
			}
		}, 0, false},
		{"required again", func() { inst.SetRebootRequired(true) }, 0, true},
		{"reboot", func() {
			inst.Reboot()
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := inst.WaitUp(ctx); err != nil {
				t.Fatal(err)
			}
		}, 0, false},
		{"power cycle", func() {
			inst.SetRebootRequired(true)
			inst.PowerOff()
			if !inst.RebootRequired() {
				t.Error("powered off: the flag is gone before a boot")
			}
			if err := inst.PowerOn(); err != nil {
				t.Fatal(err)
			}
		}, 0, false},
	} {
		tt.do()
		if got, req := inst.MissingPatches(), inst.RebootRequired(); got != tt.missing || req != tt.required {
			t.Errorf("%s: %d missing, reboot required %v; want %d, %v", tt.name, got, req, tt.missing, tt.required)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{false, true, false, true, false, true, false}; !slices.Equal(seen, want) {
		t.Errorf("the watcher saw %v, want %v", seen, want)
	}
}

// TestInFlightGauge: GET /inflight answers the number of other requests in flight, at
// once, without counting itself or being counted as served; it fails as the service does.
func TestInFlightGauge(t *testing.T) {
	inst := start(t)
	gauge := inst.URL() + "inflight"
	if code, body := get(t, gauge); code != 200 || body != "0\n" {
		t.Errorf("idle: %d %q, want 200 \"0\\n\"", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.URL()+"slow?seconds=1000", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	labtest.WaitFor(t, patience, time.Millisecond, "2 requests in flight", func() (bool, any) {
		return inst.InFlight() == 2, fmt.Sprintf("%d in flight", inst.InFlight())
	})
	// A slow service (every answer delayed) still answers the gauge at once.
	inst.SetFaults(Faults{RequestSeconds: 1000})
	served := inst.Served()
	if code, body := get(t, gauge); code != 200 || body != "2\n" {
		t.Errorf("two slow requests in flight: %d %q, want 200 \"2\\n\"", code, body)
	}
	if inst.Served() != served || inst.InFlight() != 2 {
		t.Errorf("the gauge counted itself: served %d->%d, %d in flight", served, inst.Served(), inst.InFlight())
	}
	cancel()
	wg.Wait()
	labtest.WaitFor(t, patience, time.Millisecond, "the requests to end", func() (bool, any) {
		return inst.InFlight() == 0, fmt.Sprintf("%d in flight", inst.InFlight())
	})

	inst.SetFaults(Faults{UnhealthyAfterReboot: true})
	inst.Stop()
	if err := inst.Start(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, gauge); code != http.StatusInternalServerError {
		t.Errorf("service failed to start: the gauge answered %d, want 500", code)
	}
}
