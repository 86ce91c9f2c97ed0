// Command summarize-rollout is the summarize-rollout Lambda function; see catalog.SummarizeRollout.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/report"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.SummarizeRollout, report.New, report.Reporter.Summarize) }
