// Command sbx runs desktop applications inside a user-space kernel, confined by per-app
// profiles, without setuid.
package main

import (
	"os"
	"path/filepath"
)

func main() {
	if runcNames[filepath.Base(os.Args[0])] {
		os.Exit(runcMain(os.Args[1:], systemStreams()))
	}
	os.Exit(run(os.Args[1:], systemStreams()))
}
