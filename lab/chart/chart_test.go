package chart

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/drainpipe/drainpipe/lab/traffic"
)

// demoRun resembles a real demo: 200 requests/s, a 10 s baseline, a naive reboot losing 25
// requests over 3 s, then drainpipe maintaining instances one after another, each
// draining, maintained, health-checked and returning, losing none, then a 10 s tail.
func demoRun(instances int) Run {
	var r Run
	r.Title = "drainpipe lab: naive reboot vs drainpipe"
	failures := map[int]int{11: 9, 12: 12, 13: 4}
	naive := Mark{Label: "naive reboot", From: 10.4, To: 14.6, Bad: true}
	t := 22.0
	var marks []Mark
	for i := range instances {
		from := t
		var segs []Segment
		for _, p := range []struct {
			name string
			secs float64
		}{{"draining", 2 + 0.3*float64(i%3)}, {"maintenance", 2.4}, {"health check", 0.8}, {"returning", 1.5}} {
			segs = append(segs, Segment{Phase: p.name, From: t, To: t + p.secs})
			t += p.secs
		}
		marks = append(marks, Mark{Label: fmt.Sprintf("…%04x", 0xa3f1+i*0x111), From: from, To: t, Segments: segs})
		t += 1.2
	}
	end := int(t) + 10
	for s := 0; s <= end; s++ {
		n := 200 - (s*7)%5 + (s*3)%4
		codes := map[int]int{200: n - failures[s]}
		if f := failures[s]; f > 0 {
			codes[502] = f
		}
		r.Seconds = append(r.Seconds, traffic.Second{At: s, Requests: n, Codes: codes})
	}
	r.Marks = append([]Mark{naive}, marks...)
	total := func(from, to int) (req, failed int) {
		for _, s := range r.Seconds[from:to] {
			req, failed = req+s.Requests, failed+s.Failed()
		}
		return req, failed
	}
	for _, w := range []struct {
		name     string
		from, to int
	}{{"baseline", 0, 10}, {"naive", 10, 22}, {"drainpipe", 22, end}} {
		req, failed := total(w.from, w.to)
		r.Windows = append(r.Windows, Window{Name: w.name, From: float64(w.from), To: float64(w.to), Requests: req, Failed: failed})
	}
	return r
}

func TestDemoRunFixture(t *testing.T) {
	r := demoRun(3)
	if got := r.Windows[1].Failed; got != 25 {
		t.Errorf("naive window lost %d requests, want 25", got)
	}
	if got := r.Windows[2].Failed; got != 0 {
		t.Errorf("drainpipe window lost %d requests, want 0", got)
	}
}

// TestDrawReview renders the demo-like run for a person to look at; CHART_REVIEW names a
// directory to keep the pictures in (e.g. CHART_REVIEW=/tmp go test -run Review ./lab/chart/).
func TestDrawReview(t *testing.T) {
	dir := os.Getenv("CHART_REVIEW")
	if dir == "" {
		dir = t.TempDir()
	}
	for name, r := range map[string]Run{"chart-review": demoRun(3), "chart-review-10": demoRun(10), "chart-review-failed": failedRun(), "chart-review-crowded": crowdedRun()} {
		for _, ext := range []string{".png", ".svg"} {
			if err := Draw(filepath.Join(dir, name+ext), r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// crowdedRun is ten instances out of service 3 s each, one right after the other, with
// long labels: the labels take several rows.
func crowdedRun() Run {
	r := demoRun(10)
	t := 22.0
	for i := range r.Marks[1:] {
		m := &r.Marks[i+1]
		m.Label = fmt.Sprintf("i-0%04x9c2e", 0xa3f1+i)
		m.From = t
		for j := range m.Segments {
			m.Segments[j].From, m.Segments[j].To = t, t+0.75
			t += 0.75
		}
		m.To = t
		t += 0.3
	}
	return r
}

// failedRun is a demo whose second drainpipe execution failed: its instance lost 7
// requests while restoring its registrations, and was left out of service.
func failedRun() Run {
	r := demoRun(2)
	m := &r.Marks[2]
	m.Bad = true
	m.Segments = append(m.Segments[:2], Segment{Phase: "restoring", From: m.Segments[1].To, To: m.Segments[1].To + 1.5})
	m.To = m.Segments[2].To
	at := int(m.Segments[2].From)
	r.Seconds[at].Codes[200] -= 7
	r.Seconds[at].Codes[503] = 7
	r.Windows[2].Failed += 7
	r.Marks = append(r.Marks, Mark{Label: "unfinished", From: m.To + 2, To: 0})
	return r
}

func TestDrawWritesPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	r := demoRun(3)
	pngPath, svgPath := filepath.Join(dir, "run.png"), filepath.Join(dir, "run.svg")
	for _, p := range []string{pngPath, svgPath} {
		if err := Draw(p, r); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
		t.Errorf("png is %v, want at least 1000x600", b)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Fatal("svg lacks the drawing")
	}
	want := []string{
		r.Title,
		"naive: 25 failed", "drainpipe: 0 failed", "baseline: 0 failed",
		"of " + thousands(r.Windows[1].Requests) + " requests", "of " + thousands(r.Windows[2].Requests) + " requests",
		"naive reboot", "…a3f1", "…a502", "…a613",
		"requests per second", "failed requests per second", "seconds since the traffic started",
	}
	for _, w := range want {
		if !bytes.Contains(svg, []byte(escape(w))) {
			t.Errorf("svg lacks %q", w)
		}
	}
}

// escape is s as the svg writes it.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestLegendHasEveryPhaseInOrder(t *testing.T) {
	r := demoRun(2)
	// A failed execution with a phase of its own, and an instance without phases.
	r.Marks = append(r.Marks,
		Mark{Label: "bad", From: 40, To: 44, Bad: true, Segments: []Segment{{Phase: "draining", From: 40, To: 41}, {Phase: "restoring", From: 41, To: 44}}},
		Mark{Label: "plain", From: 45, To: 47})
	f := newFigure(r)
	wantPhases := []string{"draining", "maintenance", "health check", "returning", "restoring"}
	if got := strings.Join(f.phases, ","); got != strings.Join(wantPhases, ",") {
		t.Errorf("phases %s, want %v", got, wantPhases)
	}
	legend := legendText(f)
	for _, w := range append(wantPhases, "requests per second", "failed requests per second", "no request failed",
		"out of service:", "not drained (reboot in place)", "failed execution", "phases not known") {
		if !strings.Contains("|"+strings.ReplaceAll(legend, "\n", "|")+"|", "|"+w+"|") {
			t.Errorf("legend %q lacks %q", legend, w)
		}
	}
	seen := map[string]bool{}
	for _, p := range wantPhases {
		c := f.colours[p]
		key := fmt.Sprint(c)
		if seen[key] {
			t.Errorf("phase %s shares its colour %v", p, c)
		}
		seen[key] = true
	}
	svg := filepath.Join(t.TempDir(), "legend.svg")
	if err := Draw(svg, r); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(svg)
	for _, w := range wantPhases {
		if !bytes.Contains(data, []byte(">"+w+"<")) {
			t.Errorf("svg lacks the legend entry %q", w)
		}
	}
}

func TestLegendOmitsWhatIsNotDrawn(t *testing.T) {
	r := demoRun(1)
	r.Marks = r.Marks[1:] // no naive reboot
	r.Windows = []Window{{Name: "naive", From: 0, To: 30, Requests: 100, Failed: 3}}
	legend := legendText(newFigure(r))
	for _, w := range []string{"not drained (reboot in place)", "failed execution", "phases not known", "no request failed"} {
		if strings.Contains(legend, w) {
			t.Errorf("legend %q has %q but nothing is drawn so", legend, w)
		}
	}
	r.Marks = nil
	if got := legendText(newFigure(r)); got != "requests per second|failed requests per second" {
		t.Errorf("legend without marks %q", got)
	}
}

// legendText is the legend's texts, rows separated by a newline, entries by "|".
func legendText(f *figure) string {
	var rows []string
	for _, row := range f.legend {
		var texts []string
		for _, e := range row {
			texts = append(texts, e.text)
		}
		rows = append(rows, strings.Join(texts, "|"))
	}
	return strings.Join(rows, "\n")
}

func TestTickStep(t *testing.T) {
	for _, c := range []struct {
		span         float64
		major, minor float64
	}{
		{5, 1, 0}, {12, 1, 0}, {13, 2, 1}, {24, 2, 1}, {40, 5, 1}, {60, 5, 1}, {61, 10, 2},
		{90, 10, 2}, {120, 10, 2}, {150, 15, 5}, {200, 20, 5}, {300, 30, 10}, {600, 60, 10}, {3600, 300, 60},
	} {
		major, minor := tickStep(c.span)
		if major != c.major || minor != c.minor {
			t.Errorf("tickStep(%g) = %g, %g; want %g, %g", c.span, major, minor, c.major, c.minor)
		}
		if n := c.span / major; n > 12 {
			t.Errorf("tickStep(%g): %g major ticks", c.span, n)
		}
	}
}

func TestTicksAreEvenAndLabelled(t *testing.T) {
	ticks := valueTicks(0, 47, 5, 1).Ticks(0, 47)
	var labels []string
	minors := 0
	for _, tk := range ticks {
		if tk.IsMinor() {
			minors++
			if int(tk.Value)%5 == 0 {
				t.Errorf("minor tick at a major value %g", tk.Value)
			}
			continue
		}
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0 5 10 15 20 25 30 35 40 45" {
		t.Errorf("major labels %q", got)
	}
	if minors != 47-9 { // 1..47 less 5, 10, ..., 45
		t.Errorf("%d minor ticks, want 38", minors)
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct {
		top  float64
		n    int
		want float64
	}{{5, 5, 1}, {8, 5, 2}, {40, 5, 10}, {26, 5, 10}, {230, 6, 50}, {1000, 5, 200}, {0.5, 5, 0.1}, {0, 5, 1}} {
		if got := niceStep(c.top, c.n); got != c.want {
			t.Errorf("niceStep(%g, %d) = %g, want %g", c.top, c.n, got, c.want)
		}
	}
}

func TestFailedPanelShowsZeroAndBurst(t *testing.T) {
	for _, c := range []struct {
		name   string
		burst  int
		height vg.Length // of the panel's data area
		want   string    // the y ticks
	}{
		{"no failure", 0, 200, "0 1 2 3 4 5"},
		{"one failure", 1, 200, "0 1 2 3 4 5"},
		{"naive burst", 12, 200, "0 5 10 15 20"},
		{"naive burst, short panel", 12, 100, "0 5 10 15 20 25"},
		{"large burst", 180, 200, "0 50 100 150 200 250"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := demoRun(1)
			for i := range r.Seconds {
				r.Seconds[i].Codes = map[int]int{200: r.Seconds[i].Requests}
			}
			r.Seconds[5].Codes[502] = c.burst
			f := newFigure(r)
			p := f.failed
			f.setFailedY(p, c.height)
			var labels []string
			for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
				labels = append(labels, tk.Label)
			}
			if got := strings.Join(labels, " "); got != c.want {
				t.Errorf("y ticks %q, want %q", got, c.want)
			}
			if p.Y.Min >= 0 {
				t.Errorf("y min %g: zero lies on the axis", p.Y.Min)
			}
			// The burst's bar, its count on top, stays under the top row kept for the texts.
			barTop := vg.Length((float64(c.burst)-p.Y.Min)/(p.Y.Max-p.Y.Min)) * c.height
			if barTop+barLabelStyle().Height("0") > c.height-totalsRowHeight() {
				t.Errorf("a bar of %d reaches %v of %v, into the texts' row", c.burst, barTop, c.height)
			}
			// And is not needlessly short.
			if c.burst >= 5 && float64(c.burst) < 0.4*p.Y.Max {
				t.Errorf("a bar of %d on an axis to %g", c.burst, p.Y.Max)
			}
		})
	}
}

func TestWindowText(t *testing.T) {
	for _, c := range []struct {
		w          Window
		head, tail string
	}{
		{Window{Name: "drainpipe", Requests: 12345}, "drainpipe: 0 failed", "of 12,345 requests"},
		{Window{Name: "naive", Requests: 4000, Failed: 25}, "naive: 25 failed", "of 4,000 requests"},
		{Window{Name: "big", Requests: 1234567, Failed: 1000}, "big: 1,000 failed", "of 1,234,567 requests"},
		{Window{Name: "none", Requests: 999}, "none: 0 failed", "of 999 requests"},
	} {
		head, tail := windowText(c.w)
		if head != c.head || tail != c.tail {
			t.Errorf("windowText(%+v) = %q, %q; want %q, %q", c.w, head, tail, c.head, c.tail)
		}
	}
}

func TestLabelsDoNotOverlap(t *testing.T) {
	r := crowdedRun()
	f := newFigure(r)
	// 10 instances 3 s each with long labels on a 600 pt axis: the labels take more than one row.
	scale := func(v float64) float64 { return v / f.end * 600 }
	labels := f.labelRows(func(v float64) vg.Length { return vg.Length(scale(v)) })
	if len(labels) != len(r.Marks) {
		t.Fatalf("%d labels for %d marks", len(labels), len(r.Marks))
	}
	rows := 0
	for _, l := range labels {
		rows = max(rows, l.row+1)
	}
	if rows < 2 {
		t.Errorf("crowded labels in %d row", rows)
	}
	if l := labels[0]; l.row != 0 {
		t.Errorf("the first label %q in row %d, want 0", l.mark.Label, l.row)
	}
	for i, a := range labels {
		for _, b := range labels[i+1:] {
			if a.row != b.row {
				continue
			}
			wa := textStyle(9.5, nil, a.mark.Bad).Width(a.mark.Label)
			wb := textStyle(9.5, nil, b.mark.Bad).Width(b.mark.Label)
			if a.x-wa/2 < b.x+wb/2 && b.x-wb/2 < a.x+wa/2 {
				t.Errorf("labels %q and %q overlap in row %d", a.mark.Label, b.mark.Label, a.row)
			}
		}
	}
}

func TestDrawRefusesWhatItCannotDraw(t *testing.T) {
	dir := t.TempDir()
	if err := Draw(filepath.Join(dir, "empty.png"), Run{Title: "empty"}); err == nil {
		t.Error("Draw drew a run without traffic")
	}
	if err := Draw(filepath.Join(dir, "run.gif"), demoRun(1)); err == nil {
		t.Error("Draw accepted a .gif")
	}
	if _, err := os.Stat(filepath.Join(dir, "run.gif")); err == nil {
		t.Error("Draw left a file for a format it refused")
	}
}

func TestDrawHandlesOddInput(t *testing.T) {
	dir := t.TempDir()
	one := []traffic.Second{{At: 0, Requests: 10, Codes: map[int]int{200: 10}}}
	for i, r := range []Run{
		{Seconds: one}, // a single (partial) second, no title, marks or windows
		{Seconds: one, Marks: []Mark{{Label: "unfinished", From: 0.2, To: 0}}, Windows: []Window{{Name: "w", To: 1, Requests: 10}}},
		{Seconds: demoRun(1).Seconds, Marks: []Mark{{Label: "beyond", From: 5, To: 500}}}, // a mark past the traffic widens the axis
	} {
		path := filepath.Join(dir, fmt.Sprintf("odd%d.png", i))
		if err := Draw(path, r); err != nil {
			t.Errorf("run %d: %v", i, err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("run %d: no picture: %v", i, err)
		}
	}
	if f := newFigure(Run{Seconds: one, Marks: []Mark{{From: 0.2, To: 0}}}); f.end != 1 {
		t.Errorf("end %g, want 1", f.end)
	} else if from, to := f.clamp(0.2, 0); from != 0.2 || to != 1 {
		t.Errorf("an unfinished mark spans %g..%g, want 0.2..1", from, to)
	}
}

// TestWindowTotalsClearOfBars lays the failed requests panel out as Draw does and checks
// that every window's totals are inside the panel, clear of the bars (and their counts)
// and of each other, that a window that lost nothing has its totals just above zero, and
// one that lost requests in the top row.
func TestWindowTotalsClearOfBars(t *testing.T) {
	for name, r := range map[string]Run{"demo": demoRun(3), "ten": demoRun(10), "crowded": crowdedRun(), "failed": failedRun()} {
		t.Run(name, func(t *testing.T) {
			f := newFigure(r)
			c := draw.New(vgimg.New(width, height))
			f.draw(c)
			d := f.data[1]
			totals := windowTotals{r.Windows, failureBars(f.run.Seconds)}
			placed := totals.layout(d, f.failed)
			if len(placed) != len(r.Windows) {
				t.Fatalf("%d totals placed for %d windows", len(placed), len(r.Windows))
			}
			overlap := func(a, b vg.Rectangle) bool {
				return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
			}
			_, y := f.failed.Transforms(&d)
			bars := totals.bars.obstacles(d, f.failed)
			for i, p := range placed {
				if p.rect.Min.X < d.Min.X || p.rect.Max.X > d.Max.X || p.rect.Min.Y < d.Min.Y || p.rect.Max.Y > d.Max.Y {
					t.Errorf("%s's totals %v outside the panel %v", p.window.Name, p.rect, d.Rectangle)
				}
				for _, b := range bars {
					if overlap(p.rect, b) {
						t.Errorf("%s's totals %v cover a bar %v", p.window.Name, p.rect, b)
					}
				}
				for _, q := range placed[i+1:] {
					if overlap(p.rect, q.rect) {
						t.Errorf("%s's and %s's totals overlap", p.window.Name, q.window.Name)
					}
				}
				switch {
				case p.window.Failed > 0 && p.rect.Max.Y < d.Max.Y-totalsRowHeight():
					t.Errorf("%s lost requests but its totals are below the top row", p.window.Name)
				case p.window.Name == "drainpipe" && p.window.Failed == 0 && p.rect.Min.Y > y(0)+vg.Points(10):
					t.Errorf("drainpipe lost nothing but its totals are not just above zero")
				}
			}
		})
	}
}
