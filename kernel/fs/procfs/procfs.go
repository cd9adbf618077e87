// Package procfs is the sandbox's /proc, generated from the kernel's own state: the
// sandbox's processes (never the host's), their memory maps, FDs and limits, and system
// files describing the sandbox. Host facts (CPU model) are read once at boot, before the
// kernel process confines itself.
package procfs

import (
	"bytes"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

var hostCPUInfo []byte

// PrimeHost reads the host facts procfs shows (call before confinement).
func PrimeHost() {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		hostCPUInfo = b
	}
}

// FS is one procfs instance.
type FS struct {
	p    *proc
	root *dirNode
}

// New returns /proc for kernel k, showing the sandbox's initial PID namespace.
func New(k *kernel.Kernel) *FS { return NewFor(k, nil) }

// NewFor returns a /proc showing PID namespace ns (nil: the initial one): the processes
// visible there, by their numbers there, and /proc/self in those numbers.
func NewFor(k *kernel.Kernel, ns *kernel.PIDNS) *FS {
	p := &proc{k: k, pidns: ns}
	return &FS{p: p, root: p.root()}
}

// Root returns the root directory inode.
func (f *FS) Root() vfs.Inode { return f.root }

// SetMount records where this procfs is mounted (magic links to anonymous files point into it).
func (f *FS) SetMount(m *vfs.Mount) { f.p.mount = m }

type proc struct {
	k     *kernel.Kernel
	mount *vfs.Mount
	// pidns is the PID namespace shown (nil: the initial one).
	pidns *kernel.PIDNS
}

func (p *proc) static(path string, gen func() string) *fileNode {
	return &fileNode{node: node{boot: p.k.Start, path: path}, mode: 0o444, gen: func() ([]byte, error) { return []byte(gen()), nil }}
}

func (p *proc) root() *dirNode {
	k := p.k
	sys := p.sysDir()
	fixed := []entry{
		{"cpuinfo", p.static("/cpuinfo", func() string { return string(hostCPUInfo) })},
		{"meminfo", p.static("/meminfo", p.meminfo)},
		{"stat", p.static("/stat", p.stat)},
		{"uptime", p.static("/uptime", func() string {
			up := k.Uptime().Seconds()
			return fmt.Sprintf("%.2f %.2f\n", up, up)
		})},
		{"loadavg", p.static("/loadavg", func() string {
			threads := 0
			for _, tg := range k.Groups() {
				threads += len(tg.Tasks())
			}
			return fmt.Sprintf("0.00 0.00 0.00 1/%d %d\n", threads, k.LastPID())
		})},
		{"version", p.static("/version", func() string {
			return fmt.Sprintf("Linux version %s (sbx@sbx) (sbx user-space kernel) %s\n", k.Release, k.Version)
		})},
		{"filesystems", p.static("/filesystems", func() string {
			return "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tpipefs\n\tgofer\n"
		})},
		{"mounts", &linkNode{node: node{boot: p.k.Start, path: "/mounts"}, target: func() (string, error) { return "self/mounts", nil }}},
		{"sys", sys},
		{"sysvipc", p.sysvipcDir()},
		{"net", p.netDir()},
	}
	return &dirNode{node: node{boot: p.k.Start, path: "/"}, list: func() []entry {
		out := append([]entry(nil), fixed...)
		out = append(out, entry{"self", &selfLink{linkNode: linkNode{node: node{boot: p.k.Start, path: "/self"}}, p: p}},
			entry{"thread-self", &selfLink{linkNode: linkNode{node: node{boot: p.k.Start, path: "/thread-self"}}, thread: true, p: p}})
		for _, tg := range k.Groups() {
			if nr := tg.NrIn(p.pidns); nr != 0 {
				out = append(out, entry{strconv.Itoa(int(nr)), p.pidDir(tg)})
			}
		}
		return out
	}}
}

// sysvipcHeader is the first line of /proc/sysvipc/KIND (ipc/shm.c, sem.c, msg.c).
func sysvipcHeader(kind string) string {
	switch kind {
	case "shm":
		return "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"
	case "sem":
		return "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
	}
	return "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n"
}

// sysvipcDir is /proc/sysvipc: the System V IPC objects of the opener's IPC namespace.
func (p *proc) sysvipcDir() *dirNode {
	var es []entry
	for _, kind := range []string{"msg", "sem", "shm"} {
		es = append(es, entry{kind, &sysvipcNode{fileNode: fileNode{node: node{boot: p.k.Start, path: "/sysvipc/" + kind}, mode: 0o444}, p: p, kind: kind}})
	}
	return &dirNode{node: node{boot: p.k.Start, path: "/sysvipc"}, list: func() []entry { return es }}
}

// sysvipcNode is one /proc/sysvipc file.
type sysvipcNode struct {
	fileNode
	p    *proc
	kind string
}

// Open shows the sandbox's initial IPC namespace (the kernel opens with OpenAs).
func (n *sysvipcNode) Open(flags int) (vfs.File, error) {
	return n.open(n.p.k.RootNS(kernel.NSIPC), flags)
}

// OpenAs implements vfs.PIDOpener: the opener's IPC namespace.
func (n *sysvipcNode) OpenAs(pid int32, flags int) (vfs.File, error) {
	ns := n.p.k.RootNS(kernel.NSIPC)
	if tg := n.p.k.GroupByPID(pid); tg != nil {
		ns = tg.IPCNS()
	}
	return n.open(ns, flags)
}

func (n *sysvipcNode) open(ns *kernel.Namespace, flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EACCES
	}
	return &snapshot{data: []byte(sysvipcHeader(n.kind) + n.p.k.SysvIPCTable(ns, n.kind))}, nil
}

// selfLink is /proc/self (or thread-self): its target depends on who follows it.
type selfLink struct {
	linkNode
	thread bool
	p      *proc
}

// SelfTarget names the follower (pid and tid are its sandbox-wide numbers) in the PID
// namespace this proc shows; "" (ENOENT) when it is not visible there.
func (s *selfLink) SelfTarget(pid, tid int32) string {
	if s.p.pidns != nil {
		tg := s.p.k.GroupByPID(pid)
		if tg == nil {
			return ""
		}
		nr := tg.NrIn(s.p.pidns)
		if nr == 0 {
			return ""
		}
		tnr := int32(0)
		for _, t := range tg.Tasks() {
			if t.TID == tid {
				tnr = t.NrIn(s.p.pidns)
			}
		}
		pid, tid = nr, tnr
	}
	if s.thread {
		return fmt.Sprintf("%d/task/%d", pid, tid)
	}
	return strconv.Itoa(int(pid))
}

func (s *selfLink) Readlink() (string, error) { return "", unix.EINVAL }

func (s *selfLink) Stat() (vfs.Attr, error) { return s.attr(unix.S_IFLNK|0o777, 0), nil }

// stat is /proc/stat: the sandbox's CPU time in USER_HZ ticks (user and system, the rest
// of the time since boot idle), counted over all CPUs.
func (p *proc) stat() string {
	n := ncpu()
	var user, sys time.Duration
	for _, tg := range p.k.Groups() {
		u, s := tg.CPUTimes()
		user, sys = user+u, sys+s
	}
	tick := func(d time.Duration) int64 { return int64(d / (10 * time.Millisecond)) }
	idle := max(tick(p.k.Uptime())*int64(n)-tick(user)-tick(sys), 0)
	var b strings.Builder
	fmt.Fprintf(&b, "cpu  %d 0 %d %d 0 0 0 0 0 0\n", tick(user), tick(sys), idle)
	for i := range n {
		fmt.Fprintf(&b, "cpu%d %d 0 %d %d 0 0 0 0 0 0\n", i, tick(user)/int64(n), tick(sys)/int64(n), idle/int64(n))
	}
	// procs_running counts runnable threads, as Linux's nr_running does, the reader included.
	running := 0
	for _, tg := range p.k.Groups() {
		for _, t := range tg.Tasks() {
			if t.State() == 'R' {
				running++
			}
		}
	}
	fmt.Fprintf(&b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
		p.k.Start.Unix(), p.k.LastPID(), max(running, 1))
	return b.String()
}

// ncpu is the number of CPUs the sandbox may use: the kernel process's at start (its
// threads are pinned later, one CPU each).
func ncpu() int { return runtime.NumCPU() }

func newUUID() string {
	b := make([]byte, 16)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		f.Read(b)
		f.Close()
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// pidDir is /proc/PID.
func (p *proc) pidDir(tg *kernel.ThreadGroup) *dirNode {
	base := "/" + strconv.Itoa(int(tg.PID))
	c := tg.Creds()
	n := func(name string) node {
		return node{boot: p.k.Start, path: base + "/" + name, uid: c.EUID, gid: c.EGID}
	}
	file := func(name string, mode uint32, gen func() ([]byte, error)) entry {
		return entry{name, &fileNode{node: n(name), mode: mode, gen: gen}}
	}
	str := func(f func() string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if tg.Zombie() && tg.MM() == nil {
				return []byte(f()), nil
			}
			return []byte(f()), nil
		}
	}
	magic := func(name string, to func() (vfs.VirtualDentry, error)) entry {
		return entry{name, &magicLink{linkNode: linkNode{node: n(name), target: func() (string, error) {
			vd, err := to()
			if err != nil {
				return "", err
			}
			return vd.Path(), nil
		}}, to: to}}
	}
	var es []entry
	es = []entry{
		file("stat", 0o444, str(func() string { return p.pidStat(tg) })),
		file("status", 0o444, str(func() string { return p.pidStatus(tg) })),
		file("statm", 0o444, str(func() string { return statm(memStats(tg)) })),
		file("smaps_rollup", 0o444, str(func() string { return smapsRollup(tg) })),
		file("smaps", 0o444, str(func() string {
			if m := tg.MM(); m != nil {
				return m.Smaps()
			}
			return ""
		})),
		file("maps", 0o444, str(func() string {
			if m := tg.MM(); m != nil {
				return m.Maps()
			}
			return ""
		})),
		file("cmdline", 0o444, func() ([]byte, error) { return memRange(tg, true), nil }),
		file("environ", 0o400, func() ([]byte, error) { return memRange(tg, false), nil }),
		{"mem", &memNode{node: n("mem"), p: p, tg: tg}},
		file("auxv", 0o400, func() ([]byte, error) {
			m := tg.MM()
			if m == nil {
				return nil, nil
			}
			var b []byte
			for _, v := range m.Layout.Auxv {
				b = abi.AppendU64(b, v)
			}
			return b, nil
		}),
		{"comm", &commNode{node: n("comm"), task: tg.Leader}},
		file("limits", 0o444, str(func() string { return limits(tg) })),
		file("mounts", 0o444, str(func() string { return p.mounts(tg, false) })),
		file("mountinfo", 0o444, str(func() string { return p.mounts(tg, true) })),
		{"oom_score_adj", &oomNode{node: n("oom_score_adj"), k: p.k, tg: tg}},
		{"oom_adj", &oomNode{node: n("oom_adj"), k: p.k, tg: tg, legacy: true}},
		file("oom_score", 0o444, str(func() string { return fmt.Sprintf("%d\n", oomScore(p.k, tg)) })),
		file("cgroup", 0o444, str(func() string { return "0::/\n" })),
		// Per-process facts Linux always shows. I/O is not counted per process here.
		file("io", 0o400, str(func() string {
			return "rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"
		})),
		file("wchan", 0o444, str(func() string { return "0" })),
		file("personality", 0o400, str(func() string { return fmt.Sprintf("%08x\n", tg.Prctl().Personality) })),
		file("loginuid", 0o644, str(func() string { return "4294967295" })),
		file("sessionid", 0o444, str(func() string { return "4294967295" })),
		file("timerslack_ns", 0o666, str(func() string { return "50000\n" })),
		file("coredump_filter", 0o644, str(func() string { return "00000033\n" })),
		file("schedstat", 0o444, str(func() string {
			u, sys := tg.CPUTimes()
			return fmt.Sprintf("%d 0 %d\n", (u + sys).Nanoseconds(), 1+len(tg.Tasks()))
		})),
		magic("exe", func() (vfs.VirtualDentry, error) {
			vd := tg.Exe()
			if !vd.Ok() {
				return vd, unix.ENOENT
			}
			return vd, nil
		}),
		magic("cwd", func() (vfs.VirtualDentry, error) { _, cwd := tg.FSContext(); return cwd, nil }),
		magic("root", func() (vfs.VirtualDentry, error) { root, _ := tg.FSContext(); return root, nil }),
		{"fd", p.fdDir(tg, base, false)},
		{"fdinfo", p.fdDir(tg, base, true)},
		{"task", &dirNode{node: n("task"), list: func() []entry {
			var out []entry
			for _, t := range tg.Tasks() {
				nr := t.NrIn(p.pidns)
				if nr == 0 {
					continue
				}
				out = append(out, entry{strconv.Itoa(int(nr)), &dirNode{node: n("task/" + strconv.Itoa(int(t.TID))), list: func() []entry {
					// A thread's directory shows its process's files (Linux's tid_base_stuff),
					// with the thread's own name.
					tn := func(name string) node { return n("task/" + strconv.Itoa(int(t.TID)) + "/" + name) }
					out := []entry{{"comm", &commNode{node: tn("comm"), task: func() *kernel.Task { return t }}},
						{"status", &fileNode{node: tn("status"), mode: 0o444, gen: func() ([]byte, error) { return []byte(p.taskStatus(tg, t)), nil }}},
						{"stat", &fileNode{node: tn("stat"), mode: 0o444, gen: func() ([]byte, error) { return []byte(p.taskStat(tg, t)), nil }}}}
					for _, e := range es {
						switch e.name {
						case "comm", "status", "stat", "fd", "fdinfo", "task", "exe", "cwd", "root", "mounts", "mountinfo", "ns", "uid_map", "gid_map", "setgroups":
						default:
							out = append(out, e)
						}
					}
					return out
				}}})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
			return out
		}}},
	}
	es = append(es, p.nsEntries(tg, n)...)
	return &dirNode{node: node{boot: p.k.Start, path: base, uid: c.EUID, gid: c.EGID}, list: func() []entry { return es }}
}

func (p *proc) fdDir(tg *kernel.ThreadGroup, base string, info bool) *dirNode {
	name := "fd"
	if info {
		name = "fdinfo"
	}
	perm := uint32(0o500) // only the owner lists descriptors (fdinfo: everyone)
	if info {
		perm = 0o555
	}
	// Owned by the process, as the rest of /proc/PID.
	c := tg.Creds()
	owned := func(path string) node { return node{boot: p.k.Start, path: path, uid: c.EUID, gid: c.EGID} }
	return &dirNode{node: owned(base + "/" + name), perm: perm, list: func() []entry {
		fds := tg.FDs()
		if fds == nil {
			return nil
		}
		var out []entry
		for _, n := range fds.Numbers() {
			n := n
			path := base + "/" + name + "/" + strconv.Itoa(int(n))
			if info {
				out = append(out, entry{strconv.Itoa(int(n)), &fileNode{node: owned(path), mode: 0o444, gen: func() ([]byte, error) {
					fd, cloexec, err := fds.Get(n)
					if err != nil {
						return nil, err
					}
					defer fd.DecRef()
					flags := fd.StatusFlags()
					if cloexec {
						flags |= unix.O_CLOEXEC
					}
					info := fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", fd.Offset(), flags, mountID(fd), inoOfFD(fd))
					if fs, ok := fd.Impl().(vfs.FdinfoShower); ok {
						info += fs.Fdinfo()
					}
					return []byte(info), nil
				}}})
				continue
			}
			out = append(out, entry{strconv.Itoa(int(n)), &magicLink{linkNode: linkNode{node: owned(path), target: func() (string, error) {
				fd, _, err := fds.Get(n)
				if err != nil {
					return "", err
				}
				defer fd.DecRef()
				return fd.Name(), nil
			}}, perm: func() uint32 {
				fd, _, err := fds.Get(n)
				if err != nil {
					return 0o500
				}
				defer fd.DecRef()
				var perm uint32
				if fd.Readable() {
					perm |= 0o500
				}
				if fd.Writable() {
					perm |= 0o300
				}
				return perm
			}, to: func() (vfs.VirtualDentry, error) {
				fd, _, err := fds.Get(n)
				if err != nil {
					return vfs.VirtualDentry{}, err
				}
				defer fd.DecRef()
				vd := fd.VirtualDentry()
				if !vd.Ok() {
					if p.mount == nil {
						return vd, unix.ENXIO
					}
					// Pipes, terminals and other anonymous files: a node standing for the
					// open file itself, as Linux's anon inodes do.
					return vfs.VirtualDentry{Mount: p.mount, Dentry: vfs.NewRootDentry(&anonNode{node: node{boot: p.k.Start, path: path + "/anon"}, fd: fd})}, nil
				}
				return vd, nil
			}}})
		}
		return out
	}}
}

func mountID(fd *vfs.FileDescription) int {
	if vd := fd.VirtualDentry(); vd.Ok() {
		return vd.Mount.ID
	}
	return 0
}

func inoOfFD(fd *vfs.FileDescription) uint64 {
	var a vfs.Attr
	var err error
	if in := fd.Inode(); in != nil {
		a, err = in.Stat()
	} else {
		a, err = fd.StatAnon() // pipes and sockets: the number in pipe:[N]
	}
	if err != nil {
		return 0
	}
	return a.Ino
}

// memRange returns argv (cmdline) or envp (environ) from the process's memory.
func memRange(tg *kernel.ThreadGroup, args bool) []byte {
	m := tg.MM()
	if m == nil {
		return nil
	}
	lo, hi := m.Layout.EnvStart, m.Layout.EnvEnd
	if args {
		lo, hi = m.Layout.ArgStart, m.Layout.ArgEnd
	}
	if hi <= lo || hi-lo > 1<<22 {
		return nil
	}
	b := make([]byte, hi-lo)
	n, _ := m.CopyIn(lo, b)
	return b[:n]
}

func state(tg *kernel.ThreadGroup) (byte, string) {
	// Linux shows the leader's state as the process's (proc_tgid_stat).
	if l := tg.Leader(); l != nil {
		return stateOf(l)
	}
	return 'Z', stateNames['Z']
}

// stateOf is thread t's state letter and /proc/PID/status spelling.
func stateOf(t *kernel.Task) (byte, string) {
	c := t.State()
	return c, stateNames[c]
}

var stateNames = map[byte]string{'R': "R (running)", 'S': "S (sleeping)", 'T': "T (stopped)", 'Z': "Z (zombie)"}

func (p *proc) pidStat(tg *kernel.ThreadGroup) string { return p.taskStat(tg, nil) }

// taskStat is /proc/PID/stat, or /proc/PID/task/TID/stat when t is set: a thread's state,
// name and utime/stime are its own (do_task_stat with whole = 0); the rest is the process's.
func (p *proc) taskStat(tg *kernel.ThreadGroup, t *kernel.Task) string {
	st, _ := state(tg)
	tid, name := tg.PID, tg.Comm()
	u, sys := tg.CPUTimes()
	if t != nil {
		st, _ = stateOf(t)
		tid, name = t.TID, t.Name()
		u, sys = t.CPUTimes()
	}
	pgid, sid := tg.IDs()
	var size, rss uint64
	var l struct{ startCode, endCode, startStack, argStart, argEnd, envStart, envEnd uint64 }
	if m := tg.MM(); m != nil {
		size, rss = m.Usage()
		l.startCode, l.endCode, l.startStack = m.Layout.StartCode, m.Layout.EndCode, m.Layout.StackStart
		l.argStart, l.argEnd, l.envStart, l.envEnd = m.Layout.ArgStart, m.Layout.ArgEnd, m.Layout.EnvStart, m.Layout.EnvEnd
	}
	start := uint64(tg.StartTime().Sub(p.k.Start)/(10*time.Millisecond)) + 1
	threads := len(tg.Tasks())
	// utime, stime, cutime, cstime in clock ticks (USER_HZ 100).
	cu, cs := tg.ChildCPUTimes()
	tick := func(d time.Duration) int64 { return int64(d / (10 * time.Millisecond)) }
	ttyNr, tpgid := tg.TerminalIDs()
	return fmt.Sprintf("%d (%s) %c %d %d %d %d %d 4194560 0 0 0 0 %d %d %d %d 20 0 %d 0 %d %d %d 18446744073709551615 %d %d %d 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 %d %d %d %d 0\n",
		tid, name, st, tg.PPID(), pgid, sid, ttyNr, tpgid, tick(u), tick(sys), tick(cu), tick(cs), threads, start, size, rss/4096,
		l.startCode, l.endCode, l.startStack, l.argStart, l.argEnd, l.envStart, l.envEnd)
}

func (p *proc) pidStatus(tg *kernel.ThreadGroup) string {
	return p.taskStatus(tg, nil)
}

// taskStatus is /proc/PID/status, or /proc/PID/task/TID/status when t is set, with
// Linux 6.x's fields in its order.
func (p *proc) taskStatus(tg *kernel.ThreadGroup, t *kernel.Task) string {
	_, st := state(tg)
	c := tg.Creds()
	pid, name := tg.PID, tg.Comm()
	if t != nil {
		pid, name = t.TID, t.Name()
		_, st = stateOf(t)
	}
	ms := memStats(tg)
	var l struct{ startCode, endCode uint64 }
	if m := tg.MM(); m != nil {
		l.startCode, l.endCode = m.Layout.StartCode, m.Layout.EndCode
	}
	size, rss := ms.Size, ms.RSS.Total()
	pgid, sid := tg.IDs()
	var b strings.Builder
	fmt.Fprintf(&b, "Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		name, tg.UmaskValue(), st, tg.PID, pid, tg.PPID())
	fmt.Fprintf(&b, "Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nFDSize:\t64\nGroups:\t",
		c.UID, c.EUID, c.SUID, c.FSUID, c.GID, c.EGID, c.SGID, c.FSGID)
	for i, g := range c.Groups {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(g)))
	}
	fmt.Fprintf(&b, " \nNStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\nKthread:\t0\n", tg.PID, pid, pgid, sid)
	kb := func(v uint64) uint64 { return v / 1024 }
	exe := (l.endCode - l.startCode) &^ 1023
	fmt.Fprintf(&b, "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmLck:\t%8d kB\nVmPin:\t%8d kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\n",
		kb(ms.Peak), kb(size), kb(ms.Locked), 0, kb(ms.HWM), kb(rss))
	fmt.Fprintf(&b, "RssAnon:\t%8d kB\nRssFile:\t%8d kB\nRssShmem:\t%8d kB\nVmData:\t%8d kB\nVmStk:\t%8d kB\nVmExe:\t%8d kB\n",
		kb(ms.RSS.Anon), kb(ms.RSS.File), kb(ms.RSS.Shmem), kb(ms.Data), kb(ms.Stack), kb(exe))
	fmt.Fprintf(&b, "VmLib:\t%8d kB\nVmPTE:\t%8d kB\nVmSwap:\t%8d kB\nHugetlbPages:\t%8d kB\nCoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\n",
		0, kb(size/512), 0, 0)
	_, sigLimit := tg.Leader().Limit(unix.RLIMIT_SIGPENDING)
	var blocked, pending uint64
	if t == nil {
		t = tg.Leader()
	}
	if t != nil {
		blocked, pending = t.SigMask(), t.PendingSignals()&^tg.PendingSignalMask()
	}
	ign, cgt := tg.SignalSets()
	fmt.Fprintf(&b, "Threads:\t%d\nSigQ:\t%d/%d\nSigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n",
		len(tg.Tasks()), bits.OnesCount64(tg.PendingSignalMask()|pending), sigLimit, pending, tg.PendingSignalMask(), blocked, ign, cgt)
	// The capability sets capget(2) reports: the launching user's for root, none for
	// other users.
	var caps [3]uint64 // effective, permitted, inheritable
	if c.EUID == 0 {
		caps = p.k.Caps
	}
	bnd := uint64(0x1ffffffffff)
	if p.k.Caps[1] != 0 {
		bnd = p.k.Caps[1]
	}
	fmt.Fprintf(&b, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t0000000000000000\n", caps[2], caps[1], caps[0], bnd)
	nnp := 0
	if tg.NoNewPrivs() {
		nnp = 1
	}
	n := ncpu()
	var scMode, scFilters int
	if t != nil {
		scMode, scFilters = t.SeccompMode(), t.SeccompFilters()
	}
	fmt.Fprintf(&b, "NoNewPrivs:\t%d\nSeccomp:\t%d\nSeccomp_filters:\t%d\nSpeculation_Store_Bypass:\tvulnerable\nSpeculationIndirectBranch:\talways enabled\n", nnp, scMode, scFilters)
	fmt.Fprintf(&b, "Cpus_allowed:\t%x\nCpus_allowed_list:\t0-%d\n", uint64(1)<<n-1, n-1)
	b.WriteString("Mems_allowed:\t" + strings.Repeat("00000000,", 31) + "00000001\nMems_allowed_list:\t0\n")
	b.WriteString("voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n")
	return b.String()
}

var limitNames = []struct {
	r          int
	name, unit string
}{
	{unix.RLIMIT_CPU, "Max cpu time", "seconds"}, {unix.RLIMIT_FSIZE, "Max file size", "bytes"},
	{unix.RLIMIT_DATA, "Max data size", "bytes"}, {unix.RLIMIT_STACK, "Max stack size", "bytes"},
	{unix.RLIMIT_CORE, "Max core file size", "bytes"}, {unix.RLIMIT_RSS, "Max resident set", "bytes"},
	{unix.RLIMIT_NPROC, "Max processes", "processes"}, {unix.RLIMIT_NOFILE, "Max open files", "files"},
	{unix.RLIMIT_MEMLOCK, "Max locked memory", "bytes"}, {unix.RLIMIT_AS, "Max address space", "bytes"},
	{unix.RLIMIT_LOCKS, "Max file locks", "locks"}, {unix.RLIMIT_SIGPENDING, "Max pending signals", "signals"},
	{unix.RLIMIT_MSGQUEUE, "Max msgqueue size", "bytes"}, {unix.RLIMIT_NICE, "Max nice priority", ""},
	{unix.RLIMIT_RTPRIO, "Max realtime priority", ""}, {unix.RLIMIT_RTTIME, "Max realtime timeout", "us"},
}

func limits(tg *kernel.ThreadGroup) string {
	ls := tg.Limits()
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	v := func(x uint64) string {
		if x == unix.RLIM_INFINITY {
			return "unlimited"
		}
		return strconv.FormatUint(x, 10)
	}
	for _, l := range limitNames {
		cur := ls[l.r]
		fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", l.name, v(cur[0]), v(cur[1]), l.unit)
	}
	return b.String()
}

// mounts is /proc/PID/mounts or mountinfo: the mounts of the process's mount namespace
// it can reach from its root, mount points shown from there (proc_pid_mountinfo(5)).
func (p *proc) mounts(tg *kernel.ThreadGroup, info bool) string {
	var b bytes.Buffer
	root, _ := tg.FSContext()
	for _, m := range tg.MountNS().Info(root) {
		opts := vfs.FlagString(m.Flags)
		super := "rw"
		if m.SuperReadOnly {
			super = "ro"
		}
		if m.Options != "" {
			super += "," + m.Options
		}
		if !info {
			fmt.Fprintf(&b, "%s %s %s %s 0 0\n", escapeMount(m.Source), escapeMount(m.Point), m.FSType, mergeOpts(opts, m.Options))
			continue
		}
		var opt string
		if m.Shared != 0 {
			opt += fmt.Sprintf(" shared:%d", m.Shared)
		}
		if m.Master != 0 {
			opt += fmt.Sprintf(" master:%d", m.Master)
		}
		if m.Unbindable {
			opt += " unbindable"
		}
		fmt.Fprintf(&b, "%d %d %d:%d %s %s %s%s - %s %s %s\n", m.ID, m.ParentID, unix.Major(m.Dev), unix.Minor(m.Dev),
			escapeMount(m.Root), escapeMount(m.Point), opts, opt, m.FSType, escapeMount(m.Source), super)
	}
	return b.String()
}

// mergeOpts is /proc/mounts' one option field: the mount's flags, then the filesystem's.
func mergeOpts(flags, fsOpts string) string {
	if fsOpts == "" {
		return flags
	}
	return flags + "," + fsOpts
}

// escapeMount escapes space, tab, newline and backslash as octal, as Linux's mangle does.
func escapeMount(s string) string {
	if !strings.ContainsAny(s, " \t\n\\") {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// anonNode is what /proc/PID/fd/N leads to for a file without a path.
type anonNode struct {
	node
	vfs.NotDir
	fd *vfs.FileDescription
}

func (a *anonNode) Stat() (vfs.Attr, error) { return a.fd.StatAnon() }

// Open is never called: OpenAnon makes the whole description.
func (a *anonNode) Open(flags int) (vfs.File, error) { return nil, unix.ENXIO }

// OpenAnon implements vfs.AnonOpener: a new open file description of the same file.
func (a *anonNode) OpenAnon(flags int) (*vfs.FileDescription, error) { return a.fd.Reopen(flags) }
