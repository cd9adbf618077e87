package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/gofer/seccomp"
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/goferfs"
	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/fs/inotify"
	"github.com/sbx-dev/sbx/kernel/fs/procfs"
	"github.com/sbx-dev/sbx/kernel/loader"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
	_ "github.com/sbx-dev/sbx/platform/kvm"    // registers kvm
	_ "github.com/sbx-dev/sbx/platform/ptrace" // registers ptrace
	_ "github.com/sbx-dev/sbx/platform/trap"   // registers trap
	"golang.org/x/sys/unix"
)

// Exit statuses of the kernel role when the program cannot start (DESIGN.md §10).
const (
	ExitCannotExec = 126
	ExitNotFound   = 127
	ExitFailure    = 125
)

// StartError is a failure to start the app, with the exit status sbx run reports.
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }

// RoleMain runs the kernel role; it returns the process exit status.
func RoleMain(stderr io.Writer) int {
	status := statusChannel()
	var inotifyFDs []int
	code, err := run(stderr, &inotifyFDs)
	if err != nil {
		fmt.Fprintf(stderr, "sbx: %v\n", err)
	}
	if status {
		// Why: sbx run returns without waiting for this process's own exit (exit.go).
		reportExit(code, inotifyFDs)
	}
	return code
}

func readConfig() (*Config, error) {
	f := os.NewFile(ConfigFD, "config")
	defer f.Close()
	var cfg Config
	if err := json.NewDecoder(f).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("kernel: reading configuration: %w", err)
	}
	if len(cfg.Argv) == 0 {
		return nil, errors.New("kernel: no program to run")
	}
	return &cfg, nil
}

// run runs the sandbox and returns the app's exit status; inotifyFDs is set to the host
// inotify FDs the kernel holds at the end.
func run(stderr io.Writer, inotifyFDs *[]int) (int, error) {
	running := time.Now()
	// What needs no configuration is done first, while the launcher writes it.
	// No execve from here on may gain a capability. role.Start has normally emptied the
	// bounding set before sbx ran; where it could not, the drop happens here, first: each
	// drop stops and signals every thread, which costs least while the runtime has few.
	if err := gofer.DropBoundingSet(); err != nil {
		return ExitFailure, fmt.Errorf("kernel: %w", err)
	}
	// Signals for the app arrive through the launcher; the terminal's go to it too.
	signal.Ignore(unix.SIGINT, unix.SIGQUIT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGHUP, unix.SIGPIPE)
	gofer.NeutralizeRuntimeFDs()
	loader.PrimeHostAux()
	procfs.PrimeHost()
	inotify.PrimeHost()
	mf, err := mm.NewMemoryFile()
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: %w", err)
	}
	primed := time.Now()
	cfg, err := readConfig()
	if err != nil {
		return ExitFailure, err
	}
	mark := func(string) {}
	if cfg.Debug && cfg.DebugT0 != 0 {
		t0 := time.Unix(0, cfg.DebugT0)
		markAt := func(what string, at time.Time) {
			fmt.Fprintf(stderr, "sbx: start-up +%.1f ms: kernel: %s\n", float64(at.Sub(t0).Microseconds())/1000, what)
		}
		mark = func(what string) { markAt(what, time.Now()) }
		markAt("running (its Go runtime started)", running)
		markAt("capabilities bounded, memory file made", primed)
	}
	mark("configuration read")
	gcFloor()
	if cfg.CPUProfile {
		// Started before the kernel confines itself (the profiler's timers and signal
		// handler are the Go runtime's own calls), stopped once the app has exited.
		prof := os.NewFile(ProfileFD, "cpu-profile")
		if err := pprof.StartCPUProfile(prof); err != nil {
			return ExitFailure, fmt.Errorf("kernel: CPU profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			prof.Close()
		}()
	}
	choice, err := platform.Resolve(cfg.Platform)
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: %w (see --platform)", err)
	}
	plat, err := choice.New(mf.File())
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: %s platform: %w (is ptrace allowed here? check kernel.yama.ptrace_scope)", choice.Name, err)
	}
	if sp, ok := plat.(interface{ SetSharedStubs(bool) }); ok && cfg.SharedStubs {
		sp.SetSharedStubs(true)
	}
	// Stubs map host files for private file mappings (kernel/mm/direct.go); KVM would
	// spend a memory slot per library mapping.
	mf.SetDirectMaps(plat.Name() != "kvm")
	defer plat.Close()
	mark("platform " + choice.Name + " ready")
	// The kernel needs no host path from here on: it confines itself at once, while the
	// gofer is still confining itself (the filesystem is built from the gofer's files).
	var rules []seccomp.Rule
	if !cfg.NoSeccomp {
		rules = kernelFilter(choice.Constructor)
	}
	stubs, _ := plat.(stubExecutor)
	var stub []byte
	if stubs != nil {
		stub = stubs.StubProgram()
	}
	detached, err := confine(rules, stub, mark)
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: confining itself: %w", err)
	}
	if stubs != nil {
		stubs.SetStubPath(StubPath)
	}
	mark("confined")
	// What needs no gofer is done first: the gofer's hello (gofer.NewClient) comes once the
	// gofer has confined itself, which often takes longer than the kernel's start-up.
	var debug, strace io.Writer
	if cfg.Debug {
		debug = stderr
		if choice.Why != "" { // the launcher names a platform it picked itself
			fmt.Fprintf(stderr, "sbx: platform %s (%s)\n", choice.Name, choice.Why)
		}
	}
	if cfg.Strace {
		strace = stderr
	}
	devs := newAnonDevs()
	ns := newRoot(mf, devs)
	kplat := plat
	if cfg.Debug {
		kplat = &markPlatform{Platform: plat, mark: mark}
	}
	kcfg := kernel.Config{Platform: kplat, MemoryFile: mf, Syscalls: syscalls.Table(), Hostname: cfg.Hostname,
		UID: cfg.UID, GID: cfg.GID, SupplementaryGroups: cfg.Groups, Debug: debug, Strace: strace, SyscallTimes: cfg.StraceSummary, Limits: cfg.Limits, NoSyscallPatch: cfg.NoSyscallPatch, MaxTasks: cfg.MaxTasks, Caps: cfg.Caps, OOMScoreAdj: cfg.OOMScoreAdj, IgnoredSignals: cfg.IgnoredSignals,
		MemoryLimit: cfg.MemoryLimit}
	if b := newBrokerClient(); b != nil {
		kcfg.Sockets = b
	}
	if cfg.Debug {
		// Report tasks stuck in one call; long blocking calls (a server's accept, a
		// shell's read) show up too, once per period, which is what a debug run wants.
		kcfg.BlockedReport = time.Duration(cfg.BlockedReportSeconds) * time.Second
		if kcfg.BlockedReport <= 0 {
			kcfg.BlockedReport = defaultBlockedReport
		}
	}
	var st unix.Stat_t
	if unix.Fstat(NetFD, &st) == nil {
		kcfg.Net = inet.NewStack(netproto.NewClient(NetFD))
		var addrs []netip.Prefix
		for _, a := range cfg.NetAddrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				addrs = append(addrs, p)
			}
		}
		kcfg.Net.SetAddrs(addrs)
	}
	k := kernel.New(kcfg, ns)
	// Why: the first app instruction then waits for no stub to start; it starts while the
	// filesystem is built.
	k.Prestart()
	// Why: changes other programs make to watched host files reach the sandbox's inotify.
	ino := inotify.Of(k)
	hostWatcher := goferfs.NewHostWatcher(ino)
	ino.SetHostWatcher(hostWatcher)
	// The user's terminal belongs to the sandbox's first session: the kernel keeps its
	// foreground process group, and the launcher relays the signals the terminal sends.
	var userTTY *tty.Control
	userTTY = tty.NewControl(k, "/dev/console", func(flags int) (vfs.File, error) { return terminal(userTTY) })
	userTTY.Major, userTTY.Minor = 5, 1
	term := func(flags int) (vfs.File, error) { return terminal(userTTY) }
	mark("kernel made (the first stub starting)")
	// Nothing untrusted before the host root is gone: the gofer's replies come next.
	if err := detached(); err != nil {
		return ExitFailure, fmt.Errorf("kernel: confining itself: %w", err)
	}
	mark("host root detached")
	gc, err := gofer.NewClient(os.NewFile(GoferFD, "gofer"))
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: connecting to the gofer: %w", err)
	}
	mark("gofer connected")
	b := &builder{k: k, mf: mf, files: goferfs.NewCache(mf, cfg.DiskLimit > 0), ns: ns, gofer: gc, term: term, uid: cfg.UID, gid: cfg.GID, devs: devs}
	b.attachAll(cfg.Layout)
	for _, m := range cfg.Layout {
		if err := b.apply(m); err != nil {
			return ExitFailure, fmt.Errorf("kernel: building the sandbox filesystem: %w", err)
		}
	}
	mark("filesystem built")
	// Held (Config.Hold), the program runs when the control channel says start; until then
	// processes started from outside (startContainer hooks) run in the built sandbox.
	var startReq chan chan error
	var start func() error
	if cfg.Hold {
		startReq = make(chan chan error)
		start = func() error {
			done := make(chan error)
			startReq <- done
			return <-done
		}
	}
	go k.WatchMemory(cfg.MemoryLimit, func(o kernel.OOMKill) {
		fmt.Fprintf(stderr, "sbx: out of memory: killed process %d (%s), %d MiB resident; the sandbox used %d MiB of its %d MiB limit ([resources] memory)\n",
			o.PID, o.Comm, o.RSS>>20, o.Used>>20, o.Limit>>20)
	})

	root := ns.Root()
	cwd := root
	if cfg.Cwd != "" {
		o := vfs.ResolveOpts{Root: root, Start: root, Follow: true}
		if vd, err := ns.Resolve(cfg.Cwd, o); err == nil {
			cwd = vd
		}
	}
	t, err := k.NewInitGroup(root, cwd)
	if err != nil {
		return ExitFailure, fmt.Errorf("kernel: %w", err)
	}
	// Served once the first process exists: a signal for it (the launcher relays the ones
	// it catches as soon as it has started the sandbox) finds it, pending through its
	// execve as natively, instead of failing for a process not made yet.
	go serveControl(k, b.files, userTTY, start)
	var started chan error
	if startReq != nil {
		go serveExec(k, ns)
		started = <-startReq
	}
	pid := t.Group().PID
	if installStdio(t, ns, userTTY) {
		k.SetControllingTerminal(pid, pid, userTTY)
	} else {
		// Without a terminal the first session still has one as far as the app can tell:
		// the launcher's, outside (natively, sbx's session owns it). So opening a terminal
		// never makes it the first process's, and /dev/tty is ENXIO.
		k.SetControllingTerminal(pid, pid, tty.NewControl(k, "", nil))
	}
	path, err := lookPath(t, cfg.Argv[0], cfg.Env)
	if err == nil {
		err = t.Execve(kernel.AtFDCWD, path, cfg.Argv, cfg.Env, true)
	}
	if err != nil {
		code := ExitCannotExec
		if err == unix.ENOENT {
			code = ExitNotFound
		}
		var e unix.Errno
		if errors.As(err, &e) {
			err = fmt.Errorf("cannot run %s: %v", cfg.Argv[0], errnoText(e))
		} else {
			err = fmt.Errorf("cannot run %s: %v", cfg.Argv[0], err)
		}
		if started != nil {
			started <- err
		}
		return code, err
	}
	mark("program loaded")
	t.Run()
	if started != nil {
		close(started)
	} else {
		go serveExec(k, ns)
	}
	<-k.Done()
	if cfg.StraceSummary {
		writeGoferSummary(stderr, gc.Stats())
		writeSyscallSummary(stderr, k.Stats())
	}
	// Why: the gofer ends when its connection does; closed now, its exit overlaps this
	// process's (the platform's stubs reaped, the runtime's threads and the memory file
	// torn down) instead of following it.
	gc.Close()
	if mp, ok := kplat.(*markPlatform); ok {
		mark("app exited (" + mp.summary() + "; " + k.PatchSummary() + fmt.Sprintf("; %d file pages copied)", mf.FilePages()))
	} else {
		mark("app exited")
	}
	*inotifyFDs = []int{hostWatcher.FD(), b.files.NamesFD()}
	return k.ExitCode(), nil
}

// markPlatform logs, for the start-up breakdown, when app code first runs: the end of the
// first Switch (the app's first syscall, fault or signal) of any context.
type markPlatform struct {
	platform.Platform
	mark func(string)
	once sync.Once
	// switches and inSwitch count the events of every context and the time spent in
	// Switch (app code, the trap to the kernel and back, stub start-up).
	switches, inSwitch atomic.Int64
}

// summary says how the app's time split between running (Switch) and the kernel.
func (m *markPlatform) summary() string {
	return fmt.Sprintf("%d events, %.1f ms running app code or switching to it", m.switches.Load(),
		float64(m.inSwitch.Load())/1e6)
}

func (m *markPlatform) NewContext() (platform.Context, error) {
	c, err := m.Platform.NewContext()
	if err != nil {
		return nil, err
	}
	return &markContext{Context: c, p: m}, nil
}

type markContext struct {
	platform.Context
	p *markPlatform
}

// Prestart passes platform.Prestarter through.
func (c *markContext) Prestart() error {
	if p, ok := c.Context.(platform.Prestarter); ok {
		return p.Prestart()
	}
	return nil
}

func (c *markContext) Switch(as platform.AddressSpace, regs *platform.Registers) (platform.Event, error) {
	start := time.Now()
	ev, err := c.Context.Switch(as, regs)
	c.p.inSwitch.Add(int64(time.Since(start)))
	c.p.switches.Add(1)
	c.p.once.Do(func() { c.p.mark("app running (its first syscall)") })
	return ev, err
}

// stubExecutor is a platform that starts stub programs: once the kernel has confined itself
// they run from StubPath in its otherwise empty root.
type stubExecutor interface {
	StubProgram() []byte
	SetStubPath(path string)
}

func errnoText(e unix.Errno) string {
	switch e {
	case unix.ENOENT:
		return "no such file or directory in the sandbox (check the profile's filesystem view)"
	case unix.EACCES:
		return "permission denied"
	case unix.ENOEXEC:
		return "exec format error (not an x86-64 ELF program or script)"
	}
	return e.Error()
}

// lookPath finds a command without a slash in the sandbox's PATH, as execvp(3) does.
func lookPath(t *kernel.Task, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	firstErr := error(unix.ENOENT)
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		vd, err := t.Lookup(kernel.AtFDCWD, p, true)
		if err != nil {
			continue
		}
		a, err := vd.Dentry.Inode().Stat()
		if err != nil || a.Type() != unix.S_IFREG {
			continue
		}
		if err := vfs.CheckAccess(t.Creds(), a, vfs.MayExec); err != nil {
			firstErr = err
			continue
		}
		return p, nil
	}
	return "", firstErr
}

// installStdio gives the app the launcher's stdin, stdout and stderr; a terminal among them
// is the user's terminal, /dev/console inside (so ttyname finds it). It reports whether
// there was one.
func installStdio(t *kernel.Task, ns *vfs.Namespace, userTTY *tty.Control) bool {
	isTTY := false
	for fdn := range 3 {
		var st unix.Stat_t
		if unix.Fstat(fdn, &st) != nil {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fdn), unix.F_GETFL, 0)
		if err != nil {
			continue
		}
		f := host.NewShared(fdn)
		fl := flags & (unix.O_ACCMODE | unix.O_APPEND)
		var fd *vfs.FileDescription
		if f.IsTTY() {
			isTTY = true
			f.SetControl(userTTY)
			root := ns.Root()
			if vd, err := ns.Resolve("/dev/console", vfs.ResolveOpts{Root: root, Start: root, Follow: true}); err == nil {
				fd = vfs.NewFileDescription(f, vd, fl)
			}
		}
		if fd == nil {
			fd = vfs.NewAnonFileDescription(f, hostName(fdn, st), fl)
		}
		t.FDs().InstallAt(int32(fdn), fd, false)
		fd.DecRef()
	}
	return isTTY
}

func hostName(fdn int, st unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return "/dev/console"
	case unix.S_IFIFO:
		return fmt.Sprintf("pipe:[%d]", st.Ino)
	case unix.S_IFSOCK:
		return fmt.Sprintf("socket:[%d]", st.Ino)
	}
	return fmt.Sprintf("/dev/fd/%d", fdn)
}

// terminal opens the user's terminal (/dev/tty, /dev/console): a duplicate of whichever
// standard stream is a terminal.
func terminal(ctl *tty.Control) (vfs.File, error) {
	for fdn := range 3 {
		if _, err := unix.IoctlGetTermios(fdn, unix.TCGETS); err == nil {
			nfd, err := unix.FcntlInt(uintptr(fdn), unix.F_DUPFD_CLOEXEC, 10)
			if err != nil {
				return nil, err
			}
			f := host.New(nfd, true)
			f.SetControl(ctl)
			return f, nil
		}
	}
	return nil, unix.ENXIO
}
