// Command restore-execution is the restore-execution Lambda function; see catalog.RestoreExecution.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/recovery"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.RestoreExecution, recovery.New, recovery.Recoverer.Restore) }
