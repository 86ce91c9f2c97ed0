package coldstart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// runs is how many times each bootstrap is started; the median is reported.
const runs = 20

// baselineCommit is the commit whose check-drain the bootstraps are compared with: the last
// one where every function linked the code and the clients of all the others.
const baselineCommit = "464891e"

// baselineFlags are the build flags of the Makefile at baselineCommit: the baseline is
// built as it was deployed.
var baselineFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// bootstrap is one function's binary: its size and zipped size as deployed (linux/arm64),
// a build for this machine to start, and the cold starts measured.
type bootstrap struct {
	name          string
	bytes, zipped int64
	host          string
	starts        []time.Duration
}

// median is the median of the cold starts, in milliseconds.
func (f *bootstrap) median() float64 {
	s := slices.Sorted(slices.Values(f.starts))
	m := (s[(len(s)-1)/2] + s[len(s)/2]) / 2
	return float64(m) / float64(time.Millisecond)
}

// buildBootstrap builds the package pkg of the module in dir as deployed, to measure it,
// and for this machine, to start it.
func buildBootstrap(b *testing.B, name, dir, pkg string, flags []string) *bootstrap {
	b.Helper()
	build := func(goos, goarch string) string {
		path, err := Build(dir, pkg, goos, goarch, flags)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
		return path
	}
	deployed := build("linux", "arm64")
	fi, err := os.Stat(deployed)
	if err != nil {
		b.Fatal(err)
	}
	zipped, err := Zipped(deployed)
	if err != nil {
		b.Fatal(err)
	}
	return &bootstrap{name: name, bytes: fi.Size(), zipped: zipped, host: build(runtime.GOOS, runtime.GOARCH)}
}

// coldStart starts each bootstrap runs times, in turn, so that whatever else the machine
// does weighs on all of them alike.
func coldStart(b *testing.B, fs ...*bootstrap) {
	b.Helper()
	for range runs {
		for _, f := range fs {
			d, err := ColdStart(b.Context(), f.host)
			if err != nil {
				b.Fatalf("%s: %v", f.name, err)
			}
			f.starts = append(f.starts, d)
		}
	}
}

func printHeader() {
	fmt.Printf("%-24s %12s %12s %14s\n", "function", "bytes", "zipped bytes", "cold start ms")
}

func printRow(f *bootstrap) {
	fmt.Printf("%-24s %12d %12d %14.1f\n", f.name, f.bytes, f.zipped, f.median())
}

// BenchmarkBootstraps builds every function under lambdas/ as the Makefile does and reports
// its size, its zipped size (the deployment package) and its median cold start against a
// Runtime API on loopback (run on this machine's build of it). Then it compares
// check-drain with its build at baselineCommit, measured in the same run. It does its work
// once, whatever -benchtime says.
func BenchmarkBootstraps(b *testing.B) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}

	b.Run("functions", func(b *testing.B) {
		entries, err := os.ReadDir(filepath.Join(root, "lambdas"))
		if err != nil {
			b.Fatal(err)
		}
		var fs []*bootstrap
		for _, e := range entries {
			if e.IsDir() {
				fs = append(fs, buildBootstrap(b, e.Name(), root, "./lambdas/"+e.Name(), BuildFlags))
			}
		}
		if len(fs) == 0 {
			b.Fatal("no function under lambdas/")
		}
		coldStart(b, fs...)

		var total, largest int64
		var slowest float64
		printHeader()
		for _, f := range fs {
			printRow(f)
			total += f.zipped
			largest = max(largest, f.bytes)
			slowest = max(slowest, f.median())
		}
		fmt.Printf("%-24s %12s %12d\n", fmt.Sprintf("total (%d functions)", len(fs)), "", total)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(total), "zipped-bytes-total")
		b.ReportMetric(float64(largest), "bytes-max")
		b.ReportMetric(slowest, "cold-start-ms-max")
	})

	b.Run("baseline", func(b *testing.B) {
		tree := b.TempDir()
		archive, err := exec.Command("git", "-C", root, "archive", "--format=tar", baselineCommit).Output()
		if err != nil {
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
			}
			b.Skipf("no baseline: cannot archive commit %s of %s with git: %v", baselineCommit, root, err)
		}
		untar := exec.Command("tar", "-x", "-C", tree)
		untar.Stdin = bytes.NewReader(archive)
		if out, err := untar.CombinedOutput(); err != nil {
			b.Fatalf("extracting commit %s: %v\n%s", baselineCommit, err, out)
		}
		base := buildBootstrap(b, "check-drain@"+baselineCommit, tree, "./lambdas/check-drain", baselineFlags)
		now := buildBootstrap(b, "check-drain", root, "./lambdas/check-drain", BuildFlags)
		coldStart(b, base, now)

		ratio := now.median() / base.median()
		printHeader()
		printRow(base)
		printRow(now)
		fmt.Printf("cold start check-drain / check-drain@%s: %.2f\n", baselineCommit, ratio)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(base.bytes), "baseline-bytes")
		b.ReportMetric(float64(base.zipped), "baseline-zipped-bytes")
		b.ReportMetric(base.median(), "baseline-cold-start-ms")
		b.ReportMetric(float64(now.bytes), "bytes")
		b.ReportMetric(float64(now.zipped), "zipped-bytes")
		b.ReportMetric(now.median(), "cold-start-ms")
		b.ReportMetric(ratio, "cold-start-ratio")
	})

	// What turning inlining off (-gcflags=all=-l, in BuildFlags) costs and saves, on the
	// largest function and the smallest with a client.
	b.Run("inlining", func(b *testing.B) {
		inlined := slices.DeleteFunc(slices.Clone(BuildFlags), func(f string) bool { return f == "-gcflags=all=-l" })
		printHeader()
		for _, fn := range []string{"plan-rollout", "check-drain"} {
			with := buildBootstrap(b, fn+" (inlined)", root, "./lambdas/"+fn, inlined)
			without := buildBootstrap(b, fn, root, "./lambdas/"+fn, BuildFlags)
			coldStart(b, with, without)
			printRow(with)
			printRow(without)
			b.ReportMetric(float64(with.bytes-without.bytes), fn+"-bytes-saved")
			b.ReportMetric(without.median()-with.median(), fn+"-cold-start-ms-added")
		}
		b.ReportMetric(0, "ns/op")
	})
}
