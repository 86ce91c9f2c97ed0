package eligible

import (
	"strings"
	"testing"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drainpipe/drainpipe/internal/workflow"
)

func TestReason(t *testing.T) {
	tag := workflow.Tag{Key: "drainpipe", Value: "enabled"}
	tagged := func(kv ...string) ec2types.Instance {
		var inst ec2types.Instance
		for i := 0; i+1 < len(kv); i += 2 {
			inst.Tags = append(inst.Tags, ec2types.Tag{Key: new(kv[i]), Value: new(kv[i+1])})
		}
		return inst
	}
	tests := []struct {
		name string
		inst ec2types.Instance
		ok   bool
	}{
		{"the tag", tagged("Name", "web", "drainpipe", "enabled"), true},
		{"no tags", tagged(), false},
		{"another value", tagged("drainpipe", "disabled"), false},
		{"the value under another key", tagged("Drainpipe", "enabled"), false},
		{"a key with no value", ec2types.Instance{Tags: []ec2types.Tag{{Key: new("drainpipe")}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := Reason(tt.inst, tag)
			if (why == "") != tt.ok {
				t.Fatalf("Reason = %q, want ok %v", why, tt.ok)
			}
			if !tt.ok && !strings.Contains(why, "not tagged drainpipe=enabled") {
				t.Errorf("the reason does not name the tag: %s", why)
			}
		})
	}
}
