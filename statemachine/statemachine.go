// Package statemachine owns drainpipe's Amazon States Language definitions (the
// *.asl.json files beside this one, embedded), the substitution of their ${...}
// placeholders, which package catalog names and the deployment (or the lab) gives values,
// and the phase of maintenance each state of MaintainInstance belongs to.
package statemachine

import (
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

//go:embed *.asl.json
var files embed.FS

// File names of the definitions.
const (
	// MaintainInstance is the per-instance state machine.
	MaintainInstance = "maintain-instance.asl.json"
	// MaintainFleet is the fleet state machine; it runs MaintainInstance per instance.
	MaintainFleet = "maintain-fleet.asl.json"
	// RestoreExecution puts back what an ended execution of the other two held; EventBridge
	// starts it with their status change events whose status is in RestoreOn.
	RestoreExecution = "restore-execution.asl.json"
)

// RestoreOn are the execution statuses after which RestoreExecution runs: every end but
// success, since Step Functions runs no Catch when it stops or times out an execution,
// nor for an error past the Catch (States.DataLimitExceeded, States.Runtime).
var RestoreOn = []string{"FAILED", "TIMED_OUT", "ABORTED"}

// Name is the state machine's name in a deployment with the default name prefix (and in
// the lab): drainpipe-maintain-instance, ... (infra/settings' Names applies another prefix).
func Name(file string) string { return "drainpipe-" + strings.TrimSuffix(file, ".asl.json") }

// Definition returns the raw definition in the named file.
func Definition(name string) ([]byte, error) {
	return files.ReadFile(name)
}

// Names lists the definition files.
func Names() []string {
	entries, _ := files.ReadDir(".") // the embedded root always exists
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var placeholderPattern = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders lists the distinct placeholder names in a definition, sorted.
func Placeholders(def []byte) []string {
	var names []string
	for _, m := range placeholderPattern.FindAllSubmatch(def, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Substitute replaces every placeholder with its value, as CloudFormation's
// DefinitionSubstitutions does, and fails on a placeholder without a value.
func Substitute(def []byte, values map[string]string) ([]byte, error) {
	var missing []string
	out := placeholderPattern.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("no value for placeholder(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}
