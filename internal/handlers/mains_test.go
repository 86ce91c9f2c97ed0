package handlers

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/internal/catalog"
)

// wiring is how a function's handler is made: the catalog entry's variable, and the
// constructor and method (or the function) that follow it, as source text.
type wiring struct{ entry, args string }

// callWiring reads catalog.<Entry>, then the other arguments, of a call.
func callWiring(fset *token.FileSet, call *ast.CallExpr) (wiring, bool) {
	if len(call.Args) < 2 {
		return wiring{}, false
	}
	sel, ok := call.Args[0].(*ast.SelectorExpr)
	if !ok {
		return wiring{}, false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "catalog" {
		return wiring{}, false
	}
	var args []string
	for _, a := range call.Args[1:] {
		var b strings.Builder
		_ = printer.Fprint(&b, fset, a)
		args = append(args, b.String())
	}
	return wiring{entry: sel.Sel.Name, args: strings.Join(args, ", ")}, true
}

// TestMainsMatchTheMap checks the catalog against lambdas/ and this package's map: one
// folder per catalog function, whose main starts that function with the same
// constructor and method as its entry in All, so the lab and the contract tests run
// what is deployed.
func TestMainsMatchTheMap(t *testing.T) {
	fset := token.NewFileSet()
	mapFile, err := parser.ParseFile(fset, "handlers.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	inMap := map[string]wiring{}
	ast.Inspect(mapFile, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && (id.Name == "bind" || id.Name == "bindFunc") {
				if w, ok := callWiring(fset, call); ok {
					inMap[w.entry] = w
				}
			}
		}
		return true
	})
	var names []string
	for _, f := range catalog.All {
		names = append(names, f.Name)
		if _, ok := All[f.Name]; !ok {
			t.Errorf("catalog function %s has no handler in All", f.Name)
		}
	}
	if len(All) != len(catalog.All) {
		t.Errorf("All has %d handlers, the catalog %d functions", len(All), len(catalog.All))
	}
	dirs, err := os.ReadDir(filepath.Join("..", "..", "lambdas"))
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, d := range dirs {
		folders = append(folders, d.Name())
		path := filepath.Join("..", "..", "lambdas", d.Name(), "main.go")
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Errorf("lambdas/%s: %v", d.Name(), err)
			continue
		}
		var started []wiring
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "start" {
						if w, ok := callWiring(fset, call); ok {
							started = append(started, w)
						}
					}
				}
			}
			return true
		})
		entry := catalog.Pascal(d.Name())
		if len(started) != 1 || started[0].entry != entry {
			t.Errorf("lambdas/%s/main.go starts %v, want catalog.%s", d.Name(), started, entry)
			continue
		}
		if want := inMap[entry]; started[0] != want {
			t.Errorf("lambdas/%s/main.go wires %q; the map wires %q", d.Name(), started[0].args, want.args)
		}
	}
	slices.Sort(names)
	if !slices.Equal(folders, names) {
		t.Errorf("lambdas/ folders %v differ from the catalog %v", folders, names)
	}
}

// TestEveryFunctionHasAContract: each catalog function has at least one contract fixture,
// which TestContracts or TestFleetContracts runs (they fail on a fixture without a golden).
func TestEveryFunctionHasAContract(t *testing.T) {
	for _, f := range catalog.All {
		inputs, _ := filepath.Glob(filepath.Join("testdata", "contract", f.Name, "*.input.json"))
		if len(inputs) == 0 {
			t.Errorf("%s has no contract fixture in testdata/contract/%s", f.Name, f.Name)
		}
	}
}

// sdkService is the SDK client package of an IAM action's service prefix.
var sdkService = map[string]string{
	"elasticloadbalancing": "elasticloadbalancingv2", "ssm": "ssm", "ec2": "ec2", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch", "autoscaling": "autoscaling",
	"sns": "sns", "states": "sfn",
	"kms": "", // the topic's key: SNS uses it on the function's behalf
}

// TestEachLambdaLinksOnlyWhatItUses: a function's bootstrap links the SDK clients of the
// services its catalog permissions name, and no other: not this package, not the lab, not
// the SDK's config package and the credential-source clients it would bring.
func TestEachLambdaLinksOnlyWhatItUses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const sdk = "github.com/aws/aws-sdk-go-v2/service/"
	for _, f := range catalog.All {
		allowed := map[string]bool{}
		for _, p := range f.Permissions {
			for _, a := range p.Actions {
				prefix, _, _ := strings.Cut(a, ":")
				svc, ok := sdkService[prefix]
				if !ok {
					t.Fatalf("%s: no SDK service known for %s", f.Name, a)
				}
				if svc != "" {
					allowed[svc] = true
				}
			}
		}
		out, err := exec.Command("go", "list", "-deps", "./../../lambdas/"+f.Name).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", f.Name, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(pkg, sdk) && !strings.Contains(pkg[len(sdk):], "/"):
				if svc := pkg[len(sdk):]; !allowed[svc] {
					t.Errorf("%s links the %s client, which its permissions do not use", f.Name, svc)
				}
			case strings.HasPrefix(pkg, "github.com/drainpipe/drainpipe/lab"), pkg == "github.com/drainpipe/drainpipe/internal/handlers",
				pkg == "github.com/aws/aws-sdk-go-v2/config":
				t.Errorf("%s links %s", f.Name, pkg)
			}
		}
	}
}
