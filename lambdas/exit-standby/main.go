// Command exit-standby is the exit-standby Lambda function; see catalog.ExitStandby.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() {
	start.Lambda(catalog.ExitStandby, standby.New, standby.Mover.Exit)
}
