// Command deregister-target is the deregister-target Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("deregister-target") }
