package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// changing are the AWS calls that change something drainpipe answers for: registrations,
// commands, tags, executions, and the capacity table's items (reservations and leases).
// The rollouts table's writes (internal/rollout) are the rollout's own record, not a
// change to the fleet.
var changing = map[string]bool{
	"DeregisterTargets": true, "RegisterTargets": true, "SendCommand": true, "CancelCommand": true,
	"CreateTags": true, "StopExecution": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true,
}

// TestEveryChangeIsAudited: every function in the product that makes one of the changing
// calls also records it (audit.Record), so no change is left out of the trail.
func TestEveryChangeIsAudited(t *testing.T) {
	fset := token.NewFileSet()
	found := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Skipped: the rollout's own record (internal/rollout); the lab's map of
		// handlers; and the operators' command (internal/cli), which acts for a person
		// (CloudTrail records their calls), not for an execution.
		if d.IsDir() && (path == filepath.Join("..", "rollout") || path == filepath.Join("..", "handlers") ||
			path == filepath.Join("..", "cli")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var calls []string
			audited := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "audit" && sel.Sel.Name == "Record" {
					audited = true
				}
				if changing[sel.Sel.Name] && len(call.Args) == 2 {
					calls = append(calls, sel.Sel.Name)
				}
				return true
			})
			found += len(calls)
			if len(calls) > 0 && !audited {
				t.Errorf("%s: %s calls %v and records no audit line", fset.Position(fn.Pos()), fn.Name.Name, calls)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d changing calls, each in a function that records it", found)
	if found < 12 {
		t.Errorf("found %d changing calls; the walk missed the product's packages", found)
	}
}
