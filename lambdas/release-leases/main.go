// Command release-leases is the release-leases Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("release-leases") }
