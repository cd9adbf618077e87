package launcher

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher/broker/display"
	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/launcher/dbusproxy"
	"github.com/sbx-dev/sbx/role"
	"golang.org/x/sys/unix"
)

// KernelRole is the hidden subcommand that runs the kernel role.
const KernelRole = "__kernel"

// Sandbox is a running sandbox.
type Sandbox struct {
	Plan *Plan
	dbus *dbusproxy.Proxy
	net  *netbroker.Broker
	// stopNested stops the nested X server (x11 = "nested"), if any.
	stopNested func()
	// denialSink receives denials (set by Publish). It holds a func(kind, detail string).
	denialSink atomic.Value
	Started    time.Time
	gofer      *gofer.Process
	kernel     *exec.Cmd
	// status is the launcher's end of the kernel's status channel (StatusFD): the app's
	// exit status arrives there once every stub is reaped (kernel/sandbox/exit.go).
	status *os.File
	ctlMu  sync.Mutex
	ctl    *os.File
	// execCh asks the kernel to start processes (Exec).
	execCh  *os.File
	ctlRead *bufio.Scanner
	// stderr is where start-up (and end) steps are logged with --debug.
	stderr io.Writer
}

// Start launches the gofer and the kernel for plan, with the caller's standard streams.
func Start(plan *Plan, stdin io.Reader, stdout, stderr io.Writer) (*Sandbox, error) {
	return StartWithRoles(plan, nil, stdin, stdout, stderr)
}

// StartWithRoles is Start with roles started ahead by StartRoles (with the same standard
// streams); nil, or roles started for other file capabilities than the plan's gofer
// keeps (which are then discarded), starts new ones. On error the roles are gone.
func StartWithRoles(plan *Plan, roles *Roles, stdin io.Reader, stdout, stderr io.Writer) (*Sandbox, error) {
	if roles != nil && roles.rootFileCaps != plan.Gofer.RootFileCaps {
		roles.Discard()
		roles = nil
	}
	// Why: the app's session bus is a proxy enforcing the profile's [dbus] policy.
	var proxy *dbusproxy.Proxy
	sb := &Sandbox{Plan: plan}
	if d := plan.DBus; d != nil {
		p, err := dbusproxy.New(dbusproxy.Options{Upstream: d.Upstream, Policy: d.Policy, OnDenial: func(dn dbusproxy.Denial) {
			sb.denied("dbus", fmt.Sprintf("%s: %s → %s %s.%s %s", dn.Kind, dn.Sender, dn.Destination, dn.Interface, dn.Member, dn.Path))
		}})
		if err != nil {
			if roles != nil {
				roles.Discard()
			}
			return nil, err
		}
		os.Remove(d.Listen)
		l, err := net.Listen("unix", d.Listen)
		if err != nil {
			if roles != nil {
				roles.Discard()
			}
			return nil, fmt.Errorf("D-Bus proxy socket: %w", err)
		}
		os.Chmod(d.Listen, 0o600)
		go p.Serve(l)
		proxy = p
	}
	// Why: x11 = "nested" gives the app its own X server instead of the user's display.
	if n := plan.NestedX11; n != nil {
		stop, err := startNestedX11(n)
		if err != nil {
			if proxy != nil {
				proxy.Close()
			}
			if roles != nil {
				roles.Discard()
			}
			return nil, err
		}
		sb.stopNested = stop
	}
	err := error(nil)
	if roles == nil {
		plan.mark(stderr, "plan built, starting the gofer and the kernel")
		roles, err = StartRoles(stdin, stdout, stderr, plan.Gofer.RootFileCaps)
	} else {
		plan.mark(stderr, "plan built (the gofer and the kernel started meanwhile)")
	}
	if err == nil {
		err = sb.start(roles)
	}
	if err != nil {
		if proxy != nil {
			proxy.Close()
		}
		if sb.stopNested != nil {
			sb.stopNested()
		}
		return nil, err
	}
	sb.dbus = proxy
	return sb, nil
}

// denied reports a refusal by one of the sandbox's brokers.
func (s *Sandbox) denied(kind, detail string) {
	if f, ok := s.denialSink.Load().(func(string, string)); ok {
		f(kind, detail)
	}
}

// mark logs a start-up step with --debug: the breakdown of how long `sbx run` takes to
// reach the app.
func (p *Plan) mark(w io.Writer, what string) { p.markAt(w, what, time.Now()) }

// markAt is mark for a step that ended at the given time.
func (p *Plan) markAt(w io.Writer, what string, at time.Time) {
	if p.Debug && !p.T0.IsZero() {
		fmt.Fprintf(w, "sbx: start-up +%.1f ms: %s\n", float64(at.Sub(p.T0).Microseconds())/1000, what)
	}
}

// Roles are a sandbox's gofer and kernel processes started ahead of its plan
// (StartRoles): their namespaces made and their Go runtimes started, both wait for the
// configuration Start sends them. sbx run starts them while it builds the plan.
type Roles struct {
	goferStarted chan startedGofer
	kernel       *exec.Cmd
	// kernelCfg is where the kernel's configuration is written.
	kernelCfg *os.File
	// The launcher's ends of the kernel's control, exec, status, socket-broker and
	// net-broker channels.
	ctl, execCh     *os.File
	status          *os.File
	brokerFD, netFD int
	rootFileCaps    bool
	stdout, stderr  io.Writer
	used, discarded bool
}

type startedGofer struct {
	p   *gofer.Process
	err error
}

// StartRoles starts a sandbox's gofer and kernel with the given standard streams (the
// kernel's, which the app gets); keepFileCaps is what the plan's Gofer.RootFileCaps will
// be. The roles are either passed to StartWithRoles or discarded (Discard).
func StartRoles(stdin io.Reader, stdout, stderr io.Writer, keepFileCaps bool) (*Roles, error) {
	r := &Roles{rootFileCaps: keepFileCaps, stdout: stdout, stderr: stderr, brokerFD: -1, netFD: -1}
	kernelConn, goferConn, err := gofer.NewConn()
	if err != nil {
		return nil, err
	}
	r.goferStarted = make(chan startedGofer, 1)
	var closeOnFail []*os.File
	fail := func(err error) (*Roles, error) {
		kernelConn.Close()
		goferConn.Close()
		for _, f := range closeOnFail {
			f.Close()
		}
		if r.brokerFD >= 0 {
			unix.Close(r.brokerFD)
		}
		if r.netFD >= 0 {
			unix.Close(r.netFD)
		}
		return nil, err
	}
	// Why: the kernel reports stats and takes signals over a private channel.
	ctlPair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("control channel: %w", err))
	}
	r.ctl = os.NewFile(uintptr(ctlPair[0]), "control")
	ctlKernel := os.NewFile(uintptr(ctlPair[1]), "control-kernel")
	closeOnFail = append(closeOnFail, r.ctl, ctlKernel)
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	r.kernelCfg = cfgW
	closeOnFail = append(closeOnFail, cfgR, cfgW)
	// Why: the kernel reaches host sockets (the D-Bus proxy, ...) only through this broker.
	brokerPair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	r.brokerFD = brokerPair[0]
	brokerKernel := os.NewFile(uintptr(brokerPair[1]), "broker-kernel")
	closeOnFail = append(closeOnFail, brokerKernel)
	// Why: the kernel stays in an empty network namespace; the net broker, in the
	// launcher's, creates its Internet sockets and checks [network] on each.
	netPair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	r.netFD = netPair[0]
	netKernel := os.NewFile(uintptr(netPair[1]), "net-kernel")
	closeOnFail = append(closeOnFail, netKernel)
	// Why: processes started while the sandbox runs (an OCI exec) come over their own channel.
	execPair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	execKernel := os.NewFile(uintptr(execPair[1]), "exec-kernel")
	r.execCh = os.NewFile(uintptr(execPair[0]), "exec")
	closeOnFail = append(closeOnFail, execKernel, r.execCh)
	// Why: the kernel reports the app's exit status once its stubs are reaped, and sbx run
	// returns without waiting for the kernel process's own, slower, exit.
	statusPair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("status channel: %w", err))
	}
	r.status = os.NewFile(uintptr(statusPair[0]), "status")
	statusKernel := os.NewFile(uintptr(statusPair[1]), "status-kernel")
	closeOnFail = append(closeOnFail, r.status, statusKernel)
	uid, gid := os.Getuid(), os.Getgid()
	// Why: the kernel gets its own user, mount, PID, network, IPC and UTS namespaces; in
	// them it may build and then drop its empty root. PID namespace: when the kernel dies,
	// every stub dies with it.
	type started struct {
		cmd *exec.Cmd
		err error
	}
	kernelStarted := make(chan started, 1)
	kernelFiles := map[int]*os.File{sandbox.ConfigFD: cfgR, sandbox.GoferFD: kernelConn, sandbox.ControlFD: ctlKernel,
		sandbox.BrokerFD: brokerKernel, sandbox.ExecFD: execKernel, sandbox.NetFD: netKernel, sandbox.StatusFD: statusKernel}
	// A debugging aid, off by default: the kernel's own CPU profile, written to a file the
	// launcher creates as the user (the confined kernel opens no host path).
	var profile *os.File
	if path := os.Getenv("SBX_KERNEL_CPUPROFILE"); path != "" {
		profile, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			return fail(fmt.Errorf("SBX_KERNEL_CPUPROFILE: %w", err))
		}
		closeOnFail = append(closeOnFail, profile)
		kernelFiles[sandbox.ProfileFD] = profile
	}
	go func() {
		cmd, err := role.Start(role.Spec{Command: KernelRole, Name: "sbx-kernel",
			Files: kernelFiles,
			Stdin: stdin, Stdout: stdout, Stderr: stderr, UID: uid, GID: gid,
			Caps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}})
		kernelStarted <- started{cmd, err}
	}()
	// Why: the gofer is the only process that ever opens host files for the sandbox. It
	// starts while the kernel does: each is a fork, namespaces and a Go runtime's start.
	// The kernel is asked first (Go lets the two forks run at once, but the first one asked
	// gets going first): it has more to do before it needs the
	// gofer (its platform, its own confinement, the first stub) than the gofer has before
	// it serves.
	go func() {
		runtime.Gosched()
		p, err := gofer.Spawn(goferConn, keepFileCaps)
		goferConn.Close()
		r.goferStarted <- startedGofer{p, err}
	}()
	ks := <-kernelStarted
	if ks.err != nil {
		kernelConn.Close()
		for _, f := range closeOnFail {
			f.Close()
		}
		unix.Close(r.brokerFD)
		unix.Close(r.netFD)
		if g := <-r.goferStarted; g.err == nil {
			g.p.Discard()
		}
		return nil, fmt.Errorf("starting the kernel: %w", ks.err)
	}
	r.kernel = ks.cmd
	cfgR.Close()
	ctlKernel.Close()
	brokerKernel.Close()
	execKernel.Close()
	netKernel.Close()
	statusKernel.Close()
	if profile != nil {
		profile.Close()
	}
	kernelConn.Close()
	return r, nil
}

// Discard stops roles that will not be used.
func (r *Roles) Discard() {
	if r.used || r.discarded {
		return
	}
	r.discarded = true
	r.kernelCfg.Close()
	r.kernel.Process.Kill()
	r.kernel.Wait()
	if g := <-r.goferStarted; g.err == nil {
		g.p.Discard()
	}
	r.ctl.Close()
	r.execCh.Close()
	r.status.Close()
	unix.Close(r.brokerFD)
	unix.Close(r.netFD)
}

// start configures the roles for the sandbox's plan and waits for the gofer to be ready.
// On error the roles are gone.
func (sb *Sandbox) start(r *Roles) error {
	plan, stderr := sb.Plan, r.stderr
	r.used = true
	kill := func() {
		r.kernelCfg.Close()
		r.kernel.Process.Kill()
		r.kernel.Wait()
		r.ctl.Close()
		r.execCh.Close()
		r.status.Close()
	}
	fail := func(err error) error {
		kill()
		if g := <-r.goferStarted; g.err == nil {
			g.p.Discard()
		}
		return err
	}
	go serveBroker(r.brokerFD, plan.Sockets)
	nb := netbroker.New(plan.Net, func(d netbroker.Denial) { sb.denied("net", d.String()) })
	if plan.NetNS != "" {
		// Why: an OCI container's network is the namespace its engine made for it.
		if err := nb.EnterNamespace(plan.NetNS); err != nil {
			unix.Close(r.netFD)
			return fail(err)
		}
		plan.NetAddrs = nb.Addrs()
	}
	go nb.Serve(r.netFD)
	sb.net = nb
	// The kernel gets its configuration at once: its start-up (platform, memory file,
	// namespace) overlaps the gofer's self-confinement, and its first requests to the gofer
	// wait in the socket until the gofer, confined, serves them.
	caps := ownCaps()
	if plan.Caps != nil {
		caps = *plan.Caps
	}
	cfg := sandbox.Config{Argv: plan.Argv, Env: plan.Env, Cwd: plan.Cwd, UID: plan.UID, GID: plan.GID, Groups: plan.Groups, Hostname: plan.Hostname,
		Platform: plan.Platform, Debug: plan.Debug, Strace: plan.Strace, StraceSummary: plan.StraceSummary, Layout: plan.Layout, MaxTasks: plan.MaxTasks,
		MemoryLimit: plan.MemoryLimit, DiskLimit: plan.DiskLimit,
		Caps: caps, OOMScoreAdj: ownOOMScoreAdj(), IgnoredSignals: startIgnored(), Limits: startLimits(plan.Limits), NetAddrs: plan.NetAddrs, Hold: plan.Hold,
		NoSyscallPatch:       os.Getenv("SBX_SYSCALL_PATCH") == "0",
		SharedStubs:          os.Getenv("SBX_SHARED_STUBS") == "1",
		CPUProfile:           os.Getenv("SBX_KERNEL_CPUPROFILE") != "",
		BlockedReportSeconds: int((plan.DebugBlocked + time.Second - 1) / time.Second)}
	if plan.Debug && !plan.T0.IsZero() {
		cfg.DebugT0 = plan.T0.UnixNano()
	}
	if err := json.NewEncoder(r.kernelCfg).Encode(cfg); err != nil {
		return fail(fmt.Errorf("configuring the kernel: %w", err))
	}
	r.kernelCfg.Close()
	g := <-r.goferStarted
	if g.err != nil {
		kill()
		return fmt.Errorf("starting the gofer: %w", g.err)
	}
	gp := g.p
	if err := gp.Configure(plan.Gofer); err != nil {
		kill()
		return fmt.Errorf("starting the gofer: %w", err)
	}
	plan.mark(stderr, "gofer and kernel processes started")
	if err := gp.Ready(); err != nil {
		kill()
		return fmt.Errorf("starting the gofer: %w", err)
	}
	for _, st := range gp.Steps {
		plan.markAt(stderr, "gofer: "+st.What, time.Unix(0, st.At))
	}
	plan.mark(stderr, "gofer ready (confined)")
	plan.Warnings = append(plan.Warnings, gp.Warnings...)
	sc := bufio.NewScanner(r.ctl)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	sb.Started, sb.gofer, sb.kernel, sb.ctl, sb.ctlRead, sb.stderr, sb.execCh, sb.status = time.Now(), gp, r.kernel, r.ctl, sc, stderr, r.execCh, r.status
	return nil
}

// Release runs the program of a sandbox started with Plan.Hold; it returns once the
// program runs, or why it cannot.
func (s *Sandbox) Release() error {
	_, err := s.Query(sandbox.ControlRequest{Op: "start"})
	return err
}

// Query sends one request on the kernel's control channel.
func (s *Sandbox) Query(req sandbox.ControlRequest) (*sandbox.ControlReply, error) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	b, _ := json.Marshal(req)
	if _, err := s.ctl.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	if !s.ctlRead.Scan() {
		if err := s.ctlRead.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	var rep sandbox.ControlReply
	if err := json.Unmarshal(s.ctlRead.Bytes(), &rep); err != nil {
		return nil, err
	}
	if rep.Error != "" {
		return &rep, errors.New(rep.Error)
	}
	return &rep, nil
}

// Exec starts a process in the running sandbox with the given standard streams (which the
// kernel gets duplicates of). It returns the process's PID inside and a wait function that
// returns its exit status (shell style); closing the sandbox side of the exec (the returned
// stop function) kills the process.
func (s *Sandbox) Exec(req sandbox.ExecRequest, stdin, stdout, stderr *os.File) (pid int32, wait func() (int, error), stop func(), err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, nil, err
	}
	mine, theirs := pair[0], pair[1]
	b, err := json.Marshal(req)
	if err != nil {
		unix.Close(mine)
		unix.Close(theirs)
		return 0, nil, nil, err
	}
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()), theirs)
	err = unix.Sendmsg(int(s.execCh.Fd()), b, rights, nil, 0)
	unix.Close(theirs)
	if err != nil {
		unix.Close(mine)
		return 0, nil, nil, fmt.Errorf("asking the kernel to start %s: %w", req.Argv[0], err)
	}
	read := func() (sandbox.ExecReply, error) {
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(mine, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return sandbox.ExecReply{}, io.ErrUnexpectedEOF
			}
			var r sandbox.ExecReply
			if err := json.Unmarshal(buf[:n], &r); err != nil {
				return r, err
			}
			return r, nil
		}
	}
	first, err := read()
	if err != nil {
		unix.Close(mine)
		return 0, nil, nil, fmt.Errorf("the sandbox ended before %s started", req.Argv[0])
	}
	if first.Error != "" {
		unix.Close(mine)
		return 0, nil, nil, &ExecError{Code: first.Code, Msg: first.Error}
	}
	var once sync.Once
	stop = func() { once.Do(func() { unix.Close(mine) }) }
	wait = func() (int, error) {
		r, err := read()
		stop()
		if err != nil {
			return sandbox.ExitFailure, fmt.Errorf("the sandbox ended while %s ran", req.Argv[0])
		}
		return r.Status, nil
	}
	return first.PID, wait, stop, nil
}

// ExecError is a process the kernel could not start: Code is 126 (cannot execute), 127
// (not found) or 125.
type ExecError struct {
	Code int
	Msg  string
}

func (e *ExecError) Error() string { return e.Msg }

// SignalPID delivers sig to process pid inside the sandbox.
func (s *Sandbox) SignalPID(pid int32, sig syscall.Signal) error {
	_, err := s.Query(sandbox.ControlRequest{Op: "signal", PID: pid, Signal: int(sig)})
	return err
}

// Signal delivers sig to the app's first process.
func (s *Sandbox) Signal(sig syscall.Signal) error {
	_, err := s.Query(sandbox.ControlRequest{Op: "signal", Signal: int(sig)})
	return err
}

// Kill ends the sandbox at once and waits for it.
func (s *Sandbox) Kill() {
	s.kernel.Process.Kill()
	s.finish(exitStatus(s.kernel.Wait()), false)
}

// Pids returns the host PIDs of the kernel and the gofer.
func (s *Sandbox) Pids() (kernel, goferPID int) {
	return s.kernel.Process.Pid, s.gofer.Pid()
}

// TerminalSignal delivers sig as the user's terminal would: to the foreground process group
// of the terminal inside the sandbox (the first process when there is no terminal).
func (s *Sandbox) TerminalSignal(sig syscall.Signal) error {
	_, err := s.Query(sandbox.ControlRequest{Op: "tty-signal", Signal: int(sig)})
	return err
}

// Signals are the launcher's signals caught for its sandbox (CatchSignals), which
// WaitRelaying relays to the app.
type Signals struct {
	c        chan os.Signal
	terminal map[os.Signal]bool
}

// CatchSignals catches toFirst, for the app's first process, and toTerminal, for the
// foreground process group of the terminal inside, until WaitRelaying relays them (or Stop).
// A launcher calls it before its app can run (before Start, or before Release of a held
// sandbox): a signal that arrived after the app ran but before the launcher caught it took
// its default action on the launcher, whose death kills the kernel (its parent-death
// signal), so the app never saw it (a SIGTERM trap that did not run). One that arrives
// before the app runs is relayed once it runs.
func CatchSignals(toFirst, toTerminal []os.Signal) *Signals {
	startIgnored() // what the app inherits, read before catching changes it
	s := &Signals{c: make(chan os.Signal, 32), terminal: make(map[os.Signal]bool)}
	for _, sig := range toTerminal {
		s.terminal[sig] = true
	}
	signal.Notify(s.c, append(append([]os.Signal(nil), toFirst...), toTerminal...)...)
	return s
}

// CatchRunSignals catches what sbx run relays: SIGTERM and SIGHUP to the first process,
// the terminal's signals to the foreground process group inside.
func CatchRunSignals() *Signals {
	return CatchSignals([]os.Signal{syscall.SIGTERM, syscall.SIGHUP}, terminalSignals)
}

// Stop ends the catching: the signals take their former actions again.
func (s *Signals) Stop() { signal.Stop(s.c) }

// terminalSignals are what the user's terminal sends the launcher's process group on
// behalf of the sandbox's session: Ctrl-C, Ctrl-\, Ctrl-Z and window size changes. The
// launcher relays them to the foreground process group inside (and so does not stop itself
// on Ctrl-Z).
var terminalSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGWINCH}

// WaitRelaying waits for the app to exit and returns its status (shell style: 128+signal
// when it was killed), relaying the signals sigs caught meanwhile (and those caught before);
// it stops their catching when it returns.
func (s *Sandbox) WaitRelaying(sigs *Signals) int {
	defer sigs.Stop()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs.c:
				var err error
				var rep *sandbox.ControlReply
				if sigs.terminal[sig] {
					rep, err = s.Query(sandbox.ControlRequest{Op: "tty-signal", Signal: int(sig.(syscall.Signal))})
				} else {
					rep, err = s.Query(sandbox.ControlRequest{Op: "signal", Signal: int(sig.(syscall.Signal))})
				}
				// A kernel that does not answer cannot relay: the signal ends the sandbox
				// (SIGWINCH asks nothing to end). One that answers with an error (no first
				// process: the app has just exited) is ending, with the app's own status.
				if err != nil && rep == nil && sig != syscall.SIGWINCH {
					s.kernel.Process.Kill()
				}
			case <-done:
				return
			}
		}
	}()
	code, reported := s.readStatus()
	if reported {
		s.Plan.mark(s.stderr, "kernel reported the app's exit status (its stubs reaped)")
	} else {
		code = exitStatus(s.kernel.Wait())
		s.Plan.mark(s.stderr, "kernel exited")
	}
	close(done)
	return s.finish(code, reported)
}

// readStatus waits for the app's exit status on the kernel's status channel; reported is
// false when the kernel ended without sending it (it failed, or was killed).
func (s *Sandbox) readStatus() (code int, reported bool) {
	var b [1]byte
	for {
		n, err := s.status.Read(b[:])
		if n == 1 {
			return int(b[0]), true
		}
		if err != nil {
			return 0, false
		}
	}
}

// exitStatus is the app's status (shell style) from how the kernel process ended.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok {
			if st.Signaled() {
				return 128 + int(st.Signal())
			}
			return st.ExitStatus()
		}
	}
	return sandbox.ExitFailure
}

// finish releases what the sandbox held once its kernel has ended or reported the app's
// status code, and returns code. A kernel that reported is not waited for: every process
// it started is reaped already, and it only waits for this process to exit (which closes
// its status channel, and kills it: its parent-death signal), then exits itself
// (kernel/sandbox/exit.go). sbx run and the OCI monitor exit as soon as Wait returns, so
// the kernel's own exit (its memory, namespaces and inotify instances) starts only after
// the launcher's, instead of competing with it for the CPU.
func (s *Sandbox) finish(code int, reported bool) int {
	s.ctl.Close()
	s.execCh.Close()
	if s.dbus != nil {
		s.dbus.Close()
		os.Remove(s.Plan.DBus.Listen)
	}
	if s.stopNested != nil {
		s.stopNested()
	}
	// Waited for: a run leaves no process of its own behind, and the relay of the gofer's
	// stderr (gofer.stderrRelay) has copied its last words when sbx exits.
	s.gofer.Kill()
	s.gofer.Wait()
	if reported {
		// The kernel holds the sandbox's host inotify instances until this process exits,
		// so the gofer's close of them was not the last, which would have waited for their
		// watches to be freed (an SRCU grace period).
		s.Plan.mark(s.stderr, "sandbox ended (stubs and gofer reaped; the kernel ends with sbx)")
		return code
	}
	s.status.Close()
	s.Plan.mark(s.stderr, "sandbox ended (kernel and gofer reaped)")
	return code
}

// X11Socket prefixes a Plan.Sockets host path that is an X server: connections to it go
// through the X11 proxy.
const X11Socket = "x11:"

// serveBroker answers the kernel's requests for host sockets: only paths the plan maps are
// connected; the connected socket is donated to the kernel.
func serveBroker(fd int, sockets map[string]string) {
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, _, _, _, err := unix.Recvmsg(fd, buf, nil, 0)
		if err != nil || n == 0 {
			return
		}
		reply := func(errno unix.Errno, donate int) {
			b := []byte{byte(errno), byte(errno >> 8), byte(errno >> 16), byte(errno >> 24)}
			var oob []byte
			if donate >= 0 {
				oob = unix.UnixRights(donate)
			}
			unix.Sendmsg(fd, b, oob, nil, 0)
		}
		host, ok := sockets[string(buf[:n])]
		if !ok {
			reply(unix.ECONNREFUSED, -1)
			continue
		}
		if path, isX11 := strings.CutPrefix(host, X11Socket); isX11 {
			// Why: X11 goes through the proxy that hides MIT-SHM (launcher/broker/display).
			pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				reply(unix.ECONNREFUSED, -1)
				continue
			}
			if err := display.ProxyX11(pair[1], path); err != nil {
				unix.Close(pair[0])
				unix.Close(pair[1])
				reply(unix.ECONNREFUSED, -1)
				continue
			}
			reply(0, pair[0])
			unix.Close(pair[0])
			continue
		}
		s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			reply(unix.ECONNREFUSED, -1)
			continue
		}
		if err := unix.Connect(s, &unix.SockaddrUnix{Name: host}); err != nil {
			unix.Close(s)
			reply(unix.ECONNREFUSED, -1)
			continue
		}
		reply(0, s)
		unix.Close(s)
	}
}

// ownCaps reads the launcher's effective, permitted and inheritable capabilities from
// /proc/self/status (zero when it cannot).
// ownOOMScoreAdj returns the launcher's oom_score_adj, which the sandbox's first process
// inherits (0 when it cannot be read).
func ownOOMScoreAdj() int {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// startIgnored is inheritedIgnored as it was before the launcher first caught signals
// (CatchSignals), which takes SIGHUP and SIGINT out of the ignored ones.
var startIgnored = sync.OnceValue(inheritedIgnored)

// inheritedIgnored returns the signals sbx was started with ignored (bit sig-1), for the
// app to keep ignored as across an exec. Go's runtime keeps only SIGHUP and SIGINT ignored
// when inherited so (it handles the others itself), and those are the cases that matter:
// nohup, and a shell's background jobs.
func inheritedIgnored() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0
			}
			return mask & (1<<(unix.SIGHUP-1) | 1<<(unix.SIGINT-1))
		}
	}
	return 0
}

func ownCaps() [3]uint64 {
	var caps [3]uint64
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return caps
	}
	index := map[string]int{"CapEff": 0, "CapPrm": 1, "CapInh": 2}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n, known := index[k]; known {
			caps[n], _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return caps
}
