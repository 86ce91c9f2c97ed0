// Command check-target-groups is the check-target-groups Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("check-target-groups") }
