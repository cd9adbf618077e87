// Command sbx runs desktop applications inside a user-space kernel, confined by per-app
// profiles, without setuid.
package main

import (
	"os"
	"path/filepath"
	"time"
)

// processStart is when sbx started, for the start-up breakdown --debug prints.
var processStart = time.Now()

func main() {
	if code, ok := runRole(os.Args[1:], systemStreams()); ok {
		os.Exit(code)
	}
	if runcNames[filepath.Base(os.Args[0])] {
		os.Exit(runcMain(os.Args[1:], systemStreams()))
	}
	if len(os.Args) > 2 && os.Args[1] == "run" {
		// Why: starting the gofer and the kernel takes longer than parsing the command
		// line and building the plan; they start first.
		earlyRoles = startRolesAhead()
	}
	code := run(os.Args[1:], systemStreams())
	discardEarlyRoles()
	os.Exit(code)
}
