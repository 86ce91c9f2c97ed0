// Package chart owns the lab's picture of a run: requests and failed requests per second
// through the load balancer, with each instance's time out of service shaded phase by
// phase, the local equivalent of the post's CloudWatch graph of RequestCount and
// HTTPCode_ELB_5XX_Count.
//
// The picture has two panels sharing the time axis. The top one is requests per second,
// with every instance's time out of service shaded and split into its phases (draining,
// maintenance, ...), each instance labelled above its band. The bottom one is failed
// requests per second on its own axis, so that a burst of a few 502s is tall, with each
// traffic window's totals written on it: in red when it lost requests, in green with a
// thick green line on zero when it lost none.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/drainpipe/drainpipe/lab/traffic"
)

// Segment is one phase inside an instance's time out of service, in real seconds since
// the traffic started. Phases are coloured from a fixed palette in the order their names
// first appear in the run, each with a legend entry.
type Segment struct {
	// Phase names the phase, e.g. "draining", "maintenance", "health check", "returning".
	Phase    string
	From, To float64
}

// Mark is an instance's time out of service (or the naive reboot), in real seconds since
// the traffic started. A To before From means the instance was still out of service when
// the traffic stopped: the band runs to the end of the chart.
type Mark struct {
	// Label is written above the band, e.g. the instance's id or "naive reboot".
	Label    string
	From, To float64
	// Bad marks the naive reboot or a failed execution: drawn red.
	Bad bool
	// Segments split the band into phases; may be empty (the naive reboot has none).
	Segments []Segment
}

// Window is a phase of the traffic (e.g. "naive", "drainpipe") with its totals, written
// on the chart's failed requests panel.
type Window struct {
	// Name is the phase's name, e.g. "naive", written with the totals.
	Name     string
	From, To float64
	// Requests and Failed are the phase's totals: requests sent, requests without a 2xx.
	Requests, Failed int
}

// Run is what the chart shows.
type Run struct {
	// Title is written at the top of the chart.
	Title string
	// Seconds is the traffic, one entry per real second; the last one, still partial
	// when the traffic stopped, is left out. Draw refuses a run without any.
	Seconds []traffic.Second
	// Marks are shaded on both panels, labelled above the top one.
	Marks []Mark
	// Windows' totals are written on the failed requests panel.
	Windows []Window
}

// Size of the picture.
const (
	width  = 12 * vg.Inch
	height = 7.5 * vg.Inch
)

// Colours.
var (
	ink        = color.NRGBA{R: 0x22, G: 0x22, B: 0x22, A: 0xff}
	requestInk = color.NRGBA{R: 0x1f, G: 0x2a, B: 0x44, A: 0xff}
	red        = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	redFill    = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0x55}
	green      = color.NRGBA{R: 0x1a, G: 0x9a, B: 0x3a, A: 0xff}
	grey       = color.NRGBA{R: 0x99, G: 0x99, B: 0x99, A: 0x48}
	gridInk    = color.NRGBA{R: 0xcc, G: 0xcc, B: 0xcc, A: 0xff}
	windowInk  = color.NRGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff}
)

// palette colours the phases in order of first appearance (the Okabe-Ito colours, told
// apart by colour-blind readers too, without their red: red means lost requests here).
var palette = []color.NRGBA{
	{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
	{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // blue
	{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky blue
	{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, // bluish green
	{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // reddish purple
	{R: 0xf0, G: 0xe4, B: 0x42, A: 0xff}, // yellow
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
	{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
}

// bandAlpha is the opacity of the phase bands on the requests panel, errorBandAlpha on the
// failed requests panel (fainter, behind the failures).
const (
	bandAlpha      = 0x70
	errorBandAlpha = 0x30
)

func withAlpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

// Draw writes the chart to path; the extension (.png, .svg) picks the format.
func Draw(path string, r Run) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if len(r.Seconds) == 0 {
		return errors.New("chart: no traffic to draw")
	}
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	newFigure(r).draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing chart %s: %w", path, err)
	}
	return f.Close()
}

// figure is a run laid out: the two panels and what is drawn around them.
type figure struct {
	run      Run
	end      float64 // the end of the time axis
	phases   []string
	colours  map[string]color.NRGBA
	requests *plot.Plot
	failed   *plot.Plot
	legend   [][]legendEntry
	// data is where draw put the panels' data areas, requests then failed requests.
	data [2]draw.Canvas
}

func newFigure(r Run) *figure {
	secs := r.Seconds
	if len(secs) > 1 {
		secs = secs[:len(secs)-1] // the last second is still partial
	}
	r.Seconds = secs
	f := &figure{run: r, colours: map[string]color.NRGBA{}}
	for _, s := range secs {
		f.end = max(f.end, float64(s.At+1))
	}
	for _, m := range r.Marks {
		f.end = max(f.end, m.From, m.To)
	}
	for _, w := range r.Windows {
		f.end = max(f.end, w.From, w.To)
	}
	f.phases = phaseOrder(r.Marks)
	for i, p := range f.phases {
		f.colours[p] = palette[i%len(palette)]
	}
	f.requests = f.requestsPanel()
	f.failed = f.failedPanel()
	f.legend = f.legendEntries()
	return f
}

// phaseOrder is the phase names of the marks' segments in order of first appearance.
func phaseOrder(marks []Mark) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range marks {
		for _, s := range m.Segments {
			if !seen[s.Phase] {
				seen[s.Phase] = true
				out = append(out, s.Phase)
			}
		}
	}
	return out
}

// span is a shaded stretch of time, a band over the whole height of a panel.
type span struct {
	from, to float64
	fill     color.Color
	outline  color.Color // nil: none
}

// spans is the marks as bands: each segment in its phase's colour, a mark without
// segments in red (Bad) or grey, a Bad mark with segments outlined red.
func (f *figure) spans(alpha uint8) []span {
	var out []span
	for _, m := range f.run.Marks {
		from, to := f.clamp(m.From, m.To)
		if len(m.Segments) == 0 {
			fill := color.Color(grey)
			if m.Bad {
				fill = withAlpha(red, uint8(min(255, int(alpha)*3/4)))
			}
			out = append(out, span{from: from, to: to, fill: fill})
			continue
		}
		for _, s := range m.Segments {
			sf, st := f.clamp(s.From, s.To)
			out = append(out, span{from: sf, to: st, fill: withAlpha(f.colours[s.Phase], alpha)})
		}
		if m.Bad {
			out = append(out, span{from: from, to: to, outline: red})
		}
	}
	return out
}

// clamp orders a stretch of time, reading a To before From as "until the end".
func (f *figure) clamp(from, to float64) (float64, float64) {
	if to < from {
		to = f.end
	}
	return max(from, 0), min(to, f.end)
}

// bands draws spans over the whole height of the data area.
type bands []span

func (b bands) Plot(c draw.Canvas, p *plot.Plot) {
	x, _ := p.Transforms(&c)
	for _, s := range b {
		x0, x1 := x(s.from), x(s.to)
		if x1-x0 < vg.Points(1) { // keep a very short phase visible
			x1 = x0 + vg.Points(1)
		}
		rect := []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}
		if s.fill != nil {
			c.FillPolygon(s.fill, c.ClipPolygonX(rect))
		}
		if s.outline != nil {
			c.StrokeLines(draw.LineStyle{Color: s.outline, Width: vg.Points(1.5)}, c.ClipLinesX(append(rect, rect[0]))...)
		}
	}
}

// grid draws vertical grid lines at xs, horizontal ones at the labelled y ticks.
type grid struct{ xs []float64 }

func (g grid) Plot(c draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&c)
	sty := draw.LineStyle{Color: gridInk, Width: vg.Points(0.5)}
	for _, v := range g.xs {
		if px := x(v); c.ContainsX(px) {
			c.StrokeLine2(sty, px, c.Min.Y, px, c.Max.Y)
		}
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if py := y(t.Value); !t.IsMinor() && c.ContainsY(py) {
			c.StrokeLine2(sty, c.Min.X, py, c.Max.X, py)
		}
	}
}

// windowLines draws a dashed line at each window's start (but the one at 0).
type windowLines []Window

func (w windowLines) Plot(c draw.Canvas, p *plot.Plot) {
	x, _ := p.Transforms(&c)
	sty := draw.LineStyle{Color: windowInk, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	for _, win := range w {
		if win.From <= p.X.Min {
			continue
		}
		if px := x(win.From); c.ContainsX(px) {
			c.StrokeLine2(sty, px, c.Min.Y, px, c.Max.Y)
		}
	}
}

// steps is a per-second series drawn as steps: each second's value held over the second.
func steps(secs []traffic.Second, value func(traffic.Second) float64) plotter.XYs {
	var xys plotter.XYs
	for _, s := range secs {
		v := value(s)
		xys = append(xys, plotter.XY{X: float64(s.At), Y: v}, plotter.XY{X: float64(s.At + 1), Y: v})
	}
	return xys
}

// requestsPanel is the top panel: requests per second over the bands of the marks.
func (f *figure) requestsPanel() *plot.Plot {
	p := newPanel()
	line := &plotter.Line{XYs: steps(f.run.Seconds, func(s traffic.Second) float64 { return float64(s.Requests) }),
		LineStyle: draw.LineStyle{Color: requestInk, Width: vg.Points(1.5)}}
	p.Add(bands(f.spans(bandAlpha)), grid{xs: f.majorXs()}, windowLines(f.run.Windows), line)
	// The axes, set after Add, which would widen them to the data.
	top := 1
	for _, s := range f.run.Seconds {
		top = max(top, s.Requests)
	}
	step := niceStep(float64(top)*1.15, 6)
	p.Y.Min, p.Y.Max = 0, math.Ceil(float64(top)*1.15/step)*step
	p.Y.Tick.Marker = valueTicks(p.Y.Min, p.Y.Max, step, 0)
	p.Y.Label.Text = "requests per second"
	f.setX(p, false)
	return p
}

// failedPanel is the bottom panel: failed requests per second as bars over fainter bands
// of the marks, a thick green zero over every window that lost nothing, and the windows'
// totals.
func (f *figure) failedPanel() *plot.Plot {
	p := newPanel()
	line := &plotter.Line{XYs: steps(f.run.Seconds, func(s traffic.Second) float64 { return float64(s.Failed()) }),
		LineStyle: draw.LineStyle{Color: red, Width: vg.Points(1.5)}}
	p.Add(bands(f.spans(errorBandAlpha)), grid{xs: f.majorXs()}, windowLines(f.run.Windows),
		failureBars(f.run.Seconds), line, zeroLines(f.run.Windows), windowTotals{f.run.Windows, failureBars(f.run.Seconds)})
	p.Y.Label.Text = "failed requests per second"
	f.setX(p, true)
	f.setFailedY(p, 3*vg.Inch) // until draw knows the panel's height
	return p
}

// setFailedY sets the failed requests axis for a data area of the given height: from a
// little below zero, so that zero is a line of its own above the axis, to a round number
// high enough that the highest bar and its count stay under the top textRows rows kept
// for the window totals; at least 5, so that a single failure is a short bar and no failure at
// all is plainly nothing. Its ticks are integers.
func (f *figure) setFailedY(p *plot.Plot, dataHeight vg.Length) {
	const below = 0.08 // of the axis' top
	top := 0
	for _, s := range f.run.Seconds {
		top = max(top, s.Failed())
	}
	// The bar's top must be at most room of the data area's height up.
	room := float64((dataHeight - textRows*totalsRowHeight() - barLabelStyle().Height("0") - vg.Points(4)) / dataHeight)
	share := (1+below)*max(room, 0.3) - below // of the axis' top, from zero up
	ceiling := max(5, float64(top)/share)
	step := max(1, niceStep(ceiling, 5))
	p.Y.Max = math.Ceil(ceiling/step-1e-9) * step
	p.Y.Min = -below * p.Y.Max
	p.Y.Tick.Marker = valueTicks(0, p.Y.Max, step, 0)
}

// newPanel is a plot with the chart's fonts.
func newPanel() *plot.Plot {
	p := plot.New()
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		// Only the fonts: the styles' alignments and rotations place the texts.
		a.Label.TextStyle.Font = textStyle(11, ink, false).Font
		a.Tick.Label.Font = textStyle(10, ink, false).Font
		a.Padding = vg.Points(2)
	}
	return p
}

// setX gives a panel the shared time axis, with tick labels on the bottom panel only.
func (f *figure) setX(p *plot.Plot, labelled bool) {
	p.X.Min, p.X.Max = 0, f.end
	major, minor := tickStep(f.end)
	if labelled {
		p.X.Tick.Marker = valueTicks(0, f.end, major, minor)
		p.X.Label.Text = "seconds since the traffic started (real time)"
		return
	}
	p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var out []plot.Tick
		for _, v := range tickValues(lo, hi, major) {
			out = append(out, plot.Tick{Value: v})
		}
		return out
	})
}

func (f *figure) majorXs() []float64 {
	major, _ := tickStep(f.end)
	return tickValues(0, f.end, major)
}

// failureBars fills each second's failed requests as a bar, the counts written on top
// when every one of them fits over its bar.
type failureBars []traffic.Second

// bar is a second's failed requests on the canvas: its rectangle and its count.
type bar struct {
	rect  vg.Rectangle
	label string
}

func barLabelStyle() text.Style {
	sty := textStyle(9, red, true)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	return sty
}

// bars lays the bars out on c; labelled tells whether their counts fit.
func (b failureBars) bars(c draw.Canvas, p *plot.Plot) (out []bar, labelled bool) {
	x, y := p.Transforms(&c)
	sty := barLabelStyle()
	labelled = true
	for _, s := range b {
		n := s.Failed()
		if n == 0 {
			continue
		}
		r := vg.Rectangle{Min: vg.Point{X: x(float64(s.At)), Y: y(0)}, Max: vg.Point{X: x(float64(s.At + 1)), Y: y(float64(n))}}
		out = append(out, bar{rect: r, label: strconv.Itoa(n)})
		labelled = labelled && sty.Width(strconv.Itoa(n)) <= r.Max.X-r.Min.X+vg.Points(3)
	}
	return out, labelled
}

// obstacles is the area the bars and their counts cover, which texts must avoid.
func (b failureBars) obstacles(c draw.Canvas, p *plot.Plot) []vg.Rectangle {
	bars, labelled := b.bars(c, p)
	var out []vg.Rectangle
	for _, br := range bars {
		r := br.rect
		if labelled {
			r.Max.Y += barLabelStyle().Height(br.label) + vg.Points(2)
		}
		out = append(out, r)
	}
	return out
}

func (b failureBars) Plot(c draw.Canvas, p *plot.Plot) {
	bars, labelled := b.bars(c, p)
	sty := barLabelStyle()
	for _, br := range bars {
		r := br.rect
		c.FillPolygon(redFill, c.ClipPolygonXY([]vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}))
		if labelled {
			c.FillText(sty, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: r.Max.Y + vg.Points(1)}, br.label)
		}
	}
}

// zeroLines draws a thick green line on zero over every window that lost no request.
type zeroLines []Window

func (z zeroLines) Plot(c draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&c)
	sty := draw.LineStyle{Color: green, Width: vg.Points(4)}
	for _, w := range z {
		if w.Failed != 0 || w.To <= w.From {
			continue
		}
		c.StrokeLines(sty, c.ClipLinesX([]vg.Point{{X: x(w.From), Y: y(0)}, {X: x(w.To), Y: y(0)}})...)
	}
}

// windowTotals writes each window's totals over the failed requests panel: in red in the
// top rows for a window that lost requests, in green just above its zero line for one
// that lost none. A text sits beside its window's failures, or centred on its window,
// or else flush with one of its edges, kept inside the panel, clear of the bars and of the other texts: when the
// place it prefers is taken it moves to the next top row.
type windowTotals struct {
	windows []Window
	bars    failureBars
}

// textRows is how many rows of window totals the top of the failed requests panel keeps
// clear of bars.
const textRows = 1

func totalsStyles(w Window) (head, tail text.Style) {
	head, tail = textStyle(11, green, true), textStyle(10, green, false)
	if w.Failed > 0 {
		head.Color, tail.Color = red, red
	}
	head.YAlign, tail.YAlign = draw.YTop, draw.YTop
	return head, tail
}

// totalsRowHeight is the height of a row of window totals, with its margin.
func totalsRowHeight() vg.Length {
	head, tail := totalsStyles(Window{})
	return head.Height("M") + tail.Height("M") + vg.Points(10)
}

// placedTotals is a window's totals and where they are written.
type placedTotals struct {
	window Window
	rect   vg.Rectangle
}

// totalsInset is the margin inside a window's totals' white backing.
const totalsInset = 5 // points

// layout places the windows' totals on c.
func (t windowTotals) layout(c draw.Canvas, p *plot.Plot) []placedTotals {
	x, y := p.Transforms(&c)
	taken := t.bars.obstacles(c, p)
	inset := vg.Points(totalsInset)
	free := func(r vg.Rectangle) bool {
		if r.Min.X < c.Min.X || r.Max.X > c.Max.X || r.Min.Y < c.Min.Y || r.Max.Y > c.Max.Y {
			return false
		}
		for _, o := range taken {
			if r.Min.X < o.Max.X && o.Min.X < r.Max.X && r.Min.Y < o.Max.Y && o.Min.Y < r.Max.Y {
				return false
			}
		}
		return true
	}
	// The windows that lost requests are placed first: they take the top row.
	order := make([]Window, 0, len(t.windows))
	for _, w := range t.windows {
		if w.Failed > 0 {
			order = append(order, w)
		}
	}
	for _, w := range t.windows {
		if w.Failed == 0 {
			order = append(order, w)
		}
	}
	var out []placedTotals
	rowH := totalsRowHeight()
	for _, w := range order {
		head, tail := windowText(w)
		hs, ts := totalsStyles(w)
		wd := max(hs.Width(head), ts.Width(tail)) + 2*inset
		ht := hs.Height(head) + ts.Height(tail) + 2*inset
		x0, x1 := x(max(w.From, p.X.Min)), x(min(w.To, p.X.Max))
		// Beside the window's failures, then centred, flush left, flush right.
		var want []vg.Length
		last := math.Inf(-1)
		for _, s := range t.bars {
			if at := float64(s.At); s.Failed() > 0 && at+1 > w.From && at < w.To {
				last = max(last, at+1)
			}
		}
		if !math.IsInf(last, -1) {
			want = append(want, x(last)+vg.Points(4))
		}
		want = append(want, (x0+x1-wd)/2, x0, x1-wd)
		var lefts []vg.Length
		for _, l := range want {
			lefts = append(lefts, min(max(l, c.Min.X), c.Max.X-wd))
		}
		// Just above zero for a window that lost nothing, then the rows from the top down.
		var bottoms []vg.Length
		if w.Failed == 0 {
			bottoms = append(bottoms, y(0)+vg.Points(4))
		}
		for b := c.Max.Y - rowH + (rowH-ht)/2; b >= c.Min.Y; b -= rowH {
			bottoms = append(bottoms, b)
		}
		place := vg.Rectangle{Min: vg.Point{X: lefts[0], Y: bottoms[0]}, Max: vg.Point{X: lefts[0] + wd, Y: bottoms[0] + ht}}
	search: // else, crowded: the preferred place, over whatever is there
		for _, b := range bottoms {
			for _, l := range lefts {
				if r := (vg.Rectangle{Min: vg.Point{X: l, Y: b}, Max: vg.Point{X: l + wd, Y: b + ht}}); free(r) {
					place = r
					break search
				}
			}
		}
		taken = append(taken, place)
		out = append(out, placedTotals{window: w, rect: place})
	}
	return out
}

func (t windowTotals) Plot(c draw.Canvas, p *plot.Plot) {
	inset := vg.Points(totalsInset)
	for _, pt := range t.layout(c, p) {
		r := pt.rect
		head, tail := windowText(pt.window)
		hs, ts := totalsStyles(pt.window)
		// A white backing keeps the text readable over the bands.
		c.FillPolygon(color.NRGBA{R: 255, G: 255, B: 255, A: 0xd8}, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
		c.FillText(hs, vg.Point{X: r.Min.X + inset, Y: r.Max.Y - inset}, head)
		c.FillText(ts, vg.Point{X: r.Min.X + inset, Y: r.Max.Y - inset - hs.Height(head)}, tail)
	}
}

// windowText is a window's totals as written on the chart, in two lines.
func windowText(w Window) (head, tail string) {
	return fmt.Sprintf("%s: %s failed", w.Name, thousands(w.Failed)), fmt.Sprintf("of %s requests", thousands(w.Requests))
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// tickStep is the major and minor x tick steps, in seconds, for a time axis of span
// seconds: the smallest round step that gives at most 12 major ticks.
func tickStep(span float64) (major, minor float64) {
	steps := []struct{ major, minor float64 }{
		{1, 0}, {2, 1}, {5, 1}, {10, 2}, {15, 5}, {20, 5}, {30, 10}, {60, 10},
		{120, 30}, {300, 60}, {600, 120}, {1200, 300}, {1800, 600}, {3600, 600},
	}
	for _, s := range steps {
		if span/s.major <= 12 {
			return s.major, s.minor
		}
	}
	major = math.Ceil(span/12/3600) * 3600
	return major, major / 6
}

// niceStep is the smallest step of 1, 2 or 5 times a power of ten that divides 0..top in
// at most n steps.
func niceStep(top float64, n int) float64 {
	if top <= 0 || n <= 0 {
		return 1
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickValues is the multiples of step from lo to hi.
func tickValues(lo, hi, step float64) []float64 {
	var out []float64
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+1e-9; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0, which would be labelled "-0"
		}
		out = append(out, v)
	}
	return out
}

// valueTicks labels the multiples of major from lo to hi, with unlabelled ticks at the
// multiples of minor (0: none) in between.
func valueTicks(lo, hi, major, minor float64) plot.Ticker {
	return plot.TickerFunc(func(float64, float64) []plot.Tick {
		var out []plot.Tick
		for _, v := range tickValues(lo, hi, major) {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
		if minor > 0 {
			for _, v := range tickValues(lo, hi, minor) {
				if r := math.Mod(v, major); r > 1e-9 && major-r > 1e-9 {
					out = append(out, plot.Tick{Value: v})
				}
			}
		}
		return out
	})
}

func textStyle(size float64, c color.Color, bold bool) text.Style {
	fnt := font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
	if bold {
		fnt.Weight = xfont.WeightBold
	}
	return text.Style{Color: c, Font: fnt, Handler: plot.DefaultTextHandler}
}

// legendEntry is a legend's swatch and text; an entry without a swatch leads a row.
type legendEntry struct {
	text  string
	thumb func(c draw.Canvas)
}

// legendEntries is the legend in rows: the series, then what the bands are: the phases
// in order of first appearance, then the marks without phases and the failed executions.
func (f *figure) legendEntries() [][]legendEntry {
	line := func(c color.Color, w vg.Length) func(draw.Canvas) {
		return func(dc draw.Canvas) {
			y := (dc.Min.Y + dc.Max.Y) / 2
			dc.StrokeLine2(draw.LineStyle{Color: c, Width: w}, dc.Min.X, y, dc.Max.X, y)
		}
	}
	box := func(fill, outline color.Color) func(draw.Canvas) {
		return func(dc draw.Canvas) {
			pts := []vg.Point{{X: dc.Min.X, Y: dc.Min.Y}, {X: dc.Max.X, Y: dc.Min.Y}, {X: dc.Max.X, Y: dc.Max.Y}, {X: dc.Min.X, Y: dc.Max.Y}}
			if fill != nil {
				dc.FillPolygon(fill, pts)
			}
			if outline != nil {
				dc.StrokeLines(draw.LineStyle{Color: outline, Width: vg.Points(1.5)}, append(pts, pts[0]))
			}
		}
	}
	series := []legendEntry{
		{"requests per second", line(requestInk, vg.Points(1.5))},
		{"failed requests per second", box(redFill, red)},
	}
	for _, w := range f.run.Windows {
		if w.Failed == 0 {
			series = append(series, legendEntry{"no request failed", line(green, vg.Points(4))})
			break
		}
	}
	bands := []legendEntry{{text: "out of service:"}}
	for _, p := range f.phases {
		bands = append(bands, legendEntry{p, box(withAlpha(f.colours[p], bandAlpha), nil)})
	}
	var plain, bad, failed bool
	for _, m := range f.run.Marks {
		switch {
		case m.Bad && len(m.Segments) == 0:
			bad = true
		case m.Bad:
			failed = true
		case len(m.Segments) == 0:
			plain = true
		}
	}
	if plain {
		bands = append(bands, legendEntry{"phases not known", box(grey, nil)})
	}
	if bad {
		bands = append(bands, legendEntry{"not drained (reboot in place)", box(withAlpha(red, bandAlpha*3/4), nil)})
	}
	if failed {
		bands = append(bands, legendEntry{"failed execution", box(nil, red)})
	}
	if len(bands) == 1 {
		return [][]legendEntry{series}
	}
	return [][]legendEntry{series, bands}
}

// draw lays the figure out on c: title, legend, instance labels, then the two panels.
func (f *figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	c = draw.Crop(c, vg.Points(8), -vg.Points(16), vg.Points(6), -vg.Points(8))

	title := textStyle(15, ink, true)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	if f.run.Title != "" {
		c.FillText(title, vg.Point{X: c.Center().X, Y: c.Max.Y}, f.run.Title)
		c.Max.Y -= title.Height(f.run.Title) + vg.Points(6)
	}
	c.Max.Y -= f.drawLegend(c) + vg.Points(6)

	// The panels' data areas share their left and right edges, set by the wider of their
	// y axes; the labels above the requests panel take rows as their x positions demand;
	// the failed requests axis fits the height left to its panel, which may widen its
	// tick labels: twice settles it.
	plots := []*plot.Plot{f.requests, f.failed}
	label := textStyle(9.5, ink, false)
	lineH := label.Height("M") + vg.Points(3)
	gap := vg.Points(10)
	var (
		left, right vg.Length
		xOf         func(float64) vg.Length
		labels      []labelled
		panels      []draw.Canvas
	)
	for range 2 {
		left, right = 0, 0
		for _, p := range plots {
			d := p.DataCanvas(c)
			left, right = max(left, d.Min.X-c.Min.X), max(right, c.Max.X-d.Max.X)
		}
		dataX0, dataX1 := c.Min.X+left, c.Max.X-right
		xOf = func(v float64) vg.Length { return dataX0 + vg.Length(v/f.end)*(dataX1-dataX0) }
		labels = f.labelRows(xOf)
		rows := 0
		for _, l := range labels {
			rows = max(rows, l.row+1)
		}
		below := c
		below.Max.Y -= vg.Length(rows)*lineH + vg.Points(6)
		total := below.Max.Y - below.Min.Y
		bottomH := (total - gap) * 0.44
		panels = []draw.Canvas{draw.Crop(below, 0, 0, bottomH+gap, 0), draw.Crop(below, 0, 0, 0, -(total - bottomH))}
		d := f.failed.DataCanvas(panels[1])
		f.setFailedY(f.failed, d.Max.Y-d.Min.Y)
	}
	for i, p := range plots {
		d := p.DataCanvas(panels[i])
		panels[i] = draw.Crop(panels[i], left-(d.Min.X-panels[i].Min.X), (panels[i].Max.X-d.Max.X)-right, 0, 0)
		p.Draw(panels[i])
		f.data[i] = p.DataCanvas(panels[i])
	}
	topData := f.data[0]
	// Each mark: a bracket over its band on top of the requests panel, its label above.
	for _, l := range labels {
		m := l.mark
		sty := label
		bracket := ink
		if m.Bad {
			sty = textStyle(9.5, red, true)
			bracket = red
		}
		x0, x1 := xOf(l.from), xOf(l.to)
		base := topData.Max.Y + vg.Points(3)
		c.StrokeLines(draw.LineStyle{Color: bracket, Width: vg.Points(1.5)},
			[]vg.Point{{X: x0, Y: base - vg.Points(3)}, {X: x0, Y: base}, {X: x1, Y: base}, {X: x1, Y: base - vg.Points(3)}})
		y := base + vg.Points(2) + vg.Length(l.row)*lineH
		if l.row > 0 {
			c.StrokeLine2(draw.LineStyle{Color: windowInk, Width: vg.Points(0.5)}, (x0+x1)/2, base, (x0+x1)/2, y)
		}
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
		c.FillText(sty, vg.Point{X: l.x, Y: y}, m.Label)
	}
}

// labelled is a mark's label placed in a row above the requests panel.
type labelled struct {
	mark     Mark
	from, to float64
	x        vg.Length // the label's centre
	row      int
}

// labelRows places the marks' labels centred over their bands, each in the lowest row
// where it overlaps no other label.
func (f *figure) labelRows(xOf func(float64) vg.Length) []labelled {
	var out []labelled
	var ends []vg.Length // the right end of the last label of each row
	for _, m := range f.run.Marks {
		if m.Label == "" {
			continue
		}
		from, to := f.clamp(m.From, m.To)
		sty := textStyle(9.5, ink, m.Bad)
		w := sty.Width(m.Label)
		cx := (xOf(from) + xOf(to)) / 2
		cx = max(cx, xOf(0)+w/2)
		row := 0
		for row < len(ends) && cx-w/2 < ends[row]+vg.Points(6) {
			row++
		}
		if row == len(ends) {
			ends = append(ends, 0)
		}
		ends[row] = cx + w/2
		out = append(out, labelled{mark: m, from: from, to: to, x: cx, row: row})
	}
	return out
}

// drawLegend writes the legend in rows across the top of c, each row centred, a row
// too wide for c wrapped, and returns its height.
func (f *figure) drawLegend(c draw.Canvas) vg.Length {
	sty := textStyle(10, ink, false)
	sty.YAlign = draw.YCenter
	lead := textStyle(10, ink, true)
	lead.YAlign = draw.YCenter
	thumbW, thumbH, after, between := vg.Points(22), vg.Points(10), vg.Points(5), vg.Points(16)
	lineH := max(sty.Height("M"), thumbH) + vg.Points(5)
	width := func(e legendEntry) vg.Length {
		if e.thumb == nil {
			return lead.Width(e.text) + vg.Points(8)
		}
		return thumbW + after + sty.Width(e.text) + between
	}
	var rows [][]legendEntry
	var rowW []vg.Length
	for _, group := range f.legend {
		for i, e := range group {
			if n := len(rows); i == 0 || rowW[n-1]+width(e) > c.Max.X-c.Min.X {
				rows, rowW = append(rows, nil), append(rowW, 0)
			}
			rows[len(rows)-1] = append(rows[len(rows)-1], e)
			rowW[len(rows)-1] += width(e)
		}
	}
	for r, row := range rows {
		x := c.Center().X - (rowW[r]-between)/2
		y := c.Max.Y - vg.Length(r)*lineH - lineH/2
		for _, e := range row {
			if e.thumb == nil {
				c.FillText(lead, vg.Point{X: x, Y: y}, e.text)
				x += width(e)
				continue
			}
			e.thumb(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - thumbH/2}, Max: vg.Point{X: x + thumbW, Y: y + thumbH/2}}})
			c.FillText(sty, vg.Point{X: x + thumbW + after, Y: y}, e.text)
			x += width(e)
		}
	}
	return vg.Length(len(rows)) * lineH
}
