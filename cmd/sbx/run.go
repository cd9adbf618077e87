package main

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/platform"
	"github.com/sbx-dev/sbx/profiles"
	"github.com/spf13/cobra"
)

type runOptions struct {
	io       *IOStreams
	loader   func() *profiles.Loader
	profile  string
	platform string
	strace   string // "", "calls" or "summary"
	debug    bool
	blocked  time.Duration
	cwd      string
	ro, rw   []string
}

func newRunCmd(io *IOStreams) *cobra.Command {
	o := &runOptions{io: io, loader: profiles.NewLoader}
	cmd := &cobra.Command{
		Use:   "run [flags] [--] APP|CMD [ARGS...]",
		Short: "Run a program in a sandbox",
		Long: `Run a program inside sbx's user-space kernel. The program's system calls are
implemented by sbx; it sees only what its profile allows. sbx run exits with the
program's exit status (128+N when it was killed by signal N), 125 when sbx itself
fails, 126 when the program cannot be executed and 127 when it is not found.`,
		Example: `  sbx run -- /bin/echo hello
  sbx run --strace -- /bin/cat /etc/hostname
  sbx run --strace=summary -- /bin/ls /usr
  sbx run firefox`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(args) },
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&o.profile, "profile", "", "profile name or path to a .toml file (default: the app's profile, else 'default')")
	cmd.Flags().StringVar(&o.platform, "platform", "", "execution platform: auto, trap, ptrace or kvm (default from the profile; auto picks trap where seccomp can trap syscalls)")
	cmd.Flags().StringVar(&o.strace, "strace", "", "print the app's syscalls as the kernel sees them, to stderr; `=summary`: a table of them at exit instead (calls, errors, time in the kernel)")
	cmd.Flags().Lookup("strace").NoOptDefVal = "calls"
	cmd.Flags().BoolVar(&o.debug, "debug", false, "log kernel diagnostics (unimplemented syscalls, faults, tasks blocked in one call) to stderr")
	cmd.Flags().DurationVar(&o.blocked, "debug-blocked", 10*time.Second, "with --debug, report a task blocked longer than this in one system call")
	cmd.Flags().StringArrayVar(&o.ro, "ro", nil, "also show host `PATH` read-only at the same place (repeatable)")
	cmd.Flags().StringArrayVar(&o.rw, "rw", nil, "also show host `PATH` read-write at the same place (repeatable)")
	cmd.Flags().StringVar(&o.cwd, "cwd", "", "working directory inside the sandbox (default: the current one if visible, else home)")
	return cmd
}

func (o *runOptions) run(args []string) error {
	if _, ok := platform.Lookup(o.platform); !ok && o.platform != "" && o.platform != "auto" && o.platform != "kvm" {
		return &usageError{fmt.Errorf("unknown platform %q (valid: auto, %s)", o.platform, strings.Join(platform.Names(), ", "))}
	}
	if o.strace != "" && o.strace != "calls" && o.strace != "summary" {
		return &usageError{fmt.Errorf("unknown --strace mode %q (valid: --strace, --strace=summary)", o.strace)}
	}
	// Why: the gofer and the kernel need no plan to start (namespaces, their Go runtimes):
	// they start while the plan is built, and wait for their configuration. main starts
	// them before the command line is parsed; a run called otherwise starts them here.
	early := earlyRoles
	earlyRoles = nil
	if early == nil {
		early = startRolesAhead()
	}
	roles := func() *launcher.Roles {
		if s := <-early; s.err == nil {
			return s.r
		}
		return nil // Start starts them again, and says why it cannot
	}
	plan, err := buildPlan(o, args)
	if err != nil {
		if r := roles(); r != nil {
			r.Discard()
		}
		return err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(o.io.ErrOut, "sbx: warning: %s\n", w)
	}
	// Caught before the app can run, so that none reaches sbx with its default action
	// (which ends the sandbox with sbx) once the app runs (launcher.CatchSignals).
	sigs := launcher.CatchRunSignals()
	sb, err := launcher.StartWithRoles(plan, roles(), os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		sigs.Stop()
		return err
	}
	live, err := sb.Publish()
	if err != nil {
		fmt.Fprintf(o.io.ErrOut, "sbx: warning: this sandbox will not appear in sbx list/top: %v\n", err)
	}
	code := sb.WaitRelaying(sigs)
	if live != nil {
		live.Close(code)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func currentHome() string {
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

// rolesAhead is the gofer and kernel of the next sandbox, started before its plan.
type rolesAhead chan struct {
	r   *launcher.Roles
	err error
}

// earlyRoles are the roles main started for `sbx run` before parsing the command line;
// taken (set to nil) by the run they are for.
var earlyRoles rolesAhead

// startRolesAhead starts a sandbox's gofer and kernel with sbx's standard streams in the
// background.
func startRolesAhead() rolesAhead {
	ch := make(rolesAhead, 1)
	go func() {
		r, err := launcher.StartRoles(os.Stdin, os.Stdout, os.Stderr, false)
		ch <- struct {
			r   *launcher.Roles
			err error
		}{r, err}
	}()
	return ch
}

// discardEarlyRoles stops roles started for a run that did not take them (a usage error,
// --help).
func discardEarlyRoles() {
	if earlyRoles == nil {
		return
	}
	if s := <-earlyRoles; s.err == nil {
		s.r.Discard()
	}
	earlyRoles = nil
}
