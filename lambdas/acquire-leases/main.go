// Command acquire-leases is the acquire-leases Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("acquire-leases") }
