package kernel

import (
	"time"

	"github.com/sbx-dev/sbx/kernel/loader"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// openExecutable resolves and opens path for execve: a regular file with execute permission
// on a mount that allows it. Like open, it resolves again when a rename replaced the file
// between the resolution and the open.
func (t *Task) openExecutable(dirfd int32, path string, follow bool) (*loader.Opened, error) {
	for i := 0; ; i++ {
		o, err := t.openExecutableOnce(dirfd, path, follow, i == staleRetries)
		if err != errStale {
			return o, err
		}
	}
}

// CheckExecutable opens path as execve would and lets it go (execveat's
// AT_EXECVE_CHECK): the errors are those of finding and opening the program; its format
// is not looked at, as on Linux, where the check ends before the binary handlers run.
func (t *Task) CheckExecutable(dirfd int32, path string, follow bool) error {
	o, err := t.openExecutable(dirfd, path, follow)
	if err != nil {
		return err
	}
	o.Release()
	return nil
}

func (t *Task) openExecutableOnce(dirfd int32, path string, follow, last bool) (*loader.Opened, error) {
	vd, err := t.Lookup(dirfd, path, follow)
	if err != nil {
		return nil, err
	}
	in := vd.Dentry.Inode()
	a, err := in.Stat()
	if err != nil {
		return nil, err
	}
	if a.Type() == unix.S_IFLNK {
		return nil, unix.ELOOP
	}
	if a.Type() != unix.S_IFREG || vd.Mount.NoExec() {
		return nil, unix.EACCES
	}
	if err := vfs.CheckAccess(t.Creds(), a, vfs.MayExec); err != nil {
		return nil, err
	}
	if err := vfs.CheckAccess(t.Creds(), a, vfs.MayRead); err != nil && t.Creds().FSUID != 0 {
		// Linux can execute unreadable binaries; we need to read them to load them.
		return nil, err
	}
	f, err := in.Open(unix.O_RDONLY)
	if err != nil {
		if !last && t.staleOpen(vd, err) {
			return nil, errStale
		}
		return nil, err
	}
	m, ok := f.(vfs.Mappable)
	if !ok {
		f.Release()
		return nil, unix.EACCES
	}
	fd := vfs.NewFileDescription(f, vd, unix.O_RDONLY)
	return &loader.Opened{File: m.MapSource(), Path: vd.Path(), Dev: a.Dev, Ino: a.Ino, Size: a.Size,
		Release: fd.DecRef, Hold: fd}, nil
}

// addrNoRandomize is personality(2)'s ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

// Execve replaces the process image (execve(2)/execveat(2)). On success the task's
// registers are those of the new program; on failure nothing changed.
func (t *Task) Execve(dirfd int32, path string, argv, envv []string, follow bool) error {
	return t.ExecveInaccessible(dirfd, path, argv, envv, follow, false)
}

// ExecveInaccessible is Execve for a program an interpreter could not open after the
// exec (execveat of a close-on-exec descriptor) when inaccessible is set: a #! script
// then fails with ENOENT.
func (t *Task) ExecveInaccessible(dirfd int32, path string, argv, envv []string, follow, inaccessible bool) error {
	if path == "" {
		return unix.ENOENT
	}
	// The new image is built apart; at the point of no return it takes over the old image's
	// platform address space (and so its stubs) unless a vfork parent still uses that.
	m := mm.NewDetached(t.k.MemoryFile, t.k.Platform.MaxUserAddress())
	m.SetVDSO(t.k.Platform.VDSO())
	creds := t.Creds()
	stackSoft, _ := t.Limit(unix.RLIMIT_STACK)
	a := loader.Args{Path: path, Argv: argv, Envv: envv, StackLimit: stackSoft, PathInaccessible: inaccessible,
		NoASLR: t.tg.Prctl().Personality&addrNoRandomize != 0,
		Open: func(p string) (*loader.Opened, error) {
			// The first open uses dirfd; interpreters are resolved from cwd/root.
			if p == path {
				return t.openExecutable(dirfd, p, follow)
			}
			return t.openExecutable(AtFDCWD, p, true)
		}}
	a.Creds.UID, a.Creds.EUID, a.Creds.GID, a.Creds.EGID = creds.UID, creds.EUID, creds.GID, creds.EGID
	res, err := loader.Load(m, a)
	if err != nil {
		m.Release()
		return err
	}
	m.Layout = res.Layout
	exe := vfs.VirtualDentry{}
	if vd, err := t.Lookup(dirfd, path, follow); err == nil {
		exe = vd
	}
	res.Exe.Release()

	// Point of no return. Other threads end first (de_thread): none may still run in the
	// old address space when it goes.
	tg := t.tg
	if !t.killOtherThreads() {
		m.Release()
		return unix.EINTR
	}
	t.becomeLeader()
	t.exitRobustList(t.MM()) // in the old image, before it goes
	var as platform.AddressSpace
	if cur := t.MM(); cur != nil {
		as = cur.TakeAddressSpace()
	}
	if as == nil {
		var err error
		if as, err = t.k.Platform.NewAddressSpace(); err != nil {
			t.k.debugf("execve: new address space: %v", err)
			m.Release()
			return unix.ENOMEM
		}
	}
	if err := m.Adopt(as); err != nil {
		// Past the point of no return: the old image is gone (Linux kills the process too).
		t.k.debugf("execve: filling the address space: %v", err)
		as.Release()
		m.Release()
		t.exitGroup(exitStatusSignal(unix.SIGKILL))
		return unix.EINTR
	}
	tg.mu.Lock()
	old := tg.mm
	m.SetOwner(tg.PID)
	tg.mm = m
	tg.dumpable = true // PR_SET_DUMPABLE is reset for a program that is not set-ID
	tg.exe = exe
	tg.comm = res.Comm
	tg.execed = true
	tg.creds.Caps = nil // execve recomputes the capability sets from the IDs
	tg.processKeyring = nil
	tg.prctl.KeepCaps = false // SECBIT_KEEP_CAPS does not survive execve
	if u := tg.ns.Load()[NSUser].user; !u.IsRoot() && u.MapUID(tg.creds.EUID) == 0 {
		tg.creds.Caps = nsFullCaps() // root of a user namespace keeps all of them there
	}
	fds := tg.fds
	var shared *vfs.FDTable
	if fds != nil && fds.Shared() {
		// execve unshares a table shared with CLONE_FILES before closing close-on-exec
		// descriptors: the other process keeps them (unshare_files).
		shared, fds = fds, fds.Fork()
		tg.fds = fds
	}
	tg.mu.Unlock()
	if shared != nil {
		shared.DecUsers()
	}
	t.SetName(res.Comm)
	t.SetThreadKeyring(nil)
	if old != nil {
		old.DecUsers()
	}
	// A vfork parent resumes.
	t.finishVfork()
	fds.CloseOnExec()
	tg.sig.resetOnExec()
	t.SetAltStack(AltStack{})
	t.clearChildTID = 0
	t.robustList = 0
	t.Regs = platform.Registers{Rip: res.Entry, Rsp: res.SP, Cs: 0x33, Ss: 0x2b, Eflags: 0x202}
	if t.ctx != nil {
		if err := t.ctx.SetFPState(nil); err != nil {
			t.k.debugf("execve: resetting FP state: %v", err)
		}
	}
	return nil
}

// killOtherThreads ends every other thread of t's process and waits until they are gone.
// It reports false when t itself was killed meanwhile (another thread's exit_group).
func (t *Task) killOtherThreads() bool {
	for _, o := range t.tg.Tasks() {
		if o != t {
			o.Kill()
		}
	}
	for delay := time.Microsecond; ; delay = min(2*delay, time.Millisecond) {
		if t.killed.Load() {
			return false
		}
		t.tg.mu.Lock()
		alone := len(t.tg.tasks) == 1
		t.tg.mu.Unlock()
		if alone {
			return true
		}
		time.Sleep(delay)
	}
}

// becomeLeader makes t, the last thread of its process, the leader: a thread that execs
// takes over the process ID as its thread ID, as Linux's de_thread does.
func (t *Task) becomeLeader() {
	tg := t.tg
	if tg.Leader() == t {
		return
	}
	k := t.k
	k.mu.Lock()
	delete(k.tasks, t.TID)
	k.freeNSPIDsLocked(tg.pidNS, t.pidNrs, t)
	t.TID = tg.PID
	t.pidNrs = tg.pidNrs
	k.setNSTaskLocked(tg.pidNS, t.pidNrs, t)
	k.tasks[t.TID] = t
	k.mu.Unlock()
	tg.mu.Lock()
	tg.leader = t
	tg.mu.Unlock()
}

// Exe returns the executable's location (for /proc/PID/exe).
func (tg *ThreadGroup) Exe() vfs.VirtualDentry {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exe
}

// Comm returns the process name.
func (tg *ThreadGroup) Comm() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.comm
}

// MM returns the process address space (nil once it exited).
func (tg *ThreadGroup) MM() *mm.MM {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.mm
}

// FDs returns the FD table (nil once it exited).
func (tg *ThreadGroup) FDs() *vfs.FDTable {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.fds
}

// FSContext returns root and cwd.
func (tg *ThreadGroup) FSContext() (root, cwd vfs.VirtualDentry) {
	f := tg.fsCtx()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.root, f.cwd
}

// Leader returns the thread-group leader.
func (tg *ThreadGroup) Leader() *Task {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.leader
}

// Tasks returns the live threads.
func (tg *ThreadGroup) Tasks() []*Task {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		out = append(out, t)
	}
	return out
}

// PPID returns the parent's PID (0 for init).
func (tg *ThreadGroup) PPID() int32 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.parent == nil {
		return 0
	}
	return tg.parent.PID
}

// Creds returns the process credentials.
func (tg *ThreadGroup) Creds() vfs.Creds {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.creds
}

// Limits returns a copy of the resource limits.
func (tg *ThreadGroup) Limits() map[int][2]uint64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make(map[int][2]uint64, len(tg.limits))
	for k, v := range tg.limits {
		out[k] = v
	}
	return out
}

// Zombie reports whether the process has exited.
func (tg *ThreadGroup) Zombie() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.zombie
}

// IDs returns the process group and session.
func (tg *ThreadGroup) IDs() (pgid, sid int32) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.pgid, tg.sid
}
