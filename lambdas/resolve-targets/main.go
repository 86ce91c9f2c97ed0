// Command resolve-targets is the resolve-targets Lambda function; see catalog.ResolveTargets.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/targets"
)

func main() { start.Lambda(catalog.ResolveTargets, targets.NewResolver, targets.Resolver.Resolve) }
