// Command acquire-leases is the acquire-leases Lambda function; see catalog.AcquireLeases.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/leases"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.AcquireLeases, leases.New, leases.Steps.Acquire) }
