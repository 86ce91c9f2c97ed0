// Command check-drain is the check-drain Lambda function; see catalog.CheckDrain.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/drain"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.CheckDrain, drain.New, drain.Drainer.Check) }
