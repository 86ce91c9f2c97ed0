// Command record-wave is the record-wave Lambda function; see internal/functions.
package main

import "github.com/drainpipe/drainpipe/internal/functions"

func main() { functions.Main("record-wave") }
