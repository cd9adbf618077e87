// Command gendoc writes docs/syscalls.md from the kernel's syscall table.
package main

import (
	"fmt"
	"os"

	"github.com/sbx-dev/sbx/kernel/syscalls"
)

func main() {
	out := "docs/syscalls.md"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, []byte(syscalls.Doc(syscalls.Table())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
