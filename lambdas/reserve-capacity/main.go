// Command reserve-capacity is the reserve-capacity Lambda function; see catalog.ReserveCapacity.
package main

import (
	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() {
	start.Lambda(catalog.ReserveCapacity, capacity.Reserving(targets.NewChecker), capacity.Reserver.Reserve)
}
