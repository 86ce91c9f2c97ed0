// Command summarize is the summarize Lambda function; see catalog.Summarize.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/start"
	"github.com/drainpipe/drainpipe/internal/workflow"
)

func main() { start.Func(catalog.Summarize, workflow.Summarize) }
