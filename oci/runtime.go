// Package oci is sbx's OCI runtime front end: runc's command set over containers whose plan
// comes from their bundle (plan.ForBundle, the same launcher.Plan `sbx run` builds),
// with the container lifecycle of the OCI runtime specification (create, start, state,
// kill, delete, exec), keeping each container's state under a root directory as runc does.
//
// A container is a small monitor process (sbx re-executed in the OCI init role) that the
// engine sees as the container's process: create starts it, and it waits on a FIFO in the
// container's state directory; start opens the FIFO, and the monitor starts the sandbox
// (gofer and kernel) and exits with the app's status. Signals sent to it reach the app.
package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/oci/spec"
	"github.com/sbx-dev/sbx/plan"
	"golang.org/x/sys/unix"
)

// InitRole is the hidden subcommand of the container's monitor process.
const InitRole = "__oci-init"

// initConfigFD is where the monitor reads its configuration.
const initConfigFD = 3

// Runtime is the runc-style command set over one state root.
type Runtime struct {
	// spec.Root holds one directory per container (runc's --root).
	Root string
}

// record is what the state directory keeps about a container.
type record struct {
	spec.State
	// StartTime is the monitor's start time (/proc/PID/stat field 22), against PID reuse.
	StartTime uint64      `json:"start_time"`
	Hooks     *spec.Hooks `json:"hooks,omitempty"`
	// Cgroup is the cgroup path the container's processes joined (empty: none).
	Cgroup string `json:"cgroup,omitempty"`
}

// initConfig is what create hands the monitor.
type initConfig struct {
	Dir  string         `json:"dir"`
	Plan *launcher.Plan `json:"plan"`
	// OwnNetNS: the monitor runs in a network namespace made for the container.
	OwnNetNS bool `json:"own_netns,omitempty"`
}

// startMonitor starts a container's monitor process (in a new network namespace with
// newNet) and returns it with the pipe its configuration goes down.
func startMonitor(o CreateOptions, terminal bool, stdin, stdout, stderr *os.File, newNet bool) (*exec.Cmd, *os.File, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer cfgR.Close()
	cmd := exec.Command("/proc/self/exe", InitRole)
	cmd.Args[0] = "sbx-oci-init"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{cfgR}
	cmd.Env = []string{"GODEBUG=updatemaxprocs=0"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: terminal, Ctty: 0}
	if newNet {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if err := cmd.Start(); err != nil {
		cfgW.Close()
		return nil, nil, err
	}
	return cmd, cfgW, nil
}

// Error kinds the CLI maps to messages; runc's wording where runc has one.
var (
	ErrNotExist = errors.New("container does not exist")
	ErrExist    = errors.New("container with given ID already exists")
)

var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w+\-.]+$`) })

func (r *Runtime) dir(id string) (string, error) {
	if !idRE().MatchString(id) || id == "." || id == ".." {
		return "", fmt.Errorf("invalid container ID %q (letters, digits, _ + - . only)", id)
	}
	return filepath.Join(r.Root, id), nil
}

func (r *Runtime) load(id string) (string, *record, error) {
	dir, err := r.dir(id)
	if err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return dir, nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return dir, nil, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return dir, nil, fmt.Errorf("container %s: corrupt state: %w", id, err)
	}
	rec.Status = status(dir, &rec)
	if rec.Status == spec.StatusStopped {
		rec.Pid = 0
	}
	return dir, &rec, nil
}

// status derives the container's status from its monitor: alive and waiting on the FIFO is
// created, alive past it is running, gone is stopped.
func status(dir string, rec *record) string {
	if rec.Pid <= 0 || procStartTime(rec.Pid) != rec.StartTime {
		return spec.StatusStopped
	}
	if st, _ := procState(rec.Pid); st == 'Z' || st == 'X' {
		return spec.StatusStopped
	}
	if _, err := os.Stat(filepath.Join(dir, "exec.fifo")); err == nil {
		return spec.StatusCreated
	}
	return spec.StatusRunning
}

// procStat reads /proc/PID/stat's fields after the command name.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func procStartTime(pid int) uint64 {
	f := procStat(pid)
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64) // field 22
	return n
}

func procState(pid int) (byte, bool) {
	f := procStat(pid)
	if len(f) < 1 || f[0] == "" {
		return 0, false
	}
	return f[0][0], true
}

// CreateOptions are create's flags.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	// Stdio are the container's standard streams when it has no terminal.
	Stdin, Stdout, Stderr *os.File
}

// Create makes a container from the bundle: its plan is built and checked, the monitor
// process started, waiting for Start.
func (r *Runtime) Create(id string, o CreateOptions) error {
	dir, err := r.dir(id)
	if err != nil {
		return err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return err
	}
	cfg, err := spec.Load(bundle)
	if err != nil {
		return err
	}
	pl, err := plan.ForBundle(id, bundle, cfg)
	if err != nil {
		return err
	}
	if err := makeMountPoints(pl.Gofer.Mounts[0].HostPath, cfg); err != nil {
		return err
	}
	if cfg.Process.Terminal && o.ConsoleSocket == "" {
		return errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !cfg.Process.Terminal && o.ConsoleSocket != "" {
		return errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("container %s: %w", id, ErrExist)
		}
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if err := unix.Mkfifo(filepath.Join(dir, "exec.fifo"), 0o600); err != nil {
		return fmt.Errorf("exec fifo: %w", err)
	}
	rec := &record{State: spec.State{OCIVersion: spec.Version, ID: id, Status: spec.StatusCreating, Bundle: bundle, Rootfs: pl.Gofer.Mounts[0].HostPath,
		Created: time.Now().UTC().Format(time.RFC3339Nano), Owner: "", Annotations: cfg.Annotations}, Hooks: cfg.Hooks}
	stdin, stdout, stderr := o.Stdin, o.Stdout, o.Stderr
	if cfg.Process.Terminal {
		master, slave, err := openPty(cfg.Process.ConsoleSize)
		if err != nil {
			return err
		}
		defer master.Close()
		defer slave.Close()
		if err := sendConsole(o.ConsoleSocket, master); err != nil {
			return err
		}
		stdin, stdout, stderr = slave, slave, slave
		pl.Env = appendIfMissing(pl.Env, "TERM=xterm")
	}
	// Why: a container asking for a network namespace of its own gets one, made for its
	// monitor (the PID engines know it by, so their hooks find and configure it), where
	// the net broker then makes its sockets; unprivileged, it has no network instead.
	newNet := pl.NetNS == plan.NewNetNS
	if newNet {
		pl.NetNS = ""
	}
	cmd, cfgW, err := startMonitor(o, cfg.Process.Terminal, stdin, stdout, stderr, newNet)
	if err != nil && newNet {
		newNet = false
		cmd, cfgW, err = startMonitor(o, cfg.Process.Terminal, stdin, stdout, stderr, false)
	}
	if err != nil {
		return fmt.Errorf("starting the container's monitor: %w", err)
	}
	netnsPath := pl.NetNS
	if newNet {
		netnsPath = fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	} else if s := cfg.Linux; s != nil && slices.ContainsFunc(s.Namespaces, func(n spec.Namespace) bool { return n.Type == "network" && n.Path == "" }) {
		pl.Net = netbroker.Policy{} // no network but the kernel's loopback
	}
	rec.Pid = cmd.Process.Pid
	rec.StartTime = procStartTime(rec.Pid)
	// Why: the engine accounts the container's use by its cgroup (podman stats); the
	// monitor joins it before it starts the gofer and kernel, which inherit it.
	var res *spec.Resources
	cgPath := ""
	if cfg.Linux != nil {
		res, cgPath = cfg.Linux.Resources, cfg.Linux.CgroupsPath
	}
	cgPath = cgroupPath(cgPath, id)
	if joined, err := joinCgroup(cgPath, rec.Pid, res); err != nil {
		cmd.Process.Kill()
		removeCgroup(cgPath)
		return err
	} else if joined {
		rec.Cgroup = cgPath
		defer func() {
			if !ok {
				cmd.Process.Kill()
				cmd.Process.Wait()
				removeCgroup(cgPath)
			}
		}()
	}
	if res != nil && res.CPU != nil && res.CPU.Cpus != "" {
		if err := setCPUs(rec.Pid, res.CPU.Cpus); err != nil {
			cmd.Process.Kill()
			return err
		}
	}
	// Why: the monitor starts the gofer and the kernel once it has its configuration, so
	// its cgroup and CPUs are set first: they inherit both.
	json.NewEncoder(cfgW).Encode(initConfig{Dir: dir, Plan: pl, OwnNetNS: newNet})
	cfgW.Close()
	if err := r.save(dir, rec); err != nil {
		cmd.Process.Kill()
		return err
	}
	state := rec.State
	state.Status = spec.StatusCreating
	if cfg.Hooks != nil {
		// prestart (deprecated) and createRuntime run in the runtime's namespaces;
		// createContainer in the container's as far as they exist on the host before it
		// starts: its network namespace, with its root filesystem as working directory.
		for _, hs := range [][]spec.Hook{cfg.Hooks.Prestart, cfg.Hooks.CreateRuntime} {
			if err := runHooks(hs, state, hookPlace{}); err != nil {
				cmd.Process.Kill()
				return err
			}
		}
		if err := runHooks(cfg.Hooks.CreateContainer, state, hookPlace{netns: netnsPath, dir: rec.Rootfs}); err != nil {
			cmd.Process.Kill()
			return err
		}
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(rec.Pid))); err != nil {
			cmd.Process.Kill()
			return err
		}
	}
	// The monitor is not waited for: it is the container, reparented to the engine's
	// subreaper (conmon, containerd's shim) when this process exits.
	cmd.Process.Release()
	ok = true
	return nil
}

func appendIfMissing(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return env
		}
	}
	return append(env, kv)
}

func (r *Runtime) save(dir string, rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "state.json"), b)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Start lets a created container's process run.
func (r *Runtime) Start(id string) error {
	dir, rec, err := r.load(id)
	if err != nil {
		return err
	}
	switch rec.Status {
	case spec.StatusRunning:
		return errors.New("cannot start an already running container")
	case spec.StatusStopped:
		return errors.New("cannot start a container that has stopped")
	}
	// Opening the FIFO's read end releases the monitor, which writes one byte, runs the
	// startContainer hooks and the container's program, and closes its end: after a
	// failure, with the reason.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := openFifoRead(ctx, filepath.Join(dir, "exec.fifo"))
	if err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	defer f.Close()
	rest, err := io.ReadAll(f)
	os.Remove(filepath.Join(dir, "exec.fifo"))
	if err != nil {
		return fmt.Errorf("starting container %s: %w", id, err)
	}
	if len(rest) == 0 {
		return fmt.Errorf("starting container %s: its process ended", id)
	}
	if msg, failed := strings.CutPrefix(string(rest[1:]), "error: "); failed {
		return fmt.Errorf("starting container %s: %s", id, msg)
	}
	if rec.Hooks != nil {
		st := rec.State
		st.Status = spec.StatusRunning
		// A failing poststart hook is a warning; the rest run and start succeeds.
		warnHooks(rec.Hooks.Poststart, st)
	}
	return nil
}

// spec.State returns the container's state.
func (r *Runtime) State(id string) (*spec.State, error) {
	_, rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return &rec.State, nil
}

// List returns every container's state.
func (r *Runtime) List() ([]spec.State, error) {
	ents, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []spec.State
	for _, e := range ents {
		if _, rec, err := r.load(e.Name()); err == nil {
			out = append(out, rec.State)
		}
	}
	return out, nil
}

// Kill sends sig to the container's process.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	dir, rec, err := r.load(id)
	if err != nil {
		return err
	}
	if rec.Status == spec.StatusStopped {
		return errors.New("container not running")
	}
	if all && rec.Status == spec.StatusRunning {
		// Every process inside; the monitor gets SIGKILL itself (which it cannot relay).
		if sig == unix.SIGKILL {
			return unix.Kill(rec.Pid, sig)
		}
		return signalAll(dir, sig)
	}
	if err := unix.Kill(rec.Pid, sig); err != nil {
		if err == unix.ESRCH {
			return errors.New("container not running")
		}
		return err
	}
	return nil
}

// Delete removes a stopped container (with force, any: it is killed first).
func (r *Runtime) Delete(id string, force bool) error {
	dir, rec, err := r.load(id)
	if err != nil {
		return err
	}
	if rec.Status != spec.StatusStopped {
		if !force && rec.Status != spec.StatusCreated {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, rec.Status)
		}
		unix.Kill(rec.Pid, unix.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if status(dir, rec) == spec.StatusStopped {
				break
			}
		}
	}
	st := rec.State
	st.Status = spec.StatusStopped
	st.Pid = 0
	if rec.Cgroup != "" {
		removeCgroup(rec.Cgroup)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	// After the container is gone, before delete returns; failures are warnings.
	if rec.Hooks != nil {
		warnHooks(rec.Hooks.Poststop, st)
	}
	return nil
}

// warnHooks runs every hook, reporting failures as warnings on standard error (hooks
// that may not fail their operation: poststart, poststop).
func warnHooks(hooks []spec.Hook, st spec.State) {
	for _, h := range hooks {
		if err := runHooks([]spec.Hook{h}, st, hookPlace{}); err != nil {
			fmt.Fprintf(os.Stderr, "sbx: warning: %v\n", err)
		}
	}
}

// hookPlace is where a host hook runs: netns (a path; empty: the runtime's) and dir
// (its working directory; empty: the runtime's).
type hookPlace struct {
	netns, dir string
}

// runHooks runs hooks on the host in order, with the state on their standard input; the
// first failure stops the rest.
func runHooks(hooks []spec.Hook, st spec.State, where hookPlace) error {
	b, _ := json.Marshal(st)
	for _, h := range hooks {
		ctx := context.Background()
		cancel := func() {}
		if h.Timeout != nil && *h.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		cmd.Dir = where.dir
		cmd.Stdin = bytes.NewReader(b)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := startIn(cmd, where.netns)
		if err == nil {
			err = cmd.Wait()
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("timed out after %ds", *h.Timeout)
			}
			return fmt.Errorf("hook %s: %v: %s", h.Path, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}

// startIn starts cmd in the network namespace at netns (empty: this process's): it is
// forked from a thread that entered the namespace, and a child starts in its parent
// thread's namespaces. The thread is never used again (its goroutine ends locked).
func startIn(cmd *exec.Cmd, netns string) error {
	if netns == "" {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("entering the container's network namespace %s: %w", netns, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// loopbackUp brings up lo in this process's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// startContainerHooks runs hooks as processes of the sandbox (its program held): they
// resolve and run in the container's namespaces, which for sbx are its kernel's (files,
// mounts, processes, hostname, network), as root of the container, with the state on
// their standard input and their output on the container's standard error.
func startContainerHooks(sb *launcher.Sandbox, hooks []spec.Hook, st spec.State) error {
	b, _ := json.Marshal(st)
	for _, h := range hooks {
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		go func() { w.Write(b); w.Close() }()
		_, wait, stop, err := sb.Exec(sandbox.ExecRequest{Path: h.Path, Argv: args, Env: h.Env, Cwd: "/"}, r, os.Stderr, os.Stderr)
		r.Close()
		if err != nil {
			return fmt.Errorf("startContainer hook %s: %w", h.Path, err)
		}
		var timer *time.Timer
		var timedOut atomic.Bool
		if h.Timeout != nil && *h.Timeout > 0 {
			timer = time.AfterFunc(time.Duration(*h.Timeout)*time.Second, func() { timedOut.Store(true); stop() })
		}
		status, err := wait()
		if timer != nil {
			timer.Stop()
		}
		stop()
		switch {
		case timedOut.Load():
			return fmt.Errorf("startContainer hook %s: timed out after %ds", h.Path, *h.Timeout)
		case err != nil:
			return fmt.Errorf("startContainer hook %s: %w", h.Path, err)
		case status != 0:
			return fmt.Errorf("startContainer hook %s: exit status %d", h.Path, status)
		}
	}
	return nil
}

// openFifoRead opens a FIFO's read end, giving up when ctx ends (no writer came).
func openFifoRead(ctx context.Context, path string) (*os.File, error) {
	type res struct {
		f   *os.File
		err error
	}
	c := make(chan res, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_RDONLY, 0)
		c <- res{f, err}
	}()
	select {
	case r := <-c:
		return r.f, r.err
	case <-ctx.Done():
		// Unblock the open (its writer never came) so the goroutine ends.
		if w, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		if r := <-c; r.f != nil {
			r.f.Close()
		}
		return nil, errors.New("its process did not respond")
	}
}

// InitMain is the body of the monitor role: wait for start, then run the sandbox and exit
// with the app's status.
func InitMain() int {
	f := os.NewFile(initConfigFD, "config")
	var cfg initConfig
	err := json.NewDecoder(f).Decode(&cfg)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sbx: container: reading configuration: %v\n", err)
		return 125
	}
	// The exec socket exists from now on, so that an exec right after start waits for the
	// sandbox instead of failing.
	execs, err := listenExecs(cfg.Dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sbx: container: exec socket: %v\n", err)
		return 125
	}
	defer execs.Close()
	// Blocks until Start opens the read end.
	fifo, err := os.OpenFile(filepath.Join(cfg.Dir, "exec.fifo"), os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sbx: container: waiting for start: %v\n", err)
		return 125
	}
	fifo.Write([]byte{0})
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "sbx: container: %v\n", err)
		fifo.Write([]byte("error: " + err.Error()))
		fifo.Close()
		return 125
	}
	var rec record
	if b, err := os.ReadFile(filepath.Join(cfg.Dir, "state.json")); err == nil {
		json.Unmarshal(b, &rec)
	}
	if cfg.OwnNetNS {
		// The container's network namespace, as its engine's hooks left it: its loopback
		// up (as runc's containers find it), its addresses what eth0 shows inside.
		if err := loopbackUp(); err != nil {
			return fail(fmt.Errorf("the network namespace's loopback: %w", err))
		}
		cfg.Plan.NetAddrs = plan.HostAddrs()
	}
	// The sandbox is built with its program held: startContainer hooks run in it first,
	// and start returns once the program runs.
	cfg.Plan.Hold = true
	sb, err := launcher.Start(cfg.Plan, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		return fail(err)
	}
	go serveExecs(execs, sb)
	if rec.Hooks != nil {
		st := rec.State
		st.Status = spec.StatusCreated
		st.Pid = os.Getpid()
		if err := startContainerHooks(sb, rec.Hooks.StartContainer, st); err != nil {
			sb.Kill()
			return fail(err)
		}
	}
	// Every signal an engine sends (stop, kill, custom stop signals) goes to the app. They
	// are caught before the program runs: the engine may signal as soon as the program has
	// started (start returned, or its output said so), and one that reached the monitor
	// before it caught it ended the container with the monitor instead (launcher.CatchSignals).
	var relay []os.Signal
	for s := syscall.Signal(1); s < 32; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG, syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGTSTP:
			continue
		}
		relay = append(relay, s)
	}
	signal.Ignore(syscall.SIGTTIN, syscall.SIGTTOU)
	sigs := launcher.CatchSignals(relay, nil)
	// An error here (the program cannot run) is the kernel's to report, with its status.
	sb.Release()
	fifo.Close()
	return sb.WaitRelaying(sigs)
}

// makeMountPoints creates the mount points the spec's mounts need in the root filesystem,
// as runc does before it makes the root read-only: directories, or empty files for binds
// of files. Paths resolve inside the root (its symlinks cannot lead out).
func makeMountPoints(rootfs string, s *spec.Spec) error {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	var kernelMounts []string // destinations the kernel's own filesystems cover
	for _, m := range s.Mounts {
		clean := filepath.Clean(m.Destination)
		dst := strings.Trim(clean, "/")
		inKernelFS := slices.ContainsFunc(kernelMounts, func(k string) bool { _, ok := below(clean, k); return ok })
		switch m.Type {
		case "devpts", "mqueue", "cgroup", "cgroup2":
			continue // not mounted
		case "tmpfs", "proc", "sysfs", "devtmpfs":
			kernelMounts = append(kernelMounts, clean)
		}
		if dst == "" || inKernelFS {
			continue // the kernel makes mount points in its own filesystems
		}
		file := false
		if m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind") {
			if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
				file = true
			}
		}
		parts := strings.Split(dst, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
			fd, err := unix.Openat2(root, p, &how)
			if err == nil {
				unix.Close(fd)
				continue
			}
			if err != unix.ENOENT {
				return fmt.Errorf("mount point %s: %w", m.Destination, err)
			}
			parent := root
			if i > 0 {
				pfd, err := unix.Openat2(root, strings.Join(parts[:i], "/"), &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
				if err != nil {
					return fmt.Errorf("mount point %s: %w", m.Destination, err)
				}
				defer unix.Close(pfd)
				parent = pfd
			}
			if file && i == len(parts)-1 {
				fd, err := unix.Openat(parent, parts[i], unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if err != nil && err != unix.EEXIST {
					return fmt.Errorf("mount point %s: %w", m.Destination, err)
				}
				if err == nil {
					unix.Close(fd)
				}
			} else if err := unix.Mkdirat(parent, parts[i], 0o755); err != nil && err != unix.EEXIST {
				return fmt.Errorf("mount point %s: %w", m.Destination, err)
			}
		}
	}
	return nil
}

// below reports whether path lies at or below dir.
func below(path, dir string) (string, bool) {
	if dir == "/" {
		return strings.TrimPrefix(path, "/"), true
	}
	if path == dir {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, dir+"/"); ok {
		return rest, true
	}
	return "", false
}
