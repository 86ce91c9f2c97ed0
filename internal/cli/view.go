package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"golang.org/x/term"

	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Terminal reports whether f is a terminal: watch redraws its view in place on a
// terminal, and prints a line for each change otherwise. size reads the terminal's size
// in columns and rows when called, so a view follows a resized window.
func Terminal(f *os.File) (size func() (cols, rows int), ok bool) {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return nil, false
	}
	return func() (int, int) {
		cols, rows, err := term.GetSize(fd)
		if err != nil || cols <= 0 || rows <= 0 {
			return 80, 24
		}
		return cols, rows
	}, true
}

// printable is s as one line a terminal shows as it is: control characters (a newline
// or an escape sequence in an error's cause, say) become spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// renderer shows successive progress.
type renderer interface {
	render(p progress, footer string, now time.Time)
}

// maxRows is how many instances the terminal view lists one by one: past it, those done
// or waiting are only counted.
const maxRows = 20

// frame is the view of an execution at one moment, a line each.
func frame(p progress, footer string, now time.Time) []string {
	end := now
	if !p.Stopped.IsZero() {
		end = p.Stopped
	}
	lines := []string{fmt.Sprintf("%s  %s  %s (started %s)", p.Execution, p.Status, clock(end.Sub(p.Started)), p.Started.Local().Format("15:04:05"))}
	if p.Error != "" {
		lines = append(lines, printable(fmt.Sprintf("  %s: %s", p.Error, p.Cause)))
	}
	done, failed, running, waiting := p.counts()
	summary := fmt.Sprintf("instances: %d done, %d running, %d waiting, %d failed", done, running, waiting, failed)
	if p.Waves > 0 {
		summary = fmt.Sprintf("waves: %d of %d done; %s", p.WavesDone, p.Waves, summary)
	}
	lines = append(lines, summary)
	for _, g := range p.Groups {
		lines = append(lines, "  "+groupLine(g))
	}
	listed, hidden := 0, 0
	for _, in := range p.Instances {
		quiet := in.Phase == phaseDone || in.Phase == phaseWaiting || in.Phase == phaseNotRun
		if quiet && len(p.Instances) > maxRows {
			hidden++
			continue
		}
		listed++
		line := fmt.Sprintf("  %-19s", in.ID)
		if in.Wave > 0 {
			line += fmt.Sprintf(" wave %-3d", in.Wave)
		}
		line += fmt.Sprintf(" %-12s", in.Phase)
		switch {
		case in.State != "":
			line += fmt.Sprintf(" %6s  %s", clock(now.Sub(in.Since)), in.State)
		case in.Error != "":
			line += " " + printable(in.Error)
		}
		lines = append(lines, strings.TrimRight(line, " "))
	}
	if hidden > 0 {
		lines = append(lines, fmt.Sprintf("  (%d more, done or waiting)", hidden))
	}
	if len(p.Out) > 0 {
		lines = append(lines, "out of service: "+strings.Join(p.Out, ", "))
	}
	if footer != "" {
		lines = append(lines, footer)
	}
	return lines
}

func groupLine(g groupHealth) string {
	s := fmt.Sprintf("%s %d/%d healthy", workflow.GroupName(g.Group), g.Healthy, g.Targets)
	if g.Floor > 0 {
		s += fmt.Sprintf(" (floor %d)", g.Floor)
	}
	return s
}

// clock is a duration for a person: 0.4s and 9.5s under ten seconds, 42s under a
// minute, then m:ss, and h:mm:ss past an hour.
func clock(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// screen redraws the frame in place: up to the first line of the last frame, then
// clear to the end of the screen. It reads the terminal's size at each redraw: lines are
// cut to the width in display columns, so that none wraps, and a frame taller than the
// terminal keeps its head and its last line (the out-of-service list or the footer),
// with a line saying how many it left out, so that the cursor never has to move up past
// the top of the screen.
type screen struct {
	w     io.Writer
	size  func() (cols, rows int)
	lines int
}

func (s *screen) render(p progress, footer string, now time.Time) {
	cols, rows := s.size()
	var b strings.Builder
	if s.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", s.lines)
	}
	lines := fit(frame(p, footer, now), rows-1)
	for _, l := range lines {
		if cols > 1 && runewidth.StringWidth(l) >= cols {
			l = runewidth.Truncate(l, cols-1, "")
		}
		b.WriteString(l + "\n")
	}
	s.lines = len(lines)
	_, _ = io.WriteString(s.w, b.String())
}

// fit keeps a frame within rows lines: the first ones, a line saying how many were left
// out, and the last one.
func fit(lines []string, rows int) []string {
	if rows < 3 || len(lines) <= rows {
		return lines
	}
	kept := slices.Clone(lines[:rows-2])
	return append(kept, fmt.Sprintf("  (%d more lines: a taller terminal shows them)", len(lines)-rows+1), lines[len(lines)-1])
}

// plain prints a line, with the time, for each thing that changed since the last
// progress: the execution's status, a wave recorded, an instance's phase (with how long
// the last one took), a group's health, the footer.
type plain struct {
	w      io.Writer
	last   *progress
	footer string
	// shown is, by instance, the last phase printed and how many of its steps.
	shown map[string]shownPhase
}

type shownPhase struct {
	phaseStep
	steps int
}

func (r *plain) render(p progress, footer string, now time.Time) {
	at := now.Local().Format("15:04:05")
	say := func(format string, args ...any) { fmt.Fprintf(r.w, "%s %s\n", at, fmt.Sprintf(format, args...)) }
	prev := r.last
	if prev == nil {
		prev = &progress{}
		say("%s %s, started %s", p.Execution, p.Status, p.Started.Local().Format("15:04:05"))
	}
	if p.WavesDone > 0 && p.WavesDone != prev.WavesDone {
		say("wave %d of %d done", p.WavesDone, p.Waves)
	}
	if r.shown == nil {
		r.shown = map[string]shownPhase{}
	}
	for _, in := range p.Instances {
		// The phases entered since the last line for it: each step its history told
		// that was not printed yet, or else its phase now, if that is new.
		old, seen := r.shown[in.ID]
		var fresh []phaseStep
		switch {
		case len(in.Steps) > old.steps:
			fresh = in.Steps[old.steps:]
			old.steps = len(in.Steps)
		case !seen || old.Phase != in.Phase:
			fresh = []phaseStep{{in.Phase, in.Since}}
		}
		for k, step := range fresh {
			if !seen && step.Phase == phaseWaiting {
				old.phaseStep = step // only what has started is printed
				continue
			}
			line := in.ID + " " + step.Phase
			if in.Error != "" && k == len(fresh)-1 {
				line += ": " + printable(in.Error)
			}
			if seen && !old.Since.IsZero() && !step.Since.IsZero() && old.Phase != phaseWaiting {
				line += fmt.Sprintf(" (%s took %s)", old.Phase, clock(step.Since.Sub(old.Since)))
			}
			say("%s", line)
			seen, old.phaseStep = true, step
		}
		r.shown[in.ID] = old
	}
	health := map[string]groupHealth{}
	for _, g := range prev.Groups {
		health[g.Group] = g
	}
	for _, g := range p.Groups {
		if old, ok := health[g.Group]; !ok || old != g {
			say("%s", groupLine(g))
		}
	}
	if footer != "" && footer != r.footer {
		say("%s", footer)
	}
	if p.Status != "RUNNING" && (r.last == nil || p.Status != r.last.Status) {
		done, failed, _, waiting := p.counts()
		line := fmt.Sprintf("%s %s after %s: %d done, %d failed", p.Execution, p.Status, clock(p.Stopped.Sub(p.Started)), done, failed)
		if waiting > 0 {
			line += fmt.Sprintf(", %d not run", waiting)
		}
		if p.Error != "" {
			line += fmt.Sprintf("; %s: %s", p.Error, p.Cause)
		}
		say("%s", line)
	}
	r.last, r.footer = &p, footer
}

// jsonLines prints the progress as a JSON object, a line, each time something changed
// (what plain would print a line for).
type jsonLines struct {
	w    io.Writer
	diff plain
}

func (r *jsonLines) render(p progress, footer string, now time.Time) {
	var b strings.Builder
	r.diff.w = &b
	r.diff.render(p, "", now)
	if b.Len() > 0 {
		_ = json.NewEncoder(r.w).Encode(p)
	}
}
