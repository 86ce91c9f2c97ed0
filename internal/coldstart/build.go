package coldstart

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildFlags are the go build flags of a deployed bootstrap: the Makefile's
// LAMBDA_BUILD_FLAGS (a test compares them).
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-gcflags=all=-l", "-ldflags", "-s -w"}

// Build builds the package pkg (a path such as ./lambdas/check-drain) of the module in dir
// for goos and goarch, static, with the flags (BuildFlags: as the Makefile's build target
// does), and returns the path of the binary: a file named bootstrap in a new temporary
// directory, which the caller removes.
func Build(dir, pkg, goos, goarch string, flags []string) (path string, err error) {
	out, err := os.MkdirTemp("", "coldstart-build-")
	if err != nil {
		return "", err
	}
	path = filepath.Join(out, "bootstrap")
	args := append(append([]string{"build"}, flags...), "-o", path, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(out)
		return "", fmt.Errorf("go build %s for %s/%s in %s: %v\n%s", pkg, goos, goarch, dir, err, output)
	}
	return path, nil
}

// Zipped is the size of a zip archive (Deflate) holding the file at path as an executable
// named bootstrap: a Lambda deployment package for a custom runtime.
func Zipped(path string) (int64, error) {
	var n counter
	if err := writeZip(&n, path); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// writeZip writes to w a zip archive holding the file at path as bootstrap.
func writeZip(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	h.Name, h.Method = "bootstrap", zip.Deflate
	h.SetMode(0o755)
	zw := zip.NewWriter(w)
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fw, f); err != nil {
		return err
	}
	return zw.Close()
}

// counter is an io.Writer that counts the bytes written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}
