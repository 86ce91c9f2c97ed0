// Command plan-rollout is the plan-rollout Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("plan-rollout") }
