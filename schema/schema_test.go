package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drainpipe/drainpipe/internal/rollout"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

const (
	inst = `"instanceId": "i-0123456789abcdef0"`
	tg   = `"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"`
	tg2  = `"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef"`
)

// instanceInputs are valid and invalid instance inputs; fleetInputs, fleet inputs.
var instanceInputs = []string{
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": ["test \"$(curl -fsS localhost:8080/inflight)\" = 0"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": ["true"], "propagationSeconds": 20, "idleChecks": 5, "intervalSeconds": 2}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": []}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": ["true"], "idleChecks": 101}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": ["true"], "intervalSeconds": 61}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "drain": {"idleCheck": ["true"], "propagationSeconds": 3601}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "onlyIfRequired": true}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "onlyIfRequired": true, "requiredCheck": ["test -e /run/reboot && echo required || echo not-required"], "expectedSeconds": 45}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "requiredCheck": ["echo required"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "onlyIfRequired": false, "requiredCheck": ["echo required"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "onlyIfRequired": true, "requiredCheck": []}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "onlyIfRequired": false}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "requiredCheck": ["echo required"]}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "operation": "Scan", "onlyIfRequired": true}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "operation": "Scan", "onlyIfRequired": false}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": ["true"], "onlyIfRequired": true}}`,
	`{` + inst + `, "maintenance": {"action": "document", "documentName": "Doc-1", "onlyIfRequired": false}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "expectedSeconds": -1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}}`,
	`{` + inst + `, "targetGroupArns": [` + tg + `, ` + tg2 + `], "maintenance": {"action": "patch", "operation": "Scan", "rebootOption": "NoReboot", "timeoutSeconds": 600}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": ["systemctl restart app"]}, "healthCheck": {"commands": ["curl -fsS localhost"], "timeoutSeconds": 60}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"preDrain": {"commands": ["app drain-queue"], "timeoutSeconds": 120}, "postMaintenance": {"commands": ["true"]}, "postReturn": {"commands": ["app warm-cache"]}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"postReturn": {"commands": ["app warm-cache"], "timeoutSeconds": 0}}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "patchHooks": {"preInstall": "App-Drain", "onExit": "App-Warm"}}}`,
	`{` + inst + `, "maintenance": {"action": "document", "documentName": "AWS-ConfigureAWSPackage", "parameters": {"action": ["Install"], "name": ["x"]}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "timeouts": {"drainSeconds": 400, "healthySeconds": 0}, "pollSeconds": 300, "allowLastTarget": true,
		"minHealthyTargets": {` + tg + `: 2}, "capacityWaitSeconds": 172800, "acceptRequestLoss": true, "dryRun": true}`,
	// invalid
	`{}`, `[]`, `null`, `"x"`, `{"maintenance": {"action": "reboot"}}`, `{` + inst + `}`,
	`{"instanceId": "i-123", "maintenance": {"action": "reboot"}}`,
	`{"instanceId": "I-0123456789ABCDEF0", "maintenance": {"action": "reboot"}}`,
	`{"instanceId": 5, "maintenance": {"action": "reboot"}}`,
	`{` + inst + `, "maintenance": {"action": "restart"}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "commands": ["x"]}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "operation": "install"}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "documentName": "AWS-X"}}`,
	`{` + inst + `, "maintenance": {"action": "commands"}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": []}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": ["  "]}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": ["x"], "operation": "Scan"}}`,
	`{` + inst + `, "maintenance": {"action": "document"}}`,
	`{` + inst + `, "maintenance": {"action": "document", "documentName": "ab"}}`,
	`{` + inst + `, "maintenance": {"action": "document", "documentName": "Doc", "parameters": {"bad name": ["x"]}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "timeoutSeconds": -1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "timeoutSeconds": 172801}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "targetGroupArns": []}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "targetGroupArns": [` + tg + `, ` + tg + `]}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "targetGroupArns": ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0123456789abcdef"]}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "targetGroupArns": ` + tg + `}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "pollSeconds": 301}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "pollSeconds": -1}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "pollSeconds": "10"}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "healthCheck": {}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "patchHooks": {}}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "operation": "Scan", "patchHooks": {"onExit": "App-Warm"}}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "patchHooks": {"onExit": "x"}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "patchHooks": {"onExit": "App-Warm"}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"preDrain": {}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"preDrain": {"commands": []}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"postReturn": {"commands": ["x"], "timeoutSeconds": -1}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "hooks": {"onExit": {"commands": ["x"]}}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "healthCheck": {"commands": ["x"], "timeoutSeconds": -5}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "timeouts": {"drainSeconds": -1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "timeouts": {"waitSeconds": 1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "minHealthyTargets": {"web": 1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "minHealthyTargets": {` + tg + `: -1}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "capacityWaitSeconds": 172801}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "dryRun": "yes"}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "targetGroupArn": ` + tg + `}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "InstanceID": "i-0123456789abcdef0"}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "healthCheck": null}`,
	`{` + inst + `, "maintenance": {"action": "reboot", "operation": ""}}`,
	`{` + inst + `, "maintenance": {"action": "patch", "operation": "", "rebootOption": ""}}`,
	`{` + inst + `, "maintenance": {"action": "commands", "commands": ["x"], "documentName": ""}}`,
	`{"instanceId": "i-0123456789abcdef0", "Maintenance": {"action": "reboot"}}`,
	// alarms: valid, then invalid
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": ["web-5xx", "web latency (p99) / é"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"namePrefix": "web-"}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": ["db"], "namePrefix": "web-"}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": []}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": [], "namePrefix": "web-"}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": ["a", "a"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": [""]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"namePrefix": ""}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": ["` + strings.Repeat("é", 256) + `"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"names": ["` + strings.Repeat("é", 255) + `"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": {"name": ["a"]}}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": ["a"]}`,
	`{` + inst + `, "maintenance": {"action": "reboot"}, "alarms": null}`,
}

var fleetInputs = []string{
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "patch"}}`,
	`{"targetGroupArns": [` + tg + `, ` + tg2 + `], "instanceIds": ["i-0123456789abcdef0", "i-01234567"], "tags": {"Env": ["prod", "staging"]},
		"maintenance": {"action": "reboot"}, "healthCheck": {"commands": ["true"]}, "timeouts": {"drainSeconds": 600}, "pollSeconds": 5,
		"maxConcurrency": 40, "minHealthyPercent": 0, "maxErrors": 3, "allowLastTarget": true, "allowBelowBudget": true, "acceptRequestLoss": true,
		"notAfter": "2026-11-22T06:00:00Z", "skipIfMaintainedWithin": "6d", "capacityWaitSeconds": 0, "leaseSeconds": 3600, "dryRun": true}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "notAfter": "2026-11-22T06:00:00+01:00"}`,
	// invalid
	`{}`, `{"maintenance": {"action": "reboot"}}`, `{"targetGroupArns": [` + tg + `]}`,
	`{"targetGroupArns": [], "maintenance": {"action": "reboot"}}`,
	`{"targetGroupArns": [` + tg + `, ` + tg + `], "maintenance": {"action": "reboot"}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "instanceIds": []}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "instanceIds": ["i-0123456789abcdef0", "i-0123456789abcdef0"]}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "instanceIds": ["web-1"]}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "tags": {}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "tags": {"Env": []}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "tags": {"Env": [""]}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "tags": {"": ["x"]}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "tags": {"Env": "prod"}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "maxConcurrency": 41}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "maxConcurrency": -2}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "minHealthyPercent": 101}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "maxErrors": -1}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "notAfter": "tomorrow"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "skipIfMaintainedWithin": "1w"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "capacityWaitSeconds": -1}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "leaseSeconds": -1}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "restart"}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "instanceId": "i-0123456789abcdef0"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "dryRun": null}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "maxErrors": 3000000000}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "leaseSeconds": 300000000000}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "leaseSeconds": 604801}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "notAfter": "2016-12-31T23:59:60Z"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "notAfter": "2026-11-22t06:00:00z"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "notAfter": ""}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "alarms": {"namePrefix": "web-"}, "bakeSeconds": 86400}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "bakeSeconds": 0}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "zoneByZone": true}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "zoneByZone": "yes"}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "bakeSeconds": 86401}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "bakeSeconds": -1}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "alarms": {}}`,
	`{"targetGroupArns": [` + tg + `], "maintenance": {"action": "reboot"}, "alarms": {"names": ["a", "a"]}}`,
}

// goOnly says whether Go's refusal is one a schema cannot express: sizes summed across
// fields or of the whole document, and the loops' fit in an execution's history.
func goOnly(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "bytes of commands and parameters") || strings.Contains(msg, "Step Functions takes at most") ||
		strings.Contains(msg, "history")
}

// comparable says whether the document is one both can judge alike: UTF-8 (Step Functions
// takes nothing else), and with its whole numbers written as such (Go refuses 1.0 for a
// count, which JSON Schema's integer allows).
func comparable(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	return !fractionalWhole(string(raw))
}

// fractionalWhole: the document has a number like 1.0 or 1e2.
func fractionalWhole(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' { // skip strings
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			continue
		}
		if (c >= '0' && c <= '9') && i+1 < len(s) && (s[i+1] == '.' || s[i+1] == 'e' || s[i+1] == 'E') {
			return true
		}
	}
	return false
}

func agree(t *testing.T, name string, raw []byte, decode func([]byte) error) (valid bool) {
	t.Helper()
	goErr := decode(raw)
	schemaErr := Validate(name, raw)
	switch {
	case !comparable(raw):
	case goErr == nil && schemaErr != nil:
		t.Errorf("Go accepts what the schema refuses:\n%s\nschema: %v", raw, schemaErr)
	case goErr != nil && schemaErr == nil && !goOnly(goErr):
		t.Errorf("the schema accepts what Go refuses:\n%s\nGo: %v", raw, goErr)
	}
	return goErr == nil
}

func decodeInstance(raw []byte) error { _, err := workflow.DecodeInput(raw); return err }
func decodeFleet(raw []byte) error    { _, err := rollout.DecodeInput(raw); return err }

// TestInputsAgree: the Go validation and the schemas give the same verdict on a table of
// valid and invalid inputs and on the fuzz corpora, but for what a schema cannot say.
func TestInputsAgree(t *testing.T) {
	valid := 0
	for _, in := range instanceInputs {
		if agree(t, InstanceInput, []byte(in), decodeInstance) {
			valid++
		}
	}
	for _, in := range fleetInputs {
		if agree(t, FleetInput, []byte(in), decodeFleet) {
			valid++
		}
	}
	corpora := 0
	for dir, c := range map[string]struct {
		name   string
		decode func([]byte) error
	}{
		"../internal/workflow/testdata/fuzz/FuzzDecodeInput": {InstanceInput, decodeInstance},
		"../internal/rollout/testdata/fuzz/FuzzDecodeInput":  {FleetInput, decodeFleet},
	} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			raw, err := corpusEntry(f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			agree(t, c.name, raw, c.decode)
			corpora++
		}
	}
	t.Logf("%d instance and %d fleet inputs (%d valid), %d corpus entries", len(instanceInputs), len(fleetInputs), valid, corpora)
	if corpora < 15 || valid < 8 {
		t.Errorf("checked %d corpus entries and %d valid inputs", corpora, valid)
	}
}

// corpusEntry reads a Go fuzz corpus file of one []byte.
func corpusEntry(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		return nil, os.ErrInvalid
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	return []byte(s), err
}

// FuzzInputsAgree: the two verdicts agree on any instance or fleet input.
func FuzzInputsAgree(f *testing.F) {
	for _, in := range append(instanceInputs, fleetInputs...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		agree(t, InstanceInput, raw, decodeInstance)
		agree(t, FleetInput, raw, decodeFleet)
	})
}

// TestOutputsMatchTheSchemas: the functions' recorded outputs (the contract fixtures of
// summarize and summarize-rollout) are valid under the output schemas.
func TestOutputsMatchTheSchemas(t *testing.T) {
	n := 0
	for dir, name := range map[string]string{"summarize": InstanceOutput, "summarize-rollout": FleetOutput} {
		files, _ := filepath.Glob(filepath.Join("..", "internal", "handlers", "testdata", "contract", dir, "*.output.json"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(name, raw); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			n++
		}
	}
	if n < 4 {
		t.Errorf("checked %d outputs", n)
	}
}

// TestREADMEFieldsMatchTheSchemas: the README's tables of the instance and fleet input
// fields name exactly the schemas' fields (a parent row, such as "maintenance", standing
// for its fields), and where a row gives a plain default, it is the schema's.
func TestREADMEFieldsMatchTheSchemas(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tables := fieldTables(string(readme))
	for name, marker := range map[string]string{InstanceInput: "instanceId", FleetInput: "maxConcurrency"} {
		var rows [][2]string
		for _, tbl := range tables {
			for _, r := range tbl {
				if slices.Contains(strings.Split(r[0], ", "), marker) {
					rows = tbl
				}
			}
		}
		if rows == nil {
			t.Fatalf("no README table of %s fields (with %s)", name, marker)
		}
		props := schemaFields(t, name)
		documented := map[string]string{}
		for _, r := range rows {
			for _, f := range strings.Split(r[0], ", ") {
				documented[f] = r[1]
			}
		}
		for f := range documented {
			if _, ok := props[f]; !ok {
				t.Errorf("%s: the README documents %q, which the schema does not have", name, f)
			}
		}
		for f, def := range props {
			parent, _, nested := strings.Cut(f, ".")
			_, direct := documented[f]
			_, viaParent := documented[parent]
			children := slices.ContainsFunc(slices.Collect(maps.Keys(documented)), func(d string) bool { return strings.HasPrefix(d, f+".") })
			if !direct && !(nested && viaParent) && !children {
				t.Errorf("%s: the README's table lacks %q", name, f)
			}
			if row, ok := documented[f]; ok && def != nil {
				if want := fmt.Sprint(def); plainDefault(row) && strings.Trim(row, "`") != want {
					t.Errorf("%s: the README gives %q the default %s, the schema %s", name, f, row, want)
				}
			}
		}
	}
}

// fieldTables are the README's tables whose header is "| field | default | meaning |":
// each row's field names (backticks removed) and default.
func fieldTables(readme string) [][][2]string {
	var tables [][][2]string
	var cur [][2]string
	in := false
	for line := range strings.SplitSeq(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "| field | default | meaning |"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(line, "|")
			if len(cells) > 3 {
				cur = append(cur, [2]string{strings.ReplaceAll(strings.TrimSpace(cells[1]), "`", ""), strings.TrimSpace(cells[2])})
			}
		case in:
			tables, in = append(tables, cur), false
		}
	}
	return tables
}

// plainDefault: a README default that is a value (10, false, `Install`), not words.
func plainDefault(s string) bool {
	s = strings.Trim(s, "`")
	if s == "true" || s == "false" {
		return true
	}
	if _, err := strconv.Atoi(s); err == nil {
		return true
	}
	return s != "" && strings.ToUpper(s[:1]) == s[:1] && !strings.Contains(s, " ")
}

// schemaFields are the schema's input fields, with their defaults: the top-level ones,
// and the fields of each object field (maintenance.action, ...).
func schemaFields(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, _ := Raw(name)
	var doc struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	defs := map[string]any{}
	instance, _ := Raw(InstanceInput)
	_ = json.Unmarshal(instance, &struct {
		Defs *map[string]any `json:"$defs"`
	}{&defs})
	out := map[string]any{}
	for field, p := range doc.Properties {
		out[field] = p["default"]
		ref, _ := p["$ref"].(string)
		def, _ := defs[strings.TrimPrefix(ref[strings.Index(ref, "#")+1:], "/$defs/")].(map[string]any)
		if ref == "" || def == nil {
			continue
		}
		sub, _ := def["properties"].(map[string]any)
		for f, v := range sub {
			d, _ := v.(map[string]any)
			out[field+"."+f] = d["default"]
		}
	}
	return out
}
