// Command send-command is the send-command Lambda function; see catalog.SendCommand.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/command"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.SendCommand, command.NewRunner, command.Runner.Send) }
