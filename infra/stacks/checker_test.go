package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// This file is the policy checker: a function over a template's JSON that returns every
// way its policies, rule targets and schedules differ from what the tests expect (written
// out literally in policies_test.go). The normal tests run it on the synthesized
// template; the mutation test runs it on templates with one statement deleted, widened,
// unconditioned or given one more action, and requires a problem for each.

// cdkHash is the 8-character hash CDK appends to the logical ids of nested constructs.
var cdkHash = regexp.MustCompile(`[0-9A-F]{8}$`)

// logical is a logical id without CDK's hash: "ReserveCapacityRole03EA0D44" ->
// "ReserveCapacityRole". Top-level L1 resources (RestoreOnEnd) have none.
func logical(id string) string {
	if len(id) > 8 && cdkHash.MatchString(id) {
		return id[:len(id)-8]
	}
	return id
}

// render turns a template value into text: a string as it is, {"Ref": X} as ${X},
// {"Fn::GetAtt": [X, A]} as ${X.A}, {"Fn::Join": ["", [...]]} as the parts joined;
// logical ids lose CDK's hash. Anything else is its JSON.
func render(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		if len(t) == 1 {
			if ref, ok := t["Ref"].(string); ok {
				return "${" + logical(ref) + "}"
			}
			if att, ok := t["Fn::GetAtt"].([]any); ok && len(att) == 2 {
				return "${" + logical(fmt.Sprint(att[0])) + "." + fmt.Sprint(att[1]) + "}"
			}
			if join, ok := t["Fn::Join"].([]any); ok && len(join) == 2 {
				parts, _ := join[1].([]any)
				var out []string
				for _, p := range parts {
					out = append(out, render(p))
				}
				return strings.Join(out, fmt.Sprint(join[0]))
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// renderTree renders every intrinsic of a nested value (see render), keeping its shape;
// a list of one becomes its element, as IAM reads both alike.
func renderTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return render(t)
				}
			}
		}
		out := map[string]any{}
		for k, x := range t {
			out[k] = renderTree(x)
		}
		return out
	case []any:
		if len(t) == 1 {
			return renderTree(t[0])
		}
		var out []any
		for _, x := range t {
			out = append(out, renderTree(x))
		}
		return out
	default:
		return v
	}
}

// canonical is the JSON of a rendered value, keys sorted.
func canonical(v any) string {
	b, _ := json.Marshal(renderTree(v))
	return string(b)
}

// strs is a string-or-list value as a sorted list of rendered strings.
func strs(v any) []string {
	var out []string
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		for _, x := range t {
			out = append(out, render(x))
		}
	default:
		out = []string{render(t)}
	}
	sort.Strings(out)
	return out
}

// statement is a policy statement in canonical form.
type stmt struct {
	Effect, Principal string
	Actions           []string
	Resources         []string
	Condition         string
}

func (s stmt) String() string {
	var b strings.Builder
	b.WriteString(s.Effect)
	if s.Principal != "" {
		b.WriteString(" " + s.Principal)
	}
	b.WriteString(" " + strings.Join(s.Actions, ","))
	if s.Resources != nil {
		b.WriteString(" on " + strings.Join(s.Resources, " "))
	}
	if s.Condition != "" {
		b.WriteString(" if " + s.Condition)
	}
	return b.String()
}

// principal renders a statement's Principal: "*", "Service:events.amazonaws.com",
// "AWS:arn:...".
func principal(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(t)) {
			for _, x := range strs(t[k]) {
				parts = append(parts, k+":"+x)
			}
		}
		return strings.Join(parts, ",")
	}
	return render(v)
}

// parse reads one statement of a template; everything but Sid counts, and a key
// the checker does not know (NotAction, NotResource, NotPrincipal) is kept visible.
func parse(raw map[string]any) stmt {
	s := stmt{
		Effect:    fmt.Sprint(raw["Effect"]),
		Principal: principal(raw["Principal"]),
		Actions:   strs(raw["Action"]),
		Resources: strs(raw["Resource"]),
	}
	if c, ok := raw["Condition"]; ok {
		s.Condition = canonical(c)
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		switch k {
		case "Effect", "Principal", "Action", "Resource", "Condition", "Sid":
		default:
			s.Actions = append(s.Actions, "UNCHECKED-"+k+":"+canonical(raw[k]))
		}
	}
	return s
}

// want is an expected statement as the tests write it: actions and resources in any
// order, the condition as JSON with rendered tokens.
type want struct {
	effect, principal  string
	actions, resources []string
	condition          string
}

func (w want) stmt() stmt {
	s := stmt{Effect: w.effect, Principal: w.principal, Actions: slices.Sorted(slices.Values(w.actions))}
	if s.Effect == "" {
		s.Effect = "Allow"
	}
	if w.resources != nil {
		s.Resources = slices.Sorted(slices.Values(w.resources))
	}
	if w.condition != "" {
		var c any
		if err := json.Unmarshal([]byte(w.condition), &c); err != nil {
			panic("bad condition in a test: " + w.condition)
		}
		s.Condition = canonical(c)
	}
	return s
}

// policyBearing are resource types with a policy that the checker does not read: one
// of them in the template is a problem by itself.
var policyBearing = []string{"AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group", "AWS::Lambda::Permission",
	"AWS::S3::BucketPolicy", "AWS::Events::EventBusPolicy", "AWS::Logs::ResourcePolicy", "AWS::SecretsManager::ResourcePolicy",
	"AWS::KMS::ReplicaKey", "AWS::ECR::Repository", "AWS::SSM::Document", "AWS::OpenSearchService::Domain"}

// holders reads every policy statement of a template, by who holds it: "role X trust"
// (who may assume X), "role X" (what X may do: its policies), "key X", "topic X",
// "queue X". Problems are structural: a policy on several roles, a managed policy.
func holders(tpl map[string]any) (map[string][]stmt, []string) {
	out := map[string][]stmt{}
	var problems []string
	add := func(holder string, doc any) {
		d, _ := doc.(map[string]any)
		list, ok := d["Statement"].([]any)
		if !ok {
			problems = append(problems, holder+": a policy document without a statement list")
			return
		}
		for _, raw := range list {
			st, _ := raw.(map[string]any)
			out[holder] = append(out[holder], parse(st))
		}
	}
	resources, _ := tpl["Resources"].(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		res, _ := resources[id].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		typ := fmt.Sprint(res["Type"])
		switch typ {
		case "AWS::IAM::Role":
			add("role "+logical(id)+" trust", props["AssumeRolePolicyDocument"])
			if m := props["ManagedPolicyArns"]; m != nil {
				problems = append(problems, fmt.Sprintf("role %s has managed policies %s", logical(id), canonical(m)))
			}
			inline, _ := props["Policies"].([]any)
			for _, p := range inline {
				pm, _ := p.(map[string]any)
				add("role "+logical(id), pm["PolicyDocument"])
			}
			if _, ok := out["role "+logical(id)]; !ok {
				out["role "+logical(id)] = []stmt{}
			}
		case "AWS::IAM::Policy":
			roles, _ := props["Roles"].([]any)
			if len(roles) != 1 || props["Users"] != nil || props["Groups"] != nil {
				problems = append(problems, fmt.Sprintf("policy %s is attached to %s, want exactly one role", logical(id), canonical(props["Roles"])))
			}
			for _, r := range roles {
				add("role "+strings.Trim(render(r), "${}"), props["PolicyDocument"])
			}
		case "AWS::KMS::Key":
			add("key "+logical(id), props["KeyPolicy"])
		case "AWS::SNS::TopicPolicy":
			for _, t := range strs(props["Topics"]) {
				add("topic "+strings.Trim(t, "${}"), props["PolicyDocument"])
			}
		case "AWS::SQS::QueuePolicy":
			for _, q := range strs(props["Queues"]) {
				add("queue "+strings.Trim(q, "${}"), props["PolicyDocument"])
			}
		default:
			if slices.Contains(policyBearing, typ) {
				problems = append(problems, fmt.Sprintf("%s %s: a resource the policy checker does not expect", typ, logical(id)))
			}
		}
	}
	return out, problems
}

// expectation is what a template must hold: every holder's statements exactly, each
// rule's pattern and targets, each schedule's target.
type expectation struct {
	policies  map[string][]want
	rules     map[string]ruleWant     // by rule name
	schedules map[string]scheduleWant // by schedule name
}

type ruleWant struct{ pattern, targets string }

type scheduleWant struct{ group, expression, timezone, state, target string }

// check compares a template with the expectation and returns every difference.
func (e expectation) check(tpl map[string]any) []string {
	got, problems := holders(tpl)
	for _, holder := range slices.Sorted(maps.Keys(e.policies)) {
		if _, ok := got[holder]; !ok {
			problems = append(problems, holder+": missing from the template")
		}
	}
	for _, holder := range slices.Sorted(maps.Keys(got)) {
		wants, expected := e.policies[holder]
		if !expected {
			problems = append(problems, fmt.Sprintf("%s: not expected, with %d statements: %v", holder, len(got[holder]), got[holder]))
			continue
		}
		have := map[string]int{}
		for _, s := range got[holder] {
			have[s.String()]++
		}
		for _, w := range wants {
			key := w.stmt().String()
			if have[key] == 0 {
				problems = append(problems, fmt.Sprintf("%s: missing statement %s", holder, key))
				continue
			}
			have[key]--
		}
		for _, key := range slices.Sorted(maps.Keys(have)) {
			for range have[key] {
				problems = append(problems, fmt.Sprintf("%s: unexpected statement %s", holder, key))
			}
		}
	}
	problems = append(problems, e.checkRules(tpl)...)
	return append(problems, e.checkSchedules(tpl)...)
}

func ofType(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	resources, _ := tpl["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

// reparse reads a JSON text the tests write, for comparison in canonical form.
func reparse(text string) string {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		panic("bad JSON in a test: " + text)
	}
	return canonical(v)
}

func (e expectation) checkRules(tpl map[string]any) []string {
	var problems []string
	seen := map[string]bool{}
	for id, p := range ofType(tpl, "AWS::Events::Rule") {
		name := fmt.Sprint(p["Name"])
		seen[name] = true
		w, ok := e.rules[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("rule %s (%s): not expected", name, id))
			continue
		}
		if got := canonical(p["EventPattern"]); got != reparse(w.pattern) {
			problems = append(problems, fmt.Sprintf("rule %s: pattern %s, want %s", name, got, reparse(w.pattern)))
		}
		if got := canonical(p["Targets"]); got != reparse(w.targets) {
			problems = append(problems, fmt.Sprintf("rule %s: targets %s, want %s", name, got, reparse(w.targets)))
		}
		if p["State"] != "ENABLED" {
			problems = append(problems, fmt.Sprintf("rule %s: state %v", name, p["State"]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.rules)) {
		if !seen[name] {
			problems = append(problems, "rule "+name+": missing from the template")
		}
	}
	return problems
}

func (e expectation) checkSchedules(tpl map[string]any) []string {
	var problems []string
	seen := map[string]bool{}
	for id, p := range ofType(tpl, "AWS::Scheduler::Schedule") {
		name := fmt.Sprint(p["Name"])
		seen[name] = true
		w, ok := e.schedules[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("schedule %s (%s): not expected", name, id))
			continue
		}
		got := [...]string{render(p["GroupName"]), render(p["ScheduleExpression"]), render(p["ScheduleExpressionTimezone"]), render(p["State"]), canonical(p["Target"])}
		wanted := [...]string{w.group, w.expression, w.timezone, w.state, reparse(w.target)}
		for i, field := range []string{"group", "expression", "time zone", "state", "target"} {
			if got[i] != wanted[i] {
				problems = append(problems, fmt.Sprintf("schedule %s: %s %s, want %s", name, field, got[i], wanted[i]))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.schedules)) {
		if !seen[name] {
			problems = append(problems, "schedule "+name+": missing from the template")
		}
	}
	return problems
}

// mutation is one change to one policy statement of a template.
type mutation struct {
	where, kind string
	apply       func(tpl map[string]any)
}

// mutations lists, for every statement of every IAM, KMS, SNS and SQS policy of a
// template, each change that alters it: deleted, its Resource widened to "*" (unless it
// is "*" already), its Condition dropped (if it has one), one more action.
func mutations(tpl map[string]any) []mutation {
	var out []mutation
	resources, _ := tpl["Resources"].(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		res, _ := resources[id].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		var docs []string // paths from Properties to each policy document
		switch res["Type"] {
		case "AWS::IAM::Role":
			docs = append(docs, "AssumeRolePolicyDocument")
			inline, _ := props["Policies"].([]any)
			for i := range inline {
				docs = append(docs, fmt.Sprintf("Policies.%d.PolicyDocument", i))
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			docs = append(docs, "PolicyDocument")
		case "AWS::KMS::Key":
			docs = append(docs, "KeyPolicy")
		}
		for _, path := range docs {
			statements, _ := lookup(props, path)["Statement"].([]any)
			for i, raw := range statements {
				st, _ := raw.(map[string]any)
				where := fmt.Sprintf("%s %s statement %d (%s)", id, path, i, parse(st))
				id, path, i := id, path, i
				statementOf := func(tpl map[string]any) (map[string]any, []any) {
					r := tpl["Resources"].(map[string]any)[id].(map[string]any)["Properties"].(map[string]any)
					doc := lookup(r, path)
					list := doc["Statement"].([]any)
					return doc, list
				}
				out = append(out, mutation{where, "deleted", func(tpl map[string]any) {
					doc, list := statementOf(tpl)
					doc["Statement"] = slices.Delete(slices.Clone(list), i, i+1)
				}})
				if st["Resource"] != "*" {
					out = append(out, mutation{where, "resource widened to *", func(tpl map[string]any) {
						_, list := statementOf(tpl)
						list[i].(map[string]any)["Resource"] = "*"
					}})
				}
				if st["Condition"] != nil {
					out = append(out, mutation{where, "condition dropped", func(tpl map[string]any) {
						_, list := statementOf(tpl)
						delete(list[i].(map[string]any), "Condition")
					}})
				}
				out = append(out, mutation{where, "action added", func(tpl map[string]any) {
					_, list := statementOf(tpl)
					s := list[i].(map[string]any)
					s["Action"] = append(anyList(s["Action"]), "iam:PassRole")
				}})
			}
		}
	}
	return out
}

// lookup follows a dotted path of keys and list indexes from a map to a map.
func lookup(m map[string]any, path string) map[string]any {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			var i int
			fmt.Sscan(part, &i)
			cur = c[i]
		}
	}
	out, _ := cur.(map[string]any)
	return out
}

func anyList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return slices.Clone(t)
	default:
		return []any{t}
	}
}

// deepCopy copies a template's JSON.
func deepCopy(tpl map[string]any) map[string]any {
	b, err := json.Marshal(tpl)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
