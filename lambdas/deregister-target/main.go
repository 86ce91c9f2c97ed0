// Command deregister-target is the deregister-target Lambda function; see catalog.DeregisterTarget.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() {
	start.Lambda(catalog.DeregisterTarget, targets.NewRegistrar, targets.Registrar.Deregister)
}
