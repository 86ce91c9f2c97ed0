// Package cfnspec checks a synthesized CloudFormation template against the resource
// schemas that the npm package @aws-cdk/aws-service-spec ships (db.json.gz, the
// CloudFormation registry schemas as the CDK itself is generated from; make tools
// installs it into .tools): every resource type is known, every property (nested ones
// too) is one its type has, every required property is present, and every literal value
// has its property's primitive type. What an intrinsic function (Ref, Fn::GetAtt,
// Fn::Join, ...) computes is CloudFormation's to check at deploy.
package cfnspec

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DBPath is where npm puts the schemas under a folder with node_modules.
const DBPath = "node_modules/@aws-cdk/aws-service-spec/db.json.gz"

// Find looks for .tools/node_modules/@aws-cdk/aws-service-spec/db.json.gz from dir
// upwards.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		path := filepath.Join(d, ".tools", DBPath)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no .tools/" + DBPath + " above " + dir + ": run make tools")
		}
	}
}

// Spec is the resource schemas.
type Spec struct {
	resources map[string]map[string]property // by CloudFormation type, then property
	types     map[string]typeDef             // by id
	version   string
}

type typeDef struct {
	Name       string              `json:"name"`
	Properties map[string]property `json:"properties"`
}

type property struct {
	Type          propType   `json:"type"`
	Required      bool       `json:"required"`
	PreviousTypes []propType `json:"previousTypes"`
}

// propType is a property's type: string, integer, number, boolean, date-time, json,
// tag, array or map (of Element), ref (to a type definition), union (of Types).
type propType struct {
	Type      string     `json:"type"`
	Element   *propType  `json:"element"`
	Types     []propType `json:"types"`
	Reference *struct {
		ID string `json:"$ref"`
	} `json:"reference"`
}

// Load reads the schemas from db.json.gz.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var db struct {
		Schema struct {
			Resource struct {
				Entities []struct {
					CloudFormationType string              `json:"cloudFormationType"`
					Properties         map[string]property `json:"properties"`
				} `json:"entities"`
			} `json:"resource"`
			TypeDefinition struct {
				Entities []struct {
					ID string `json:"$id"`
					typeDef
				} `json:"entities"`
			} `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(z).Decode(&db); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &Spec{resources: map[string]map[string]property{}, types: map[string]typeDef{}}
	for _, r := range db.Schema.Resource.Entities {
		s.resources[r.CloudFormationType] = r.Properties
	}
	for _, t := range db.Schema.TypeDefinition.Entities {
		s.types[t.ID] = t.typeDef
	}
	if len(s.resources) == 0 || len(s.types) == 0 {
		return nil, fmt.Errorf("%s: no resource schemas in it", path)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "package.json")); err == nil {
		var pkg struct{ Version string }
		_ = json.Unmarshal(b, &pkg)
		s.version = pkg.Version
	}
	return s, nil
}

// Types is how many resource types the schemas know.
func (s *Spec) Types() int { return len(s.resources) }

// Version is the package's version.
func (s *Spec) Version() string { return s.version }

// resourceKeys are the keys a resource of a template may have.
var resourceKeys = []string{"Type", "Properties", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy",
	"Condition", "UpdatePolicy", "CreationPolicy"}

// Validate returns every problem of a template's resources, each naming the resource
// and the property path, and how many resources it checked.
func (s *Spec) Validate(tpl map[string]any) (problems []string, checked int) {
	resources, ok := tpl["Resources"].(map[string]any)
	if !ok {
		return []string{"the template has no Resources"}, 0
	}
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		res, ok := resources[id].(map[string]any)
		if !ok {
			problems = append(problems, id+": not an object")
			continue
		}
		checked++
		for _, k := range slices.Sorted(maps.Keys(res)) {
			if !slices.Contains(resourceKeys, k) {
				problems = append(problems, fmt.Sprintf("%s: unknown resource attribute %q", id, k))
			}
		}
		typ, _ := res["Type"].(string)
		if typ == "AWS::CDK::Metadata" || typ == "AWS::CloudFormation::CustomResource" || strings.HasPrefix(typ, "Custom::") {
			continue // CloudFormation's own, or the custom resource's provider decides
		}
		props, known := s.resources[typ]
		if !known {
			problems = append(problems, fmt.Sprintf("%s: unknown resource type %q", id, typ))
			continue
		}
		given, _ := res["Properties"].(map[string]any)
		if res["Properties"] != nil && given == nil {
			problems = append(problems, id+": Properties is not an object")
			continue
		}
		problems = append(problems, s.object(id+" ("+typ+")", props, given)...)
	}
	return problems, checked
}

// object checks an object's keys against the properties of its type.
func (s *Spec) object(where string, props map[string]property, given map[string]any) []string {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(given)) {
		p, ok := props[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown property %q", where, k))
			continue
		}
		problems = append(problems, s.property(where+"."+k, p, given[k])...)
	}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if _, ok := given[k]; props[k].Required && !ok {
			problems = append(problems, fmt.Sprintf("%s: required property %q is missing", where, k))
		}
	}
	return problems
}

// property checks a value against a property's type, or any type it had before.
func (s *Spec) property(where string, p property, v any) []string {
	problems := s.value(where, p.Type, v)
	for _, previous := range p.PreviousTypes {
		if len(problems) == 0 {
			break
		}
		if len(s.value(where, previous, v)) == 0 {
			problems = nil
		}
	}
	return problems
}

// intrinsic says whether v is a function CloudFormation evaluates (Ref, Fn::...).
func intrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// value checks a value against a type; what an intrinsic computes is not checked.
func (s *Spec) value(where string, t propType, v any) []string {
	if intrinsic(v) {
		return nil
	}
	bad := func(want string) []string {
		b, _ := json.Marshal(v)
		if len(b) > 80 {
			b = append(b[:77], "..."...)
		}
		return []string{fmt.Sprintf("%s: %s is not %s", where, b, want)}
	}
	switch t.Type {
	case "json":
		return nil
	case "string", "date-time":
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case "integer":
		switch n := v.(type) {
		case float64:
			if n != math.Trunc(n) {
				return bad("an integer")
			}
		case string: // CloudFormation converts a numeric string
			if _, err := strconv.ParseInt(n, 10, 64); err != nil {
				return bad("an integer")
			}
		default:
			return bad("an integer")
		}
	case "number":
		switch n := v.(type) {
		case float64:
		case string:
			if _, err := strconv.ParseFloat(n, 64); err != nil {
				return bad("a number")
			}
		default:
			return bad("a number")
		}
	case "boolean":
		switch b := v.(type) {
		case bool:
		case string: // CloudFormation converts "true" and "false"
			if b != "true" && b != "false" {
				return bad("a boolean")
			}
		default:
			return bad("a boolean")
		}
	case "tag":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a tag ({Key, Value})")
		}
		return s.object(where, map[string]property{
			"Key":   {Type: propType{Type: "string"}, Required: true},
			"Value": {Type: propType{Type: "string"}, Required: true},
		}, m)
	case "array":
		list, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		var problems []string
		for i, x := range list {
			problems = append(problems, s.value(fmt.Sprintf("%s[%d]", where, i), *t.Element, x)...)
		}
		return problems
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a map")
		}
		var problems []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			problems = append(problems, s.value(where+"."+k, *t.Element, m[k])...)
		}
		return problems
	case "ref":
		def, ok := s.types[t.Reference.ID]
		if !ok {
			return []string{fmt.Sprintf("%s: the schemas refer to an unknown type %s", where, t.Reference.ID)}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return bad("an object (" + def.Name + ")")
		}
		return s.object(where, def.Properties, m)
	case "union":
		var first []string
		for _, member := range t.Types {
			problems := s.value(where, member, v)
			if len(problems) == 0 {
				return nil
			}
			if first == nil {
				first = problems
			}
		}
		return first
	default:
		return []string{fmt.Sprintf("%s: the schemas give the type %q, which this check does not know", where, t.Type)}
	}
	return nil
}
