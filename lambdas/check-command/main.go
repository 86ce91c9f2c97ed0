// Command check-command is the check-command Lambda function; see catalog.CheckCommand.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.CheckCommand, command.NewRunner, command.Runner.Check) }
