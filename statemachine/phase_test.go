package statemachine

import (
	"encoding/json"
	"testing"
)

// TestEveryStateHasAPhase: the watch view and the chart name every state of
// MaintainInstance by its phase, so a new state cannot be left out of the map, and the map
// names no state that is gone.
func TestEveryStateHasAPhase(t *testing.T) {
	raw, err := Definition(MaintainInstance)
	if err != nil {
		t.Fatal(err)
	}
	var def struct{ States map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	for name := range def.States {
		if _, ok := instancePhases[name]; !ok {
			t.Errorf("state %s has no phase", name)
		}
	}
	for name := range instancePhases {
		if _, ok := def.States[name]; !ok {
			t.Errorf("the phase map names %s, which MaintainInstance does not have", name)
		}
	}
}

func TestInstancePhase(t *testing.T) {
	for _, c := range []struct {
		state, phase string
		out          bool
	}{
		{"CheckInstance", PhaseChecking, false},
		{"WaitForDrain", PhaseDraining, true},
		{"CheckMaintenance", PhaseMaintenance, true},
		{"WaitForHealthCheck", PhaseHealthCheck, true},
		{"WaitForHealthy", PhaseReturning, true},
		{"Summarize", PhaseReleasing, false},
		{"RestoreTarget", PhaseRestoring, false},
		{"PlanRollout", "PlanRollout", false},
	} {
		if got := InstancePhase(c.state); got != c.phase || OutOfService(got) != c.out {
			t.Errorf("%s: %q (out of service %v), want %q (%v)", c.state, got, OutOfService(got), c.phase, c.out)
		}
	}
}
