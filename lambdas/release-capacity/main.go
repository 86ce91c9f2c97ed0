// Command release-capacity is the release-capacity Lambda function; see catalog.ReleaseCapacity.
package main

import (
	"github.com/drainpipe/drainpipe/internal/capacity"
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.ReleaseCapacity, capacity.NewReleaser, capacity.Reserver.Release) }
