// Command check-instance is the check-instance Lambda function; see catalog.CheckInstance.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() { start.Lambda(catalog.CheckInstance, targets.NewChecker, targets.Checker.CheckInstance) }
