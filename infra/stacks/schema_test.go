package stacks

import (
	"testing"

	"github.com/drainpipe/drainpipe/infra/cfnspec"
)

// TestTemplatesMatchTheResourceSchemas: both synthesized templates (the default context,
// and one with another prefix and an explicit environment) pass the CloudFormation
// resource schemas of @aws-cdk/aws-service-spec: known types, known properties,
// required properties present, literal values of the right primitive type. Without the
// schemas (make tools installs them) the test fails.
func TestTemplatesMatchTheResourceSchemas(t *testing.T) {
	path, err := cfnspec.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfnspec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, other := synth(t), blue(t)
	total := 0
	for name, tpl := range map[string]map[string]any{"Drainpipe": s.drainpipe, "DrainpipeDemo": s.demo,
		"Drainpipe-blue": other.drainpipe, "DrainpipeDemo-blue": other.demo} {
		problems, checked := spec.Validate(tpl)
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		t.Logf("%s: %d resources validated", name, checked)
		total += checked
	}
	// The check reads the template: a property renamed is found.
	broken := deepCopy(s.drainpipe)
	for _, r := range broken["Resources"].(map[string]any) {
		if props, ok := r.(map[string]any)["Properties"].(map[string]any); ok && props["FunctionName"] != nil {
			props["FunctionNames"] = props["FunctionName"]
			delete(props, "FunctionName")
			break
		}
	}
	if problems, _ := spec.Validate(broken); len(problems) != 1 {
		t.Errorf("a renamed property gives %v", problems)
	}
	t.Logf("%d resources validated against %d resource types (@aws-cdk/aws-service-spec %s)", total, spec.Types(), spec.Version())
}
