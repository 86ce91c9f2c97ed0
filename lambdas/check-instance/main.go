// Command check-instance is the check-instance Lambda function; see catalog.CheckInstance.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/precheck"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.CheckInstance, precheck.New, precheck.Checker.Check) }
