// Command release-capacity is the release-capacity Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("release-capacity") }
