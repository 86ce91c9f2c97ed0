package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/drainpipe/drainpipe/infra/settings"
)

var (
	// regionLiteral matches a region name such as us-east-1, eu-west-1, ap-southeast-2,
	// us-gov-west-1, cn-north-1.
	regionLiteral = regexp.MustCompile(`\b[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central)(east|west)?-[0-9]+\b`)
	// accountLiteral matches a 12-digit number standing alone (not inside a hash).
	accountLiteral = regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{12}($|[^0-9A-Za-z])`)
)

// literals lists every region name and 12-digit account id written in a template's
// strings (keys and values), leaving out the target group ARNs, which name their own
// region and account, and the Rules section, which TestTargetGroupRule checks.
func literals(tpl map[string]any, groups []string) []string {
	var found []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				walk(path+"/"+k, k)
				walk(path+"/"+k, t[k])
			}
		case []any:
			for i, x := range t {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case string:
			for _, g := range groups {
				t = strings.ReplaceAll(t, g, "<target group>")
			}
			for _, m := range regionLiteral.FindAllString(t, -1) {
				found = append(found, path+": region "+m)
			}
			for _, m := range accountLiteral.FindAllString(t, -1) {
				found = append(found, path+": account "+strings.Trim(m, `"/:- `))
			}
		}
	}
	for k, v := range tpl {
		if k != "Rules" {
			walk(k, v)
		}
	}
	return found
}

// TestTemplatesAreRegionAndAccountAgnostic: without an explicit account or region in the
// context, neither stack names a region or an account anywhere but in the target group
// ARNs: every ARN is built from AWS::Partition, AWS::Region and AWS::AccountId, whatever
// CDK_DEFAULT_REGION and CDK_DEFAULT_ACCOUNT say (the CDK CLI sets them, and TestMain
// does).
func TestTemplatesAreRegionAndAccountAgnostic(t *testing.T) {
	if os.Getenv("CDK_DEFAULT_REGION") == "" || os.Getenv("CDK_DEFAULT_ACCOUNT") == "" {
		t.Fatal("TestMain sets the CLI's default account and region")
	}
	s := synth(t)
	for name, tpl := range map[string]map[string]any{"Drainpipe": s.drainpipe, "DrainpipeDemo": s.demo} {
		for _, l := range literals(tpl, []string{tgARN}) {
			t.Errorf("%s: %s", name, l)
		}
	}
	// The check itself finds what it looks for.
	b, _ := json.Marshal(map[string]any{"Resources": map[string]any{"X": map[string]any{"Properties": map[string]any{
		"A": "arn:aws:sns:us-east-1:111111111111:t", "B": tgARN, "C": "cdk-hnb659fds-assets-1a2b3c4d5e6f7a8b9c0d-x.zip"}}}})
	var probe map[string]any
	_ = json.Unmarshal(b, &probe)
	if got := literals(probe, []string{tgARN}); len(got) != 2 {
		t.Errorf("the probe's literals: %v, want its region and account only", got)
	}
	// An explicit environment is written out.
	if len(literals(blue(t).drainpipe, []string{tgARN})) == 0 {
		t.Error("with an explicit account and region the template names neither")
	}
}

// TestTargetGroupRule: the template refuses, at deploy, an account or region other than
// the target groups' (a CloudFormation Rules assertion, checked before any resource).
func TestTargetGroupRule(t *testing.T) {
	s := synth(t)
	rules, _ := s.drainpipe["Rules"].(map[string]any)
	got, _ := json.Marshal(rules["TargetGroupsInThisAccountAndRegion"])
	want := `{"Assertions":[` +
		`{"Assert":{"Fn::Equals":[{"Ref":"AWS::Region"},"eu-west-1"]},"AssertDescription":"the target groups (context targetGroupArns) are in region eu-west-1: deploy the stack there"},` +
		`{"Assert":{"Fn::Equals":[{"Ref":"AWS::AccountId"},"123456789012"]},"AssertDescription":"the target groups (context targetGroupArns) are in account 123456789012: deploy the stack there"}]}`
	if string(got) != want {
		t.Errorf("rule\n%s\nwant\n%s", got, want)
	}
}

// TestExplicitEnvironmentMustBeTheGroups: an explicit account or region that is not the
// target groups' fails synth, naming both; so does a prefix too long.
func TestExplicitEnvironmentMustBeTheGroups(t *testing.T) {
	for key, value := range map[string]string{"region": "us-east-1", "account": "210987654321"} {
		ctx := baseContext()
		ctx[key] = value
		err := synthWith(ctx).err
		if !errors.Is(err, settings.ErrEnvironmentMismatch) || !strings.Contains(err.Error(), value) {
			t.Errorf("%s %s: error %v, want %v naming %s", key, value, err, settings.ErrEnvironmentMismatch, value)
		}
	}
	// So does a prefix that makes a name too long for AWS.
	ctx := baseContext()
	ctx["namePrefix"] = strings.Repeat("p", 45)
	if err := synthWith(ctx).err; !errors.Is(err, settings.ErrNamePrefix) || !strings.Contains(err.Error(), "at most 44 characters") {
		t.Errorf("a 45-character prefix: error %v, want %v", err, settings.ErrNamePrefix)
	}
}

// physicalNames are the properties that give a resource a fixed name in its account
// and region; other top-level ...Name properties are allowed only if listed in
// notPhysical.
var physicalNames = map[string]string{
	"AWS::Lambda::Function": "FunctionName", "AWS::StepFunctions::StateMachine": "StateMachineName",
	"AWS::DynamoDB::Table": "TableName", "AWS::SNS::Topic": "TopicName", "AWS::Logs::LogGroup": "LogGroupName",
	"AWS::CloudWatch::Dashboard": "DashboardName", "AWS::Scheduler::Schedule": "Name", "AWS::Scheduler::ScheduleGroup": "Name",
	"AWS::Events::Rule": "Name", "AWS::SQS::Queue": "QueueName", "AWS::KMS::Alias": "AliasName",
	"AWS::CloudWatch::Alarm": "AlarmName",
}

// notPhysical are ...Name properties that name nothing account-wide.
var notPhysical = []string{"AWS::IAM::Policy.PolicyName", "AWS::SNS::Topic.DisplayName", "AWS::Scheduler::Schedule.GroupName",
	"AWS::CloudWatch::Alarm.MetricName"}

// fixedNames lists a template's fixed physical names, and its problems: a resource of a
// named kind without a fixed name, or a ...Name property nobody classified.
func fixedNames(tpl map[string]any) (names, problems []string) {
	resources, _ := tpl["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		typ := fmt.Sprint(res["Type"])
		props, _ := res["Properties"].(map[string]any)
		prop, named := physicalNames[typ]
		if named {
			name, ok := props[prop].(string)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s %s has no fixed %s", typ, id, prop))
				continue
			}
			names = append(names, typ+" "+name)
		}
		for k, v := range props {
			if _, literal := v.(string); literal && strings.HasSuffix(k, "Name") && k != prop && !slices.Contains(notPhysical, typ+"."+k) {
				problems = append(problems, fmt.Sprintf("%s %s: %s %v is a name nobody classified", typ, id, k, v))
			}
		}
	}
	return names, problems
}

// TestTwoPrefixesShareNoName: two copies with different prefixes (each with its demo)
// have no fixed physical name or stack name in common; every name of the second carries
// its prefix.
func TestTwoPrefixesShareNoName(t *testing.T) {
	s, blue := synth(t), blue(t)
	first, problems := fixedNames(s.drainpipe)
	second, more := fixedNames(blue.drainpipe)
	for _, p := range append(problems, more...) {
		t.Error(p)
	}
	if len(first) < 40 || len(first) != len(second) {
		t.Errorf("%d and %d fixed names", len(first), len(second))
	}
	for _, n := range second {
		if slices.Contains(first, n) {
			t.Errorf("both copies have %s", n)
		}
		if !strings.Contains(n, "blue") {
			t.Errorf("%s does not carry the prefix blue", n)
		}
	}
	stacks := []string{*s.stack.StackName(), *s.demoStack.StackName(), *blue.stack.StackName(), *blue.demoStack.StackName()}
	if want := []string{"Drainpipe", "DrainpipeDemo", "Drainpipe-blue", "DrainpipeDemo-blue"}; !slices.Equal(stacks, want) {
		t.Errorf("stack names %v, want %v", stacks, want)
	}
	// The functions learn the prefix's table and topic through the state machines'
	// substitutions, and the state machines the prefix's functions.
	subs := map[string]bool{}
	for _, sm := range resources(blue.drainpipe, "AWS::StepFunctions::StateMachine") {
		b, _ := json.Marshal(sm["DefinitionSubstitutions"])
		subs[string(b)] = true
	}
	for _, sm := range resources(s.drainpipe, "AWS::StepFunctions::StateMachine") {
		b, _ := json.Marshal(sm["DefinitionSubstitutions"])
		if !subs[string(b)] {
			t.Errorf("the substitutions differ between the copies beyond references: %s", b)
		}
	}
}
