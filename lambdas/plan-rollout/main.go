// Command plan-rollout is the plan-rollout Lambda function; see catalog.PlanRollout.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/planner"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.PlanRollout, planner.New, planner.Planner.Plan) }
