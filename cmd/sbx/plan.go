package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
)

// buildPlan resolves what the sandbox will look like.
func buildPlan(o *runOptions, args []string) (*launcher.Plan, error) {
	home := currentHome()
	view := launcher.ViewSpec{Home: "private", HomeDir: home}
	for _, list := range []struct {
		paths []string
		ro    bool
	}{{o.ro, true}, {o.rw, false}} {
		for _, p := range list.paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, &usageError{fmt.Errorf("--ro/--rw %s: %w", p, err)}
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, &usageError{fmt.Errorf("--ro/--rw %s: %w (the path must exist)", p, err)}
			}
			view.Allow = append(view.Allow, launcher.HostPath{Path: abs, ReadOnly: list.ro})
		}
	}
	gcfg, layout, err := launcher.BuildView(view)
	if err != nil {
		return nil, err
	}
	cwd := o.cwd
	if cwd == "" {
		cwd = home
		if wd, err := os.Getwd(); err == nil && visible(wd, layout) {
			cwd = wd
		}
	}
	p := &launcher.Plan{App: filepath.Base(args[0]), ProfileName: "default", Argv: args, Cwd: cwd,
		Env: launcher.CleanEnv(os.Environ(), home, nil, nil), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Hostname: "sbx", Platform: "ptrace", Gofer: gcfg, Layout: layout, Debug: o.debug, Strace: o.strace}
	return p, nil
}

// visible reports whether path lies in a part of the layout the app can see.
func visible(path string, layout []sandbox.Mount) bool {
	for _, m := range layout {
		if path == m.Path || strings.HasPrefix(path, strings.TrimRight(m.Path, "/")+"/") {
			return true
		}
	}
	return false
}
