package main

import (
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/lab/demo"
	"github.com/drainpipe/drainpipe/lab/traffic"
)

func TestCheckFlags(t *testing.T) {
	tests := []struct {
		rate, scale        float64
		instances, clients int
		want               []string
	}{
		{200, 0, 3, 32, nil},
		{-1, 0.05, 2, 1, nil},
		{0, 0, 3, 32, []string{"-rate 0"}},
		{-5, 0, 3, 32, []string{"-rate -5"}},
		{200, -1, 3, 32, []string{"-scale -1"}},
		{200, 0, 1, 32, []string{"-instances 1", "LastHealthyTarget"}},
		{200, 0, 3, 0, []string{"-clients 0"}},
	}
	for _, tt := range tests {
		got := strings.Join(checkFlags(tt.rate, tt.scale, tt.instances, tt.clients), "; ")
		if (got == "") != (tt.want == nil) {
			t.Errorf("%+v: %q", tt, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: %q lacks %q", tt, got, w)
			}
		}
	}
}

// TestVerdict: the result line says what happened: requests lost, executions failed, or
// instances not maintained, each as itself.
func TestVerdict(t *testing.T) {
	ok := demo.Execution{InstanceID: "i-1", Succeeded: true}
	failed := demo.Execution{InstanceID: "i-2", Error: "RestoreFailed"}
	totals := func(drainpipeFailed int) map[string]traffic.Totals {
		return map[string]traffic.Totals{
			demo.PhaseNaive:     {Requests: 1000, Codes: map[int]int{200: 975, 502: 25}},
			demo.PhaseDrainpipe: {Requests: 5000, Codes: map[int]int{200: 5000 - drainpipeFailed, 502: drainpipeFailed}},
		}
	}
	tests := []struct {
		name      string
		rep       demo.Report
		instances int
		ok        bool
		want      string
	}{
		{"all maintained", demo.Report{Totals: totals(0), Executions: []demo.Execution{ok, ok}, NaiveTo: 5}, 2, true,
			"drainpipe maintained 2 instances and lost 0 of 5000 requests (the naive reboot lost 25 of 1000)"},
		{"requests lost", demo.Report{Totals: totals(3), Executions: []demo.Execution{ok, ok}}, 2, false, "drainpipe LOST 3 of 5000 requests"},
		{"an execution failed", demo.Report{Totals: totals(0), Executions: []demo.Execution{ok, failed}}, 2, false,
			"1 execution(s) failed: i-2 RestoreFailed; no request was lost"},
		{"nothing maintained", demo.Report{Totals: totals(0)}, 2, false, "drainpipe maintained only 0 of 2 instances"},
	}
	for _, tt := range tests {
		got, line := verdict(tt.rep, tt.instances)
		if got != tt.ok || !strings.HasPrefix(line, tt.want) {
			t.Errorf("%s: %v %q, want %v %q", tt.name, got, line, tt.ok, tt.want)
		}
	}
}

// TestDone: an interrupted run says what it had done.
func TestDone(t *testing.T) {
	naive := map[string]traffic.Totals{demo.PhaseNaive: {Requests: 1000, Codes: map[int]int{200: 977, 502: 23}}}
	for _, c := range []struct {
		rep  demo.Report
		want string
	}{
		{demo.Report{}, "nothing was maintained yet"},
		{demo.Report{NaiveTo: 5, Totals: naive}, "the naive reboot was done (it lost 23 of 1000 requests)"},
		{demo.Report{NaiveTo: 5, Totals: naive, DrainpipeFrom: 9, Executions: []demo.Execution{{Succeeded: true}, {}}},
			"the naive reboot was done (it lost 23 of 1000 requests); drainpipe had maintained 1 instance(s) and taken out 2"},
	} {
		if got := done(c.rep); got != c.want {
			t.Errorf("done(%+v) = %q, want %q", c.rep, got, c.want)
		}
	}
}
