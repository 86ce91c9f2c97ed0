// Package clock owns the lab's time scale. Every lab duration is written as AWS counts it
// (a 6 s health-check interval, a 30 s deregistration delay) and lasts Scale times as long
// in real time, so the demo runs in seconds while the realistic profile (Scale 1) runs at
// AWS speed. Now is lab time: it advances 1/Scale lab seconds per real second, so
// deadlines computed by the product's functions agree with the scaled world around them.
package clock

import (
	"context"
	"time"
)

// Clock maps lab time to real time.
type Clock struct {
	// Scale is real seconds per lab second: 0.05 runs the lab 20 times faster than AWS.
	Scale float64
	start time.Time
}

// New returns a clock whose lab time starts now.
func New(scale float64) *Clock {
	if scale <= 0 {
		scale = 1
	}
	return &Clock{Scale: scale, start: time.Now()}
}

// Real is the real duration of a lab duration.
func (c *Clock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.Scale)
}

// Seconds is the real duration of a number of lab seconds.
func (c *Clock) Seconds(s float64) time.Duration {
	return c.Real(time.Duration(s * float64(time.Second)))
}

// Lab is the lab duration of a real duration.
func (c *Clock) Lab(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Scale)
}

// Now is the current lab time.
func (c *Clock) Now() time.Time {
	return c.start.Add(c.Lab(time.Since(c.start)))
}

// Since is the lab time elapsed since the clock started, in lab seconds.
func (c *Clock) Since() float64 {
	return c.Lab(time.Since(c.start)).Seconds()
}

// Sleep waits a lab duration, or until ctx ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(c.Real(d))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
