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
	plan, err := buildPlan(o, args)
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(o.io.ErrOut, "sbx: warning: %s\n", w)
	}
	sb, err := launcher.Start(plan, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	live, err := sb.Publish()
	if err != nil {
		fmt.Fprintf(o.io.ErrOut, "sbx: warning: this sandbox will not appear in sbx list/top: %v\n", err)
	}
	code := sb.Wait()
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
