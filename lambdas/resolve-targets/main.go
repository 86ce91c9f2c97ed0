// Command resolve-targets is the resolve-targets Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("resolve-targets") }
