// Command record-wave is the record-wave Lambda function; see catalog.RecordWave.
package main

import (
	"github.com/drainpipe/drainpipe/internal/catalog"
	"github.com/drainpipe/drainpipe/internal/record"
	"github.com/drainpipe/drainpipe/internal/start"
)

func main() { start.Lambda(catalog.RecordWave, record.New, record.Recorder.RecordWave) }
