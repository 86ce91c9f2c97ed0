// Package schema owns drainpipe's JSON Schemas (draft 2020-12, the *.schema.json files
// beside this one, embedded): the instance and fleet inputs and both outputs, the one
// description of every field, default and limit that tools and people read. It validates
// documents against them. drainpipe's functions validate with their own Go code, which a
// test holds to the same answers (and which also refuses what a schema cannot say).
package schema

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var files embed.FS

// The schemas, by file name.
const (
	InstanceInput  = "instance-input.schema.json"
	FleetInput     = "fleet-input.schema.json"
	InstanceOutput = "instance-output.schema.json"
	FleetOutput    = "fleet-output.schema.json"
)

// Names lists the schema files.
func Names() []string { return []string{InstanceInput, FleetInput, InstanceOutput, FleetOutput} }

// Raw is a schema file's text.
func Raw(name string) ([]byte, error) { return files.ReadFile(name) }

var compiled = sync.OnceValues(compile)

func compile() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	ids := map[string]string{}
	for _, name := range Names() {
		raw, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("%s has no $id", name)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ids[name] = id
	}
	out := map[string]*jsonschema.Schema{}
	for name, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

// Validate checks a JSON document against the named schema; the error lists every
// violation with its location.
func Validate(name string, doc []byte) error {
	schemas, err := compiled()
	if err != nil {
		return err
	}
	s, ok := schemas[name]
	if !ok {
		return fmt.Errorf("no schema %q", name)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(inst)
}
