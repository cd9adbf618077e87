package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/plan"
)

// buildPlan turns sbx run's flags into the sandbox's plan; package plan decides everything
// else.
func buildPlan(o *runOptions, args []string) (*launcher.Plan, error) {
	prof, err := plan.Pick(o.loader(), o.profile, args[0])
	if err != nil {
		return nil, profileErr(err)
	}
	opts := plan.Host()
	opts.Argv, opts.Profile, opts.Platform, opts.Cwd = args, prof, o.platform, o.cwd
	opts.RO, opts.RW, opts.Debug = o.ro, o.rw, o.debug
	opts.Strace, opts.StraceSummary = o.strace == "calls", o.strace == "summary"
	opts.DebugBlocked, opts.T0 = o.blocked, processStart
	if o.debug {
		errOut := io.Writer(os.Stderr)
		if o.io != nil {
			errOut = o.io.ErrOut
		}
		opts.Notef = func(format string, a ...any) { fmt.Fprintf(errOut, "sbx: "+format+"\n", a...) }
	}
	p, err := plan.ForProgram(opts)
	var ue *plan.UsageError
	if errors.As(err, &ue) {
		return nil, &usageError{ue.Err}
	}
	return p, err
}
