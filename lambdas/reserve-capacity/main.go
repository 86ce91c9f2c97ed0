// Command reserve-capacity is the reserve-capacity Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("reserve-capacity") }
