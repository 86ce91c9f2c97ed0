// Command register-target is the register-target Lambda function; see catalog.RegisterTarget.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() { start.Lambda(catalog.RegisterTarget, targets.NewRegistrar, targets.Registrar.Register) }
