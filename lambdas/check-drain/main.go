// Command check-drain is the check-drain Lambda function; see catalog.CheckDrain.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() { start.Lambda(catalog.CheckDrain, targets.NewChecker, targets.Checker.CheckDrain) }
