package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time by packaging (-ldflags "-X main.version=..."): `make packages`
// sets it to the packages' version (a git tag or a Go-style pseudo-version).
var version = ""

// currentVersion is the version sbx reports: the one set at link time, else the module
// version the Go toolchain stamped, else a development marker.
func currentVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0-dev"
}

func newVersionCmd(io *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sbx version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = " " + s.Value
					}
				}
			}
			fmt.Fprintf(io.Out, "sbx %s%s (%s, %s/%s)\n", currentVersion(), rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
