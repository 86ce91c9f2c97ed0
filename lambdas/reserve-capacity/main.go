// Command reserve-capacity is the reserve-capacity Lambda function; see catalog.ReserveCapacity.
package main

import (
	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.ReserveCapacity, capacity.NewReserver, capacity.Reserver.Reserve) }
