package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestUsageAndValidation: what needs no AWS. Bad command lines and inputs exit 2 with a
// message that says what is wrong; a valid input validates.
func TestUsageAndValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"instanceId": "i-0123456789abcdef0", "maintenance": {"action": "reboot"}}`)
	bad := write("bad.json", `{"instanceId": "i-0123456789abcdef0", "maintenance": {"action": "restart"}}`)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "name a command"},
		{[]string{"help"}, ExitOK, "drainpipe validate"},
		{[]string{"fly"}, ExitUsage, `unknown command "fly"`},
		{[]string{"validate", "instance", good}, ExitOK, "valid"},
		{[]string{"validate", "instance", good, "--output", "json"}, ExitOK, `{"valid":true}`},
		{[]string{"validate", "instance", bad}, ExitUsage, "maintenance/action"},
		{[]string{"validate", "fleet", good}, ExitUsage, "fleet-input.schema.json"},
		{[]string{"validate", "instance", filepath.Join(dir, "missing.json")}, ExitUsage, "no such file"},
		{[]string{"validate", "instance"}, ExitUsage, "validate instance|fleet FILE"},
		{[]string{"validate", "instance", good, "--output", "yaml"}, ExitUsage, `--output "yaml"`},
		{[]string{"history", "--limit"}, ExitUsage, "flag needs an argument"},
		{[]string{"history", "--limit", "0"}, ExitUsage, "--limit 0: from 1 to 1000"},
		{[]string{"history", "--limit", "1001"}, ExitUsage, "--limit 1001"},
		{[]string{"abort", "x", "--timeout", "0s"}, ExitUsage, "--timeout 0s"},
		{[]string{"abort", "x", "--timeout", "soon"}, ExitUsage, "invalid value"},
		{[]string{"watch"}, ExitUsage, "watch EXECUTION"},
		{[]string{"abort"}, ExitUsage, "abort EXECUTION"},
		{[]string{"plan"}, ExitUsage, "plan FILE"},
		{[]string{"start", "instance"}, ExitUsage, "start instance|fleet FILE"},
		{[]string{"start", "rocket", good}, ExitUsage, `"rocket": instance or fleet`},
		{[]string{"start", "instance", bad}, ExitUsage, "maintenance/action"},
		{[]string{"validate", "instance", good, "--wat"}, ExitUsage, "flag provided but not defined: -wat"},
		// Interrupted: the context is cancelled before AWS answers, by Ctrl-C or by
		// SIGTERM; each command says where it leaves things.
		{[]string{"history", "--cancelled"}, ExitInterrupted, "interrupted; nothing was changed"},
		{[]string{"watch", "--terminated", "x"}, 143, "interrupted; the execution keeps running"},
		{[]string{"start", "--cancelled", "instance", good}, ExitInterrupted, "an execution it started keeps running"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		ctx := context.Background()
		if len(tt.args) > 1 && (tt.args[1] == "--cancelled" || tt.args[1] == "--terminated") {
			c, cancel := context.WithCancelCause(ctx)
			cause := Signaled{os.Interrupt}
			if tt.args[1] == "--terminated" {
				cause = Signaled{syscall.SIGTERM}
			}
			cancel(cause)
			ctx, tt.args = c, append(tt.args[:1:1], tt.args[2:]...)
		}
		code := Run(ctx, Env{Config: aws.Config{Region: "eu-west-1"}, Stdout: &out, Stderr: &errOut}, tt.args)
		if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", tt.args, code, tt.code, tt.want, out.String(), errOut.String())
		}
	}
}
