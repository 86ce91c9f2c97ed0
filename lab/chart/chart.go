// Package chart owns the lab's picture of a run: requests and failed requests per second
// through the load balancer, with each instance's time out of service shaded, the local
// equivalent of the post's CloudWatch graph of RequestCount and HTTPCode_ELB_5XX_Count.
package chart

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/drainpipe/drainpipe/lab/traffic"
)

// Mark is a span of the run to shade, in real seconds since the traffic started.
type Mark struct {
	Label    string
	From, To float64
	// Bad marks a span that dropped requests (drawn red), others are drawn green.
	Bad bool
}

// Draw writes the chart to path; the extension (.png, .svg) picks the format.
func Draw(path, title string, seconds []traffic.Second, marks []Mark) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the traffic started (real time)"
	p.Y.Label.Text = "requests per second"
	p.Legend.Top = true
	p.Legend.Left = true

	if n := len(seconds); n > 1 {
		seconds = seconds[:n-1] // the last second is still partial
	}
	requests, failed := make(plotter.XYs, len(seconds)), make(plotter.XYs, len(seconds))
	top := 1.0
	for i, s := range seconds {
		x := float64(s.At) + 0.5
		requests[i] = plotter.XY{X: x, Y: float64(s.Requests)}
		failed[i] = plotter.XY{X: x, Y: float64(s.Failed())}
		top = max(top, float64(s.Requests))
	}
	good, bad := color.NRGBA{R: 60, G: 170, B: 60, A: 70}, color.NRGBA{R: 220, G: 60, B: 60, A: 80}
	for _, m := range marks {
		shade, err := plotter.NewPolygon(plotter.XYs{{X: m.From, Y: 0}, {X: m.To, Y: 0}, {X: m.To, Y: top * 1.2}, {X: m.From, Y: top * 1.2}})
		if err != nil {
			return err
		}
		shade.Color = good
		if m.Bad {
			shade.Color = bad
		}
		shade.LineStyle.Color = color.Transparent
		p.Add(shade)
		label, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: m.From, Y: top * 1.22}}, Labels: []string{m.Label}})
		if err != nil {
			return err
		}
		label.TextStyle[0].Font.Size = vg.Points(8)
		p.Add(label)
	}
	reqLine, err := plotter.NewLine(requests)
	if err != nil {
		return err
	}
	reqLine.Color = color.RGBA{B: 200, A: 255}
	reqLine.Width = vg.Points(1.5)
	failLine, err := plotter.NewLine(failed)
	if err != nil {
		return err
	}
	failLine.Color = color.RGBA{R: 220, A: 255}
	failLine.Width = vg.Points(1.5)
	p.Add(reqLine, failLine)
	p.Legend.Add("requests (RequestCount)", reqLine)
	p.Legend.Add("non-2xx answers (HTTPCode_ELB_5XX_Count)", failLine)
	p.Legend.Add("instance out of rotation (drainpipe)", legendSwatch(good))
	p.Legend.Add("naive reboot, no draining", legendSwatch(bad))
	p.Legend.Left = false
	p.Legend.YOffs = vg.Points(4)
	p.Y.Min = 0
	p.Y.Max = top * 1.75
	if err := p.Save(10*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving chart %s: %w", path, err)
	}
	return nil
}

func legendSwatch(c color.Color) plot.Thumbnailer { return swatchThumb{c} }

type swatchThumb struct{ c color.Color }

func (s swatchThumb) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}
