// Command sbx runs desktop applications inside a user-space kernel, confined by per-app
// profiles, without setuid.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], systemStreams()))
}
