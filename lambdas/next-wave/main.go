// Command next-wave is the next-wave Lambda function; see catalog.NextWave.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/progress"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.NextWave, progress.New, progress.Steps.NextWave) }
