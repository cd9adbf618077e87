// Command sbx runs desktop applications inside a user-space kernel, confined by per-app
// profiles, without setuid.
package main

import (
	"os"
	"time"
)

// processStart is when sbx started, for the start-up breakdown --debug prints.
var processStart = time.Now()

func main() {
	os.Exit(run(os.Args[1:], systemStreams()))
}
