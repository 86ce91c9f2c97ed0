// Command summarize-rollout is the summarize-rollout Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("summarize-rollout") }
