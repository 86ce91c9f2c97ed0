package catalog

import (
	"slices"
	"testing"

	"github.com/drainpipe/drainpipe/statemachine"
)

// TestPlaceholdersMatchTheDefinitions: each definition uses exactly the placeholders of
// the catalog functions it names as its own (and only non-function placeholders the
// catalog lists), and each function's ${...} appears in its own definition only.
func TestPlaceholdersMatchTheDefinitions(t *testing.T) {
	for _, file := range statemachine.Names() {
		raw, err := statemachine.Definition(file)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(Resources)
		for _, f := range All {
			if f.StateMachine == file {
				want = append(want, f.Placeholder())
			}
		}
		used := statemachine.Placeholders(raw)
		for _, p := range used {
			if !slices.Contains(want, p) {
				t.Errorf("%s uses ${%s}, which is neither one of its catalog functions nor a catalog resource", file, p)
			}
		}
		for _, f := range All {
			if f.StateMachine == file && !slices.Contains(used, f.Placeholder()) {
				t.Errorf("catalog says %s runs in %s, which never uses ${%s}", f.Name, file, f.Placeholder())
			}
		}
	}
	for _, f := range All {
		if !slices.Contains(statemachine.Names(), f.StateMachine) {
			t.Errorf("%s: state machine %q is no definition", f.Name, f.StateMachine)
		}
	}
}

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range All {
		if seen[f.Name] {
			t.Errorf("%s is listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.MemoryMB < 128 || f.TimeoutSeconds < 1 || f.TimeoutSeconds > 900 {
			t.Errorf("%s: %d MB, %d s", f.Name, f.MemoryMB, f.TimeoutSeconds)
		}
		for _, p := range f.Permissions {
			if len(p.Actions) == 0 || p.On == "" {
				t.Errorf("%s: permission %+v names no action or no resource", f.Name, p)
			}
			if (p.On == CapacityItems) != (len(p.Keys) > 0) {
				t.Errorf("%s: keys %v on %s: only capacity items, and always, are limited by key", f.Name, p.Keys, p.On)
			}
			if p.On == AnyResource && f.WildcardReason == "" {
				t.Errorf("%s: a permission on any resource needs a WildcardReason", f.Name)
			}
		}
		if got, err := Lookup(f.Name); err != nil || got.Name != f.Name {
			t.Errorf("Lookup(%s) = %v, %v", f.Name, got.Name, err)
		}
	}
	if got := CheckTargetHealth.Placeholder(); got != "CheckTargetHealthFunctionArn" {
		t.Errorf("Placeholder = %q", got)
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup of an unknown name: no error")
	}
}
