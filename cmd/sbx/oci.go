package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sbx-dev/sbx/oci"
	"github.com/sbx-dev/sbx/oci/spec"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// runcNames are the names under which sbx answers with runc's command set at the top level
// (a symlink named so, for engines that expect runc's CLI).
var runcNames = map[string]bool{"sbx-runc": true, "runc": true}

// ociOptions are runc's global flags.
type ociOptions struct {
	io        *IOStreams
	root      string
	log       string
	logFormat string
	debug     bool
	systemd   bool
	rootless  string
	criu      string
}

// defaultOCIRoot is where containers' state lives without --root: /run/sbx-runc for the
// real root, else under $XDG_RUNTIME_DIR, as runc decides (rootless engines run the
// runtime as root of a user namespace of their own).
func defaultOCIRoot() string {
	if os.Getuid() == 0 && !inUserNamespace() {
		return "/run/sbx-runc"
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "sbx-runc")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("sbx-runc-%d", os.Getuid()))
}

// inUserNamespace reports whether the process runs in a user namespace other than the
// initial one (whose uid_map maps every ID to itself).
func inUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// newOCICmd is `sbx oci`, or the root command itself when invoked as sbx-runc.
func newOCICmd(io *IOStreams, asRoot bool) *cobra.Command {
	o := &ociOptions{io: io}
	cmd := &cobra.Command{
		Use:   "oci",
		Short: "OCI runtime (runc-compatible command line) for Podman, Docker, containerd and Kubernetes",
		Long: `An OCI runtime: containers from OCI bundles run in sbx's user-space kernel, their
root filesystem and bind mounts served by the gofer. The commands and global flags are
runc's, so engines can use sbx where they use runc (also through a symlink to sbx named
sbx-runc). See docs/oci.md.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if asRoot {
		cmd.Use = "sbx-runc"
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.root, "root", defaultOCIRoot(), "directory for the containers' state")
	pf.StringVar(&o.log, "log", "", "write errors to this file (as well as to stderr)")
	pf.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&o.debug, "debug", false, "log the kernel's diagnostics")
	pf.BoolVar(&o.systemd, "systemd-cgroup", false, "accepted for runc compatibility (sbx does not use cgroups)")
	pf.StringVar(&o.rootless, "rootless", "auto", "accepted for runc compatibility (sbx needs no privileges)")
	pf.StringVar(&o.criu, "criu", "", "accepted for runc compatibility (checkpointing is not offered)")
	rt := func() *oci.Runtime { return &oci.Runtime{Root: o.root} }
	fail := func(err error) error { return o.logError(err) }

	var bundle, pidFile, console, noArg string
	var preserve int
	var noPivot, noKeyring bool
	create := &cobra.Command{
		Use:   "create [flags] CONTAINER-ID",
		Short: "Create a container from a bundle (its process waits for start)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			err := rt().Create(args[0], oci.CreateOptions{Bundle: bundle, PidFile: pidFile, ConsoleSocket: console,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
			return fail(err)
		},
	}
	addCreateFlags := func(c *cobra.Command) {
		c.Flags().StringVarP(&bundle, "bundle", "b", ".", "the bundle directory (holding config.json)")
		c.Flags().StringVar(&pidFile, "pid-file", "", "write the container process's PID here")
		c.Flags().StringVar(&console, "console-socket", "", "unix socket that receives the terminal's master end")
		c.Flags().IntVar(&preserve, "preserve-fds", 0, "accepted for runc compatibility")
		c.Flags().BoolVar(&noPivot, "no-pivot", false, "accepted for runc compatibility")
		c.Flags().BoolVar(&noKeyring, "no-new-keyring", false, "accepted for runc compatibility")
	}
	addCreateFlags(create)

	start := &cobra.Command{
		Use:   "start CONTAINER-ID",
		Short: "Start a created container",
		Args:  cobra.ExactArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return fail(rt().Start(args[0])) },
	}
	var detach bool
	runCmd := &cobra.Command{
		Use:   "run [flags] CONTAINER-ID",
		Short: "Create and start a container, and wait for it (unless --detach)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r := rt()
			if err := r.Create(args[0], oci.CreateOptions{Bundle: bundle, PidFile: pidFile, ConsoleSocket: console,
				Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}); err != nil {
				return fail(err)
			}
			st, err := r.State(args[0])
			if err != nil {
				return fail(err)
			}
			if err := r.Start(args[0]); err != nil {
				return fail(err)
			}
			if detach {
				return nil
			}
			code := waitPid(st.Pid)
			r.Delete(args[0], true)
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	addCreateFlags(runCmd)
	runCmd.Flags().BoolVarP(&detach, "detach", "d", false, "do not wait for the container")

	state := &cobra.Command{
		Use:   "state CONTAINER-ID",
		Short: "Print the container's state as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := rt().State(args[0])
			if err != nil {
				return fail(err)
			}
			return printJSON(io, st)
		},
	}
	var killAll bool
	kill := &cobra.Command{
		Use:   "kill [flags] CONTAINER-ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to the container's process",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			sig := syscall.SIGTERM
			if len(args) == 2 {
				s, err := parseSignal(args[1])
				if err != nil {
					return fail(err)
				}
				sig = s
			}
			return fail(rt().Kill(args[0], sig, killAll))
		},
	}
	kill.Flags().BoolVarP(&killAll, "all", "a", false, "signal every process of the container")
	var force bool
	del := &cobra.Command{
		Use:   "delete [flags] CONTAINER-ID",
		Short: "Delete a stopped container (--force: any)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			err := rt().Delete(args[0], force)
			if force && errors.Is(err, oci.ErrNotExist) {
				return nil
			}
			return fail(err)
		},
	}
	del.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it runs")
	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			sts, err := rt().List()
			if err != nil {
				return fail(err)
			}
			if format == "json" {
				if sts == nil {
					sts = []spec.State{}
				}
				return printJSON(io, sts)
			}
			w := tabwriter.NewWriter(io.Out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
			for _, s := range sts {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created, s.Owner)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	ps := &cobra.Command{
		Use:   "ps [flags] CONTAINER-ID",
		Short: "List the container's host processes (the monitor)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := rt().State(args[0])
			if err != nil {
				return fail(err)
			}
			pids := []int{}
			if st.Pid > 0 {
				pids = append(pids, st.Pid)
			}
			if format == "json" {
				return printJSON(io, pids)
			}
			fmt.Fprintln(io.Out, "PID")
			for _, p := range pids {
				fmt.Fprintln(io.Out, p)
			}
			return nil
		},
	}
	ps.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	var processFile, execCwd, execUser string
	var execEnv []string
	var execTTY bool
	var execAny []string
	var execInt int
	var execBool bool
	execCmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER-ID [COMMAND [ARG...]]",
		Short: "Run another process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r := rt()
			st, err := r.State(args[0])
			if err != nil {
				return fail(err)
			}
			p, err := execProcess(st.Bundle, processFile, args[1:], execEnv, execCwd, execUser, c.Flags().Changed("tty"), execTTY)
			if err != nil {
				return fail(err)
			}
			code, err := r.Exec(args[0], oci.ExecOptions{Process: p, Detach: detach, PidFile: pidFile, ConsoleSocket: console})
			if err != nil {
				return o.logError(&CodedError{Code: code, Err: err})
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	ef := execCmd.Flags()
	ef.SetInterspersed(false)
	ef.StringVarP(&processFile, "process", "p", "", "a process.json giving the process (as config.json's process)")
	ef.BoolVarP(&detach, "detach", "d", false, "return once the process runs (its host process is the --pid-file PID)")
	ef.StringVar(&pidFile, "pid-file", "", "write the process's host PID here")
	ef.StringVar(&console, "console-socket", "", "unix socket that receives the terminal's master end")
	ef.BoolVarP(&execTTY, "tty", "t", false, "allocate a terminal")
	ef.StringVar(&execCwd, "cwd", "", "working directory inside the container")
	ef.StringArrayVarP(&execEnv, "env", "e", nil, "set an environment variable (KEY=VALUE; repeatable)")
	ef.StringVarP(&execUser, "user", "u", "", "UID[:GID] to run as")
	ef.StringArrayVar(&execAny, "cap", nil, "accepted for runc compatibility (capabilities are the sandbox's own)")
	ef.StringArrayVarP(&execAny, "additional-gids", "g", nil, "accepted for runc compatibility")
	ef.StringVar(&noArg, "apparmor", "", "accepted for runc compatibility")
	ef.StringVar(&noArg, "process-label", "", "accepted for runc compatibility")
	ef.BoolVar(&execBool, "no-new-privs", false, "accepted for runc compatibility (always in force)")
	ef.BoolVar(&execBool, "ignore-paused", false, "accepted for runc compatibility")
	ef.IntVar(&execInt, "preserve-fds", 0, "accepted for runc compatibility")
	features := &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports (JSON)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, args []string) error { return printJSON(io, oci.Features()) },
	}
	var specRootless bool
	specCmd := &cobra.Command{
		Use:   "spec",
		Short: "Write a starting config.json into the bundle directory",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fail(fmt.Errorf("file %s exists; remove it first", path))
			}
			b, _ := json.MarshalIndent(spec.Example(specRootless), "", "\t")
			return fail(os.WriteFile(path, append(b, '\n'), 0o666))
		},
	}
	specCmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "the bundle directory")
	specCmd.Flags().BoolVar(&specRootless, "rootless", false, "a spec for a rootless container")
	versionCmd := &cobra.Command{
		Use:   "version",
		Short: "Print the runtime's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			fmt.Fprintf(io.Out, "sbx-runc version %s\nspec: %s\n", currentVersion(), spec.Version)
			return nil
		},
	}
	var evStats bool
	var evInterval time.Duration
	events := &cobra.Command{
		Use:   "events [--stats] [--interval D] CONTAINER-ID",
		Short: "Print the container's use as runc's stats events (once with --stats, else every interval while it runs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r := rt()
			enc := json.NewEncoder(io.Out)
			for {
				u, err := r.Stats(args[0])
				if err != nil {
					if !evStats {
						if st, serr := r.State(args[0]); serr == nil && st.Status == spec.StatusStopped {
							return nil // the stream ends with the container
						}
					}
					return fail(err)
				}
				if err := enc.Encode(oci.StatsEvent(args[0], u)); err != nil {
					return err
				}
				if evStats {
					return nil
				}
				time.Sleep(evInterval)
			}
		},
	}
	events.Flags().BoolVar(&evStats, "stats", false, "print the statistics once and exit")
	events.Flags().DurationVar(&evInterval, "interval", 5*time.Second, "time between statistics")
	cmd.AddCommand(create, start, runCmd, state, kill, del, list, ps, execCmd, features, specCmd, events)
	if asRoot {
		cmd.AddCommand(versionCmd)
		cmd.Version = currentVersion()
		cmd.SetVersionTemplate("sbx-runc version {{.Version}}\nspec: " + spec.Version + "\n")
	}
	return cmd
}

// logError writes err to --log (runc's JSON lines with --log-format json) and returns it.
func (o *ociOptions) logError(err error) error {
	if err == nil || o.log == "" {
		return err
	}
	f, ferr := os.OpenFile(o.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return err
	}
	defer f.Close()
	if o.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
		f.Write(append(b, '\n'))
	} else {
		fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), err.Error())
	}
	return err
}

func printJSON(io *IOStreams, v any) error {
	enc := json.NewEncoder(io.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseSignal reads a signal as a number, NAME or SIGNAME.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// waitPid waits for a process that is not our child (the container's monitor, whose parent
// create was) to end; its status is not ours to read, so it reports 0 or 137 when killed.
func waitPid(pid int) int {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err == nil {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	for unix.Kill(pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// addOCICommands registers `sbx oci` and the OCI runtime's hidden roles.
func addOCICommands(root *cobra.Command, io *IOStreams) {
	root.AddCommand(newOCICmd(io, false))
	addOCIRoles(root)
}

// addOCIRoles registers the hidden roles of a container's monitor and of a detached exec.
func addOCIRoles(root *cobra.Command) {
	for _, r := range []struct {
		use  string
		main func() int
	}{{oci.InitRole, oci.InitMain}, {oci.ExecRole, oci.ExecMain}} {
		root.AddCommand(&cobra.Command{
			Use:    r.use,
			Hidden: true,
			Args:   cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if code := r.main(); code != 0 {
					return &ExitError{Code: code}
				}
				return nil
			},
		})
	}
}

// runcMain runs sbx as sbx-runc: runc's command set at the top level, plus the roles sbx
// re-executes itself into.
func runcMain(args []string, io *IOStreams) int {
	root := newOCICmd(io, true)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	addRoleCommands(root, io)
	addOCIRoles(root)
	root.SetArgs(args)
	return exitCode(root.Execute(), io)
}

// execProcess builds an exec's process: process.json when given, else the container's own
// process with the command, environment, directory, user and terminal flags applied.
func execProcess(bundle, processFile string, args, env []string, cwd, user string, ttySet, tty bool) (*spec.Process, error) {
	var p spec.Process
	if processFile != "" {
		b, err := os.ReadFile(processFile)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", processFile, err)
		}
		return &p, nil
	}
	spec, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process != nil {
		p = *spec.Process
	}
	p.Terminal = false
	if ttySet {
		p.Terminal = tty
	}
	p.Args = args
	p.Env = append(append([]string(nil), p.Env...), env...)
	if cwd != "" {
		p.Cwd = cwd
	}
	if user != "" {
		u, g, _ := strings.Cut(user, ":")
		uid, err := strconv.ParseUint(u, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: want UID[:GID]", user)
		}
		p.User.UID, p.User.GID = uint32(uid), 0
		if g != "" {
			gid, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: want UID[:GID]", user)
			}
			p.User.GID = uint32(gid)
		}
	}
	return &p, nil
}
