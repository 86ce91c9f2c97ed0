// Command check-target-health is the check-target-health Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("check-target-health") }
