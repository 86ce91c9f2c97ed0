// Package coldstart measures the deployed Lambda bootstraps: their size, their zipped size
// (the deployment package) and their cold start against a Lambda Runtime API played on
// loopback. The cold start is the time from starting the process to its first request for
// an invocation: what the function's init costs before it can serve one (the process
// start, the Go runtime, package initialisation, loading the AWS configuration, building
// the clients and the handler).
package coldstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// nextPath is the Runtime API's route a bootstrap calls, once initialised, for its next
// invocation.
const nextPath = "/2018-06-01/runtime/invocation/next"

// Timeout is how long ColdStart waits for a bootstrap's first request for an invocation.
const Timeout = 10 * time.Second

// runtimeAPI is a Runtime API that never has an invocation: it sends the time of the first
// request for one on next, and holds every such request until its client goes away.
type runtimeAPI struct {
	next chan time.Time // buffered, one
	once sync.Once
}

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != nextPath {
		http.NotFound(w, r)
		return
	}
	at := time.Now()
	a.once.Do(func() { a.next <- at })
	<-r.Context().Done()
}

// ColdStart runs the bootstrap at path as Lambda would, against a Runtime API on
// 127.0.0.1, and returns the time from just before the process starts to its first request
// for an invocation. The process gets a clean environment: the Lambda variables, a region,
// dummy credentials (so that loading the AWS configuration looks nowhere else), no instance
// metadata and an empty HOME. It is killed once it has asked. ColdStart fails if the
// process exits before asking or has not asked within Timeout; the error then holds the
// end of its output (stderr, and stdout, where the functions log).
func ColdStart(ctx context.Context, path string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	api := &runtimeAPI{next: make(chan time.Time, 1)}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: Timeout}
	go srv.Serve(ln)
	defer srv.Close() // also ends the held request

	home, err := os.MkdirTemp("", "coldstart-home-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(home)

	var output bytes.Buffer
	cmd := exec.Command(path)
	cmd.Dir = home
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=coldstart",
		"AWS_SECRET_ACCESS_KEY=coldstart",
		"AWS_LAMBDA_FUNCTION_NAME=coldstart",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"_HANDLER=bootstrap",
		"HOME=" + home,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.WaitDelay = time.Second // in case the process leaves its output open to a child

	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// stop kills the process if it is still running and waits for it (and its output).
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}

	select {
	case at := <-api.next:
		stop()
		return at.Sub(start), nil
	case err := <-exited:
		select {
		case at := <-api.next: // it asked, then exited at once
			return at.Sub(start), nil
		default:
		}
		return 0, fmt.Errorf("%s exited before asking for an invocation (%v): %s", path, err, tail(output.String()))
	case <-ctx.Done():
		stop()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Errorf("%s did not ask for an invocation within %v: %s", path, time.Since(start).Round(time.Millisecond), tail(output.String()))
		}
		return 0, ctx.Err()
	}
}

// tail is the end of a process's output, enough to show why it failed.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	if s == "" {
		return "no output"
	}
	return s
}
