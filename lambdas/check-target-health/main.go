// Command check-target-health is the check-target-health Lambda function; see catalog.CheckTargetHealth.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() {
	start.Lambda(catalog.CheckTargetHealth, targets.NewChecker, targets.Checker.CheckHealthy)
}
