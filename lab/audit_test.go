package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drainpipe/drainpipe/internal/audit"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/ssm"
)

// auditSink collects the functions' log lines as CloudWatch Logs would keep them
// (lab.FunctionLogHandler).
type auditSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *auditSink) handler() slog.Handler { return lab.FunctionLogHandler(lockedWriter{s}) }

type lockedWriter struct{ s *auditSink }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.buf.Write(p)
}

type auditLine struct {
	Message, RequestID, Action, Outcome, Execution, Instance, Group, CommandID, Document, Holder string
	Ports                                                                                        []int
}

func (s *auditSink) lines(instance string) []auditLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []auditLine
	dec := json.NewDecoder(bytes.NewReader(s.buf.Bytes()))
	for dec.More() {
		var l auditLine
		if dec.Decode(&l) != nil {
			break
		}
		if l.Message == audit.Message && l.Instance == instance {
			out = append(out, l)
		}
	}
	return out
}

// TestAuditTrailReconstructsTheChanges: from the functions' log lines alone, an operator
// finds every change drainpipe made to an instance, in order, with the execution and the
// Lambda request it came from: here a maintenance of an instance in two groups (one on a
// port of its own) that fails and is rolled back, checked against what the load balancer
// and SSM saw.
func TestAuditTrailReconstructsTheChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	// Not parallel: the default logger is the process's.
	sink := &auditSink{}
	prev := slog.Default()
	slog.SetDefault(slog.New(sink.handler()))
	t.Cleanup(func() { slog.SetDefault(prev) })
	cfg := twoGroups()
	l := startLab(t, cfg)
	victim := l.Instances[0].ID
	l.SSM.SetFaults(victim, ssm.Faults{FailWith: 3, Stderr: "the package manager is locked"})
	res, err := l.MaintainInstance(context.Background(), "audited", rebootInput(l), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Succeeded || res.Error != "MaintenanceFailed" {
		t.Fatalf("%v %s: %s", res.Succeeded, res.Error, res.Cause)
	}
	lines := sink.lines(victim)
	var got []string
	for _, l := range lines {
		got = append(got, l.Action+" "+l.Outcome+" "+groupName(l.Group)+fmt.Sprint(l.Ports))
		if l.Execution != res.ARN || l.RequestID == "" {
			t.Errorf("%s %s: execution %q, request %q; want %s and a request id", l.Action, l.Group, l.Execution, l.RequestID, res.ARN)
		}
	}
	want := []string{
		"reserve done []", "reserve-group done api[]", "reserve-group done hello-world[]",
		"deregister done hello-world[8080]", "deregister done api[9091]",
		"send-command done []",
		"register done hello-world[8080]", "register done api[9091]",
		"release-group done api[]", "release-group done hello-world[]", "release done []",
	}
	t.Logf("the trail of %s:\n  %s", victim, strings.Join(got, "\n  "))
	if !slices.Equal(got, want) {
		t.Errorf("the trail:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// What the trail says matches what the services saw.
	calls := l.API.Calls()
	if count(got, "deregister done") != calls["DeregisterTargets"] || count(got, "register done") != calls["RegisterTargets"] {
		t.Errorf("the trail has %d deregistrations and %d registrations; ELB saw %d and %d", count(got, "deregister done"), count(got, "register done"),
			calls["DeregisterTargets"], calls["RegisterTargets"])
	}
	sent := l.SSM.Sent()
	i := slices.IndexFunc(lines, func(l auditLine) bool { return l.Action == audit.SendCommand })
	if len(sent) != 1 || i < 0 || lines[i].CommandID != sent[0].CommandID || lines[i].Document != sent[0].DocumentName {
		t.Errorf("the trail's command %+v; SSM saw %+v", lines[max(i, 0)], sent)
	}
}

func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func groupName(arn string) string {
	if arn == "" {
		return ""
	}
	parts := strings.Split(arn, "/")
	return parts[len(parts)-2]
}
