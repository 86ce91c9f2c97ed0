// Command drainpipe-lab runs the lab's demo (make demo): the post's scenario on a local
// fleet behind an ALB-faithful load balancer, first rebooted the naive way, then by
// drainpipe's real state machine. It exits 1 if the drainpipe run lost any request or
// any execution failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/drainpipe/drainpipe/internal/cli"
	"github.com/drainpipe/drainpipe/lab"
	"github.com/drainpipe/drainpipe/lab/demo"
)

func main() {
	profile := flag.String("profile", "demo", "demo (twenty times AWS speed) or realistic (AWS speed, 300 s deregistration delay)")
	scale := flag.Float64("scale", 0, "real seconds per lab second (0: the profile's)")
	instances := flag.Int("instances", 3, "instances in the fleet")
	rate := flag.Float64("rate", 200, "client requests per second (-1: closed loop, see -clients)")
	clients := flag.Int("clients", 32, "concurrent clients")
	naive := flag.Bool("naive", true, "reboot the first instance the naive way first")
	outDir := flag.String("out", "lab-output", "folder for the chart")
	flag.Parse()
	if problems := checkFlags(*rate, *scale, *instances, *clients); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "drainpipe-lab:", p)
		}
		os.Exit(2)
	}

	var cfg lab.Config
	switch *profile {
	case "demo":
		cfg = lab.Demo()
	case "realistic":
		cfg = lab.Realistic()
	default:
		fmt.Fprintf(os.Stderr, "unknown profile %q: demo or realistic\n", *profile)
		os.Exit(2)
	}
	if *scale > 0 {
		cfg.Scale = *scale
	}
	if *instances != cfg.Instances {
		cfg.Instances = *instances
		cfg.Groups[0].Members = nil
		for k := range *instances {
			cfg.Groups[0].Members = append(cfg.Groups[0].Members, lab.Member{Instance: k})
		}
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chartPath := filepath.Join(*outDir, "drainpipe-lab.png")
	// The functions log as they would to CloudWatch Logs, a JSON line each (the audit
	// trail's "change" lines among them), with the invocation's request id: to a file, so
	// that the terminal shows the demo.
	logPath := filepath.Join(*outDir, "functions.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer logFile.Close()
	slog.SetDefault(slog.New(lab.FunctionLogHandler(logFile)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	size, _ := cli.Terminal(os.Stdout)
	rep, err := demo.Run(ctx, demo.Options{Config: cfg, Rate: *rate, Clients: *clients, Naive: *naive, Out: os.Stdout, Chart: chartPath,
		Size: size})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "\ninterrupted after %.1fs: %s\nthe lab stopped every process it started and removed its files\n", rep.Elapsed.Seconds(), done(rep))
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demo.PrintReport(os.Stdout, rep)
	fmt.Printf("\nchart: %s\nfunctions' logs (the audit trail: lines with \"message\":\"change\"): %s\nelapsed: %.1fs\n", chartPath, logPath, rep.Elapsed.Seconds())
	ok, result := verdict(rep, len(cfg.Groups[0].Members))
	fmt.Println("RESULT:", result)
	if !ok {
		os.Exit(1)
	}
}

// done says what an interrupted run had done.
func done(rep demo.Report) string {
	var parts []string
	if rep.NaiveTo > 0 {
		naive := rep.Totals[demo.PhaseNaive]
		parts = append(parts, fmt.Sprintf("the naive reboot was done (it lost %d of %d requests)", naive.Failed(), naive.Requests))
	}
	maintained := 0
	for _, ex := range rep.Executions {
		if ex.Succeeded {
			maintained++
		}
	}
	if rep.DrainpipeFrom > 0 {
		parts = append(parts, fmt.Sprintf("drainpipe had maintained %d instance(s) and taken out %d", maintained, len(rep.Executions)))
	}
	if len(parts) == 0 {
		return "nothing was maintained yet"
	}
	return strings.Join(parts, "; ")
}

// verdict is the run's result line, and whether drainpipe did what it promises: every
// instance maintained, none failed, no request lost. A run that did not maintain says so,
// not that requests were lost.
func verdict(rep demo.Report, instances int) (bool, string) {
	lost, requests := rep.DrainpipeLost(), rep.Totals[demo.PhaseDrainpipe].Requests
	var failed []string
	maintained := 0
	for _, ex := range rep.Executions {
		if ex.Succeeded {
			maintained++
		} else {
			failed = append(failed, ex.InstanceID+" "+ex.Error)
		}
	}
	naive := ""
	if rep.NaiveTo > 0 {
		t := rep.Totals[demo.PhaseNaive]
		naive = fmt.Sprintf(" (the naive reboot lost %d of %d)", t.Failed(), t.Requests)
	}
	switch {
	case lost > 0:
		return false, fmt.Sprintf("drainpipe LOST %d of %d requests%s", lost, requests, naive)
	case len(failed) > 0:
		return false, fmt.Sprintf("%d execution(s) failed: %s; no request was lost", len(failed), strings.Join(failed, ", "))
	case maintained < instances:
		return false, fmt.Sprintf("drainpipe maintained only %d of %d instances (the rollout stopped or skipped the rest); no request was lost", maintained, instances)
	}
	return true, fmt.Sprintf("drainpipe maintained %d instances and lost 0 of %d requests%s", maintained, requests, naive)
}

// checkFlags names every flag value the demo cannot run with.
func checkFlags(rate, scale float64, instances, clients int) []string {
	var problems []string
	if rate <= 0 && rate != -1 {
		problems = append(problems, fmt.Sprintf("-rate %g: give requests per second above 0, or -1 for a closed loop of -clients", rate))
	}
	if scale < 0 {
		problems = append(problems, fmt.Sprintf("-scale %g: give real seconds per lab second above 0, or 0 for the profile's", scale))
	}
	if instances < 2 {
		problems = append(problems, fmt.Sprintf("-instances %d: the demo needs at least 2, since drainpipe refuses to take out a group's last healthy target (LastHealthyTarget)", instances))
	}
	if clients < 1 {
		problems = append(problems, fmt.Sprintf("-clients %d: give at least 1", clients))
	}
	return problems
}
