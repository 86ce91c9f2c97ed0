// Command enter-standby is the enter-standby Lambda function; see catalog.EnterStandby.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/standby"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() {
	start.Lambda(catalog.EnterStandby, standby.New, standby.Mover.Enter)
}
