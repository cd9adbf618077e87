// Command build makes sbx's distribution packages: a .deb, an .rpm and an Arch Linux
// .pkg.tar.zst of the one sbx binary, with its man pages and shell completions (generated
// from the binary's own commands), the docs, an empty /etc/sbx/profiles/ for the
// administrator's profiles, and the AppArmor profile Ubuntu >= 23.10 needs. It uses nfpm as
// a library, so nothing is downloaded at build time. `make packages` runs it:
//
//	go run ./packaging/build -out dist
//
// The version comes from git (a release tag, else a Go-style pseudo-version) and is linked
// into the binary, so `sbx version` prints the packages' version.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var o Options
	var formats string
	printVersion := flag.Bool("print-version", false, "print the version the packages would get, and exit")
	flag.StringVar(&o.Out, "out", "dist", "directory the packages are written to")
	flag.StringVar(&o.Root, "root", ".", "the sbx source tree (holding go.mod)")
	flag.StringVar(&formats, "formats", strings.Join(Formats, ","), "package formats to build")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "build: unexpected arguments %q (see -help)\n", flag.Args())
		os.Exit(2)
	}
	o.Formats = strings.Split(formats, ",")
	if err := o.resolveVersion(); err != nil {
		fmt.Fprintf(os.Stderr, "build: version: %v (set SBX_VERSION to build outside git)\n", err)
		os.Exit(1)
	}
	if *printVersion {
		fmt.Println(o.Version)
		return
	}
	pkgs, err := Build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n", err)
		os.Exit(1)
	}
	for _, p := range pkgs {
		fmt.Println(p)
	}
}
