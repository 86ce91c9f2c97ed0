// Package eligible owns the rule of which instances drainpipe may maintain at all: its
// functions may send commands only to instances that carry the deployment's instanceTag
// (the IAM condition on ssm:SendCommand), so an instance without it would be taken out of
// service and then fail at SendCommand. The planner skips such instances with the reason
// (Reason), and check-instance (package precheck) refuses a lone execution on one.
package eligible

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/drainpipe/drainpipe/internal/workflow"
)

// Reason says why drainpipe may not command the instance, or "" when it may.
func Reason(inst ec2types.Instance, tag workflow.Tag) string {
	for _, t := range inst.Tags {
		if aws.ToString(t.Key) == tag.Key && aws.ToString(t.Value) == tag.Value {
			return ""
		}
	}
	return fmt.Sprintf("not tagged %s: drainpipe may send commands only to instances with the deployment's instanceTag; tag it, or leave it out", tag)
}
