// Command restore-execution is the restore-execution Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("restore-execution") }
