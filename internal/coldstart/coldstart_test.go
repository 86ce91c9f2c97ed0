package coldstart

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// program builds a main package made of src in a temporary directory and returns the
// binary's path. It is a plain go build, not Build: it reuses what building this test
// compiled (net/http), so the test stays quick on empty caches.
func program(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module program\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "bootstrap", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bootstrap")
}

// deadline is a context that ends well within the test's deadline, for one ColdStart.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout+5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestColdStartAsks(t *testing.T) {
	path := program(t, `package main

import (
	"net/http"
	"os"
)

// main asks for its first invocation and waits for it (the API never answers).
func main() {
	if _, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/next"); err != nil {
		os.Exit(1)
	}
}
`)
	d, err := ColdStart(deadline(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d >= Timeout {
		t.Errorf("cold start %v, want between 0 and %v", d, Timeout)
	}
}

func TestColdStartExits(t *testing.T) {
	path := program(t, `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "loading AWS config: no region")
	os.Exit(1)
}
`)
	_, err := ColdStart(deadline(t), path)
	if err == nil || !strings.Contains(err.Error(), "loading AWS config: no region") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("ColdStart of a process that exits: %v, want an error with its stderr", err)
	}
}

func TestZipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "binary")
	content := bytes.Repeat([]byte("bootstrap "), 1000)
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeZip(&buf, path); err != nil {
		t.Fatal(err)
	}
	n, err := Zipped(path)
	if err != nil || n != int64(buf.Len()) || n >= int64(len(content)) {
		t.Fatalf("Zipped = %d, %v; want the archive's %d bytes, fewer than the file's %d", n, err, buf.Len(), len(content))
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || zr.File[0].Method != zip.Deflate {
		t.Fatalf("archive holds %+v, want bootstrap alone, executable, deflated", zr.File)
	}
	r, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("bootstrap in the archive: %d bytes, %v; want the file's %d", len(got), err, len(content))
	}
}

// TestRealBootstrapsStart: a real function (one that makes an SDK client, and one that
// makes none) starts as Lambda starts it, builds its AWS config from Lambda's
// environment (package start) and asks for its first invocation.
func TestRealBootstrapsStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two functions")
	}
	for _, fn := range []string{"check-drain", "summarize"} {
		path := filepath.Join(t.TempDir(), "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", path, "./lambdas/"+fn)
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", fn, err, out)
		}
		if d, err := ColdStart(deadline(t), path); err != nil || d <= 0 {
			t.Errorf("%s: %v, %v", fn, d, err)
		}
	}
}

// TestBuildFlagsMatchTheMakefile: the bench measures what make build deploys.
func TestBuildFlagsMatchTheMakefile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "LAMBDA_BUILD_FLAGS :=") {
			line = strings.TrimSpace(strings.TrimPrefix(l, "LAMBDA_BUILD_FLAGS :="))
		}
	}
	var quoted []string
	for _, f := range BuildFlags {
		if strings.Contains(f, " ") {
			f = `"` + f + `"`
		}
		quoted = append(quoted, f)
	}
	if want := strings.Join(quoted, " "); line != want {
		t.Errorf("the Makefile builds with %q, the bench with %q", line, want)
	}
}
