// Command release-leases is the release-leases Lambda function; see catalog.ReleaseLeases.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.ReleaseLeases, leases.New, leases.Steps.Release) }
