package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const web = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

// rolloutSnapshots is a rollout of two waves as watch would read it, poll by poll: the
// first instance goes through its phases, the second fails and is put back.
func rolloutSnapshots(t0 time.Time) ([]progress, []time.Time) {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	base := func() progress {
		return progress{Execution: "weekly", Status: "RUNNING", Started: t0, Waves: 2, Out: []string{},
			Groups: []groupHealth{{Group: web, Healthy: 3, Targets: 3, Floor: 2}}}
	}
	inst := func(id string, wave int, phase, state string, since float64) instanceProgress {
		in := instanceProgress{ID: id, Wave: wave, Phase: phase, State: state}
		if since >= 0 {
			in.Since = at(since)
		}
		return in
	}
	var snaps []progress
	var times []time.Time
	add := func(now float64, f func(p *progress)) {
		p := base()
		f(&p)
		snaps, times = append(snaps, p), append(times, at(now))
	}
	add(0.5, func(p *progress) { p.Waves = 0 }) // not planned yet
	add(2, func(p *progress) {
		p.Instances = []instanceProgress{inst("i-a", 1, "checking", "CheckInstance", 1.2), inst("i-b", 2, phaseWaiting, "", -1)}
	})
	add(4, func(p *progress) {
		p.Instances = []instanceProgress{inst("i-a", 1, "draining", "WaitForDrain", 3.1), inst("i-b", 2, phaseWaiting, "", -1)}
		p.Groups[0].Healthy, p.Out = 2, []string{"i-a"}
	})
	add(6, func(p *progress) { // nothing changed but the time
		p.Instances = []instanceProgress{inst("i-a", 1, "draining", "WaitForDrain", 3.1), inst("i-b", 2, phaseWaiting, "", -1)}
		p.Groups[0].Healthy, p.Out = 2, []string{"i-a"}
	})
	add(340, func(p *progress) {
		p.Instances = []instanceProgress{inst("i-a", 1, "maintenance", "WaitForMaintenance", 333.1), inst("i-b", 2, phaseWaiting, "", -1)}
		p.Groups[0].Healthy, p.Groups[0].Targets, p.Out = 2, 2, []string{"i-a"}
	})
	add(420, func(p *progress) {
		p.WavesDone = 1
		p.Instances = []instanceProgress{inst("i-a", 1, phaseDone, "", -1), inst("i-b", 2, "draining", "WaitForDrain", 419)}
		p.Groups[0].Healthy, p.Out = 2, []string{"i-b"}
	})
	add(500, func(p *progress) {
		p.Status, p.Stopped, p.WavesDone = "FAILED", at(499), 2
		p.Error, p.Cause = "TooManyErrors", "1 instance failed, more than maxErrors 0"
		p.Instances = []instanceProgress{inst("i-a", 1, phaseDone, "", -1), {ID: "i-b", Wave: 2, Phase: phaseFailed, Error: "CommandFailed (healthy)"}}
	})
	return snaps, times
}

// TestWatchPlainGolden: the plain view (output not a terminal) prints a line for each
// change, with the time, and how long the last phase took; nothing when only the time
// moved.
func TestWatchPlainGolden(t *testing.T) {
	inUTC(t)
	snaps, times := rolloutSnapshots(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	r := &plain{w: &out}
	for i, p := range snaps {
		footer := ""
		if i >= 2 {
			footer = "traffic: 200 req/s, 0 failed"
		}
		r.render(p, footer, times[i])
	}
	golden(t, "watch-plain.golden", out.String())
}

// TestWatchFrame: the terminal view at one moment, and its redraw in place.
func TestWatchFrame(t *testing.T) {
	inUTC(t)
	snaps, times := rolloutSnapshots(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	s := &screen{w: &out, size: func() (int, int) { return 100, 50 }}
	s.render(snaps[4], "traffic: 200 req/s, 0 failed", times[4])
	first := out.String()
	golden(t, "watch-frame.golden", first)
	var narrow bytes.Buffer
	(&screen{w: &narrow, size: func() (int, int) { return 40, 50 }}).render(snaps[4], "", times[4])
	for _, line := range strings.Split(strings.TrimSuffix(narrow.String(), "\n"), "\n") {
		if n := len([]rune(line)); n >= 40 {
			t.Errorf("a line of %d columns in a terminal of 40: %q", n, line)
		}
	}
	out.Reset()
	s.render(snaps[5], "", times[5])
	if lines := strings.Count(first, "\n"); !strings.HasPrefix(out.String(), "\x1b["+itoa(lines)+"A\r\x1b[J") {
		t.Errorf("the redraw does not go back up %d lines: %q", lines, out.String())
	}
}

// TestWatchFrameManyInstances: past maxRows, the instances done or waiting are counted,
// and those running or failed are listed.
func TestWatchFrameManyInstances(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	p := progress{Execution: "big", Status: "RUNNING", Started: t0, Waves: 50, WavesDone: 10}
	for i := range 100 {
		phase := phaseDone
		switch {
		case i == 50:
			phase = phaseFailed
		case i > 50 && i <= 52:
			phase = "draining"
		case i > 52:
			phase = phaseWaiting
		}
		p.Instances = append(p.Instances, instanceProgress{ID: "i-" + itoa(i), Phase: phase, State: map[bool]string{true: "WaitForDrain"}[phase == "draining"], Since: t0})
	}
	text := strings.Join(frame(p, "", t0.Add(time.Minute)), "\n")
	for _, want := range []string{"waves: 10 of 50 done; instances: 50 done, 2 running, 47 waiting, 1 failed", "i-50", "i-51", "i-52", "(97 more, done or waiting)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the frame lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "i-49 ") {
		t.Errorf("a done instance is listed past maxRows:\n%s", text)
	}
}

func TestClock(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0.0s"}, {400 * time.Millisecond, "0.4s"}, {9500 * time.Millisecond, "9.5s"}, {42 * time.Second, "42s"},
		{65 * time.Second, "1:05"}, {time.Hour + 2*time.Minute + 3*time.Second, "1:02:03"},
	} {
		if got := clock(c.d); got != c.want {
			t.Errorf("clock(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", t.Name(), path, got, want)
	}
}

// TestScreenFitsTheTerminal: the redraw holds to the terminal's size, read at each render:
// a cause with a newline and an escape sequence stays on its line and sends no sequence
// of its own, wide characters count two columns, a frame taller than the terminal keeps
// its head and its footer and says how many lines it left out, and after a resize the
// next redraw goes back up exactly the lines the last one printed.
func TestScreenFitsTheTerminal(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	p := progress{Execution: "big", Status: "FAILED", Started: t0, Stopped: t0.Add(time.Minute), Error: "States.TaskFailed",
		Cause: "boom\n\x1b[2Jcleared", Waves: 10, WavesDone: 2}
	for i := range 12 {
		p.Instances = append(p.Instances, instanceProgress{ID: "i-" + itoa(i), Phase: phaseFailed, Error: "再起動に失敗しました\rover"})
	}
	cols, rows := 30, 10
	var out bytes.Buffer
	s := &screen{w: &out, size: func() (int, int) { return cols, rows }}
	s.render(p, "traffic: 0 failed", t0)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) > rows-1 {
		t.Errorf("%d lines in a terminal of %d rows", len(lines), rows)
	}
	if !strings.Contains(out.String(), "more lines") || lines[len(lines)-1] != "traffic: 0 failed" {
		t.Errorf("the cut frame does not say what it left out, or lost its footer:\n%s", out.String())
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\x1b\r") {
			t.Errorf("a control character reached the terminal: %q", l)
		}
		if w := runewidth.StringWidth(l); w >= cols {
			t.Errorf("a line %d columns wide in a terminal of %d: %q", w, cols, l)
		}
	}
	printed := len(lines)
	cols, rows = 100, 50
	out.Reset()
	s.render(p, "", t0)
	if !strings.HasPrefix(out.String(), "\x1b["+itoa(printed)+"A\r\x1b[J") {
		t.Errorf("after a resize the redraw does not go back up the %d lines printed: %q", printed, out.String()[:20])
	}
	if strings.Contains(out.String(), "more lines") {
		t.Errorf("a tall terminal still cuts the frame:\n%s", out.String())
	}
}

// TestPlainPrintsEveryStep: phases that passed between two polls are each printed, and
// each "took" is that phase's own time by the execution's history, not the time between
// polls.
func TestPlainPrintsEveryStep(t *testing.T) {
	inUTC(t)
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []phaseStep{{"checking", at(0)}, {"draining", at(2)}, {"maintenance", at(32)}, {"health check", at(70)}, {"returning", at(71)}}
	p := func(n int) progress {
		return progress{Execution: "one", Status: "RUNNING", Started: t0, Out: []string{},
			Instances: []instanceProgress{{ID: "i-a", Phase: steps[n-1].Phase, Since: steps[n-1].Since, Steps: steps[:n]}}}
	}
	var out bytes.Buffer
	r := &plain{w: &out}
	r.render(p(2), "", at(3))
	r.render(p(5), "", at(80))
	want := `03:00:03 one RUNNING, started 03:00:00
03:00:03 i-a checking
03:00:03 i-a draining (checking took 2.0s)
03:01:20 i-a maintenance (draining took 30s)
03:01:20 i-a health check (maintenance took 38s)
03:01:20 i-a returning (health check took 1.0s)
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// inUTC shows local times in UTC for the test, as the golden files were written.
func inUTC(t *testing.T) {
	local := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = local })
}
