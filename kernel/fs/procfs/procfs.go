// Package procfs is the sandbox's /proc, generated from the kernel's own state: the
// sandbox's processes (never the host's), their memory maps, FDs and limits, and system
// files describing the sandbox. Host facts (CPU model) are read once at boot, before the
// kernel process confines itself.
package procfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/sbx-dev/sbx/kernel/fs/inotify"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/host"
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

// New returns /proc for kernel k.
func New(k *kernel.Kernel) *FS {
	p := &proc{k: k}
	return &FS{p: p, root: p.root()}
}

// Root returns the root directory inode.
func (f *FS) Root() vfs.Inode { return f.root }

// SetMount records where this procfs is mounted (magic links to anonymous files point into it).
func (f *FS) SetMount(m *vfs.Mount) { f.p.mount = m }

type proc struct {
	k     *kernel.Kernel
	mount *vfs.Mount
}

func static(path string, gen func() string) *fileNode {
	return &fileNode{node: node{path: path}, mode: 0o444, gen: func() ([]byte, error) { return []byte(gen()), nil }}
}

func (p *proc) root() *dirNode {
	k := p.k
	sys := p.sysDir()
	fixed := []entry{
		{"cpuinfo", static("/cpuinfo", func() string { return string(hostCPUInfo) })},
		{"meminfo", static("/meminfo", p.meminfo)},
		{"stat", static("/stat", p.stat)},
		{"uptime", static("/uptime", func() string {
			up := k.Uptime().Seconds()
			return fmt.Sprintf("%.2f %.2f\n", up, up)
		})},
		{"loadavg", static("/loadavg", func() string {
			return fmt.Sprintf("0.00 0.00 0.00 1/%d %d\n", len(k.Groups()), k.InitPID())
		})},
		{"version", static("/version", func() string {
			return fmt.Sprintf("Linux version %s (sbx@sbx) (sbx user-space kernel) %s\n", k.Release, k.Version)
		})},
		{"filesystems", static("/filesystems", func() string {
			return "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tpipefs\n\tgofer\n"
		})},
		{"mounts", &linkNode{node: node{path: "/mounts"}, target: func() (string, error) { return "self/mounts", nil }}},
		{"sys", sys},
	}
	return &dirNode{node: node{path: "/"}, list: func() []entry {
		out := append([]entry(nil), fixed...)
		out = append(out, entry{"self", &selfLink{linkNode: linkNode{node: node{path: "/self"}}}},
			entry{"thread-self", &selfLink{linkNode: linkNode{node: node{path: "/thread-self"}}, thread: true}})
		for _, tg := range k.Groups() {
			out = append(out, entry{strconv.Itoa(int(tg.PID)), p.pidDir(tg)})
		}
		return out
	}}
}

// selfLink is /proc/self (or thread-self): its target depends on who follows it.
type selfLink struct {
	linkNode
	thread bool
}

func (s *selfLink) SelfTarget(pid, tid int32) string {
	if s.thread {
		return fmt.Sprintf("%d/task/%d", pid, tid)
	}
	return strconv.Itoa(int(pid))
}

func (s *selfLink) Readlink() (string, error) { return "", unix.EINVAL }

func (s *selfLink) Stat() (vfs.Attr, error) { return s.attr(unix.S_IFLNK|0o777, 0), nil }

func (p *proc) meminfo() string {
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	unit := uint64(si.Unit)
	total, free := si.Totalram*unit/1024, si.Freeram*unit/1024
	var b strings.Builder
	fmt.Fprintf(&b, "MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n", total, free, free)
	fmt.Fprintf(&b, "Buffers:        %8d kB\nCached:         %8d kB\nSwapCached:            0 kB\n", si.Bufferram*unit/1024, 0)
	fmt.Fprintf(&b, "SwapTotal:      %8d kB\nSwapFree:       %8d kB\nShmem:          %8d kB\n", si.Totalswap*unit/1024, si.Freeswap*unit/1024, si.Sharedram*unit/1024)
	return b.String()
}

func (p *proc) stat() string {
	var b strings.Builder
	b.WriteString("cpu  0 0 0 0 0 0 0 0 0 0\n")
	for i := range ncpu() {
		fmt.Fprintf(&b, "cpu%d 0 0 0 0 0 0 0 0 0 0\n", i)
	}
	fmt.Fprintf(&b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running 1\nprocs_blocked 0\n",
		p.k.Start.Unix(), len(p.k.Groups()))
	return b.String()
}

func ncpu() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		return set.Count()
	}
	return 1
}

func (p *proc) sysDir() *dirNode {
	k := p.k
	kern := []entry{
		{"osrelease", static("/sys/kernel/osrelease", func() string { return k.Release + "\n" })},
		{"ostype", static("/sys/kernel/ostype", func() string { return "Linux\n" })},
		{"version", static("/sys/kernel/version", func() string { return k.Version + "\n" })},
		{"hostname", static("/sys/kernel/hostname", func() string { return k.Hostname + "\n" })},
		{"pid_max", static("/sys/kernel/pid_max", func() string { return "4194304\n" })},
		{"ngroups_max", static("/sys/kernel/ngroups_max", func() string { return "65536\n" })},
		{"cap_last_cap", static("/sys/kernel/cap_last_cap", func() string { return "40\n" })},
		{"random", &dirNode{node: node{path: "/sys/kernel/random"}, list: func() []entry {
			return []entry{
				{"boot_id", static("/sys/kernel/random/boot_id", func() string { return k.BootID + "\n" })},
				{"uuid", static("/sys/kernel/random/uuid", func() string { return newUUID() + "\n" })},
				{"entropy_avail", static("/sys/kernel/random/entropy_avail", func() string { return "256\n" })},
			}
		}}},
	}
	vm := []entry{
		{"overcommit_memory", static("/sys/vm/overcommit_memory", func() string { return "0\n" })},
		{"max_map_count", static("/sys/vm/max_map_count", func() string { return "65530\n" })},
		{"mmap_min_addr", static("/sys/vm/mmap_min_addr", func() string { return "65536\n" })},
	}
	fs := []entry{
		{"nr_open", static("/sys/fs/nr_open", func() string { return "1048576\n" })},
		{"file-max", static("/sys/fs/file-max", func() string { return "9223372036854775807\n" })},
		{"inotify", &dirNode{node: node{path: "/sys/fs/inotify"}, list: func() []entry {
			return []entry{
				{"max_queued_events", static("/sys/fs/inotify/max_queued_events", func() string { return fmt.Sprintln(inotify.MaxQueuedEvents.Load()) })},
				{"max_user_instances", static("/sys/fs/inotify/max_user_instances", func() string { return fmt.Sprintln(inotify.MaxUserInstances.Load()) })},
				{"max_user_watches", static("/sys/fs/inotify/max_user_watches", func() string { return fmt.Sprintln(inotify.MaxUserWatches.Load()) })},
			}
		}}},
	}
	d := func(path string, es []entry) *dirNode {
		return &dirNode{node: node{path: path}, list: func() []entry { return es }}
	}
	return d("/sys", []entry{{"kernel", d("/sys/kernel", kern)}, {"vm", d("/sys/vm", vm)}, {"fs", d("/sys/fs", fs)}})
}

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
	n := func(name string) node { return node{path: base + "/" + name, uid: c.EUID, gid: c.EGID} }
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
	es := []entry{
		file("stat", 0o444, str(func() string { return p.pidStat(tg) })),
		file("status", 0o444, str(func() string { return p.pidStatus(tg) })),
		file("statm", 0o444, str(func() string {
			size, rss := uint64(0), uint64(0)
			if m := tg.MM(); m != nil {
				size, rss = m.Usage()
			}
			return fmt.Sprintf("%d %d 0 0 0 0 0\n", size/4096, rss/4096)
		})),
		file("maps", 0o444, str(func() string {
			if m := tg.MM(); m != nil {
				return m.Maps()
			}
			return ""
		})),
		file("cmdline", 0o444, func() ([]byte, error) { return memRange(tg, true), nil }),
		file("environ", 0o400, func() ([]byte, error) { return memRange(tg, false), nil }),
		file("auxv", 0o400, func() ([]byte, error) {
			m := tg.MM()
			if m == nil {
				return nil, nil
			}
			var b []byte
			for _, v := range m.Layout.Auxv {
				b = binary.LittleEndian.AppendUint64(b, v)
			}
			return b, nil
		}),
		file("comm", 0o644, str(func() string { return tg.Comm() + "\n" })),
		file("limits", 0o444, str(func() string { return limits(tg) })),
		file("mounts", 0o444, str(func() string { return p.mounts(false) })),
		file("mountinfo", 0o444, str(func() string { return p.mounts(true) })),
		file("oom_score_adj", 0o644, str(func() string { return "0\n" })),
		file("cgroup", 0o444, str(func() string { return "0::/\n" })),
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
				out = append(out, entry{strconv.Itoa(int(t.TID)), &dirNode{node: n("task/" + strconv.Itoa(int(t.TID))), list: func() []entry {
					return []entry{
						{"comm", &fileNode{node: n("task/comm"), mode: 0o644, gen: func() ([]byte, error) { return []byte(t.Name() + "\n"), nil }}},
						{"stat", &fileNode{node: n("task/stat"), mode: 0o444, gen: func() ([]byte, error) { return []byte(p.pidStat(tg)), nil }}},
					}
				}}})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
			return out
		}}},
	}
	return &dirNode{node: node{path: base, uid: c.EUID, gid: c.EGID}, list: func() []entry { return es }}
}

func (p *proc) fdDir(tg *kernel.ThreadGroup, base string, info bool) *dirNode {
	name := "fd"
	if info {
		name = "fdinfo"
	}
	return &dirNode{node: node{path: base + "/" + name}, list: func() []entry {
		fds := tg.FDs()
		if fds == nil {
			return nil
		}
		var out []entry
		for _, n := range fds.Numbers() {
			n := n
			path := base + "/" + name + "/" + strconv.Itoa(int(n))
			if info {
				out = append(out, entry{strconv.Itoa(int(n)), &fileNode{node: node{path: path}, mode: 0o444, gen: func() ([]byte, error) {
					fd, cloexec, err := fds.Get(n)
					if err != nil {
						return nil, err
					}
					defer fd.DecRef()
					flags := fd.StatusFlags()
					if cloexec {
						flags |= unix.O_CLOEXEC
					}
					return []byte(fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", fd.Offset(), flags, mountID(fd), inoOfFD(fd))), nil
				}}})
				continue
			}
			out = append(out, entry{strconv.Itoa(int(n)), &magicLink{linkNode: linkNode{node: node{path: path}, target: func() (string, error) {
				fd, _, err := fds.Get(n)
				if err != nil {
					return "", err
				}
				defer fd.DecRef()
				return fd.Name(), nil
			}}, to: func() (vfs.VirtualDentry, error) {
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
					return vfs.VirtualDentry{Mount: p.mount, Dentry: vfs.NewRootDentry(&anonNode{node: node{path: path + "/anon"}, fd: fd})}, nil
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
	if in := fd.Inode(); in != nil {
		if a, err := in.Stat(); err == nil {
			return a.Ino
		}
	}
	return 0
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
	if tg.Zombie() {
		return 'Z', "Z (zombie)"
	}
	if tg.Stopped() {
		return 'T', "T (stopped)"
	}
	if tg.Running() {
		return 'R', "R (running)"
	}
	return 'S', "S (sleeping)"
}

func (p *proc) pidStat(tg *kernel.ThreadGroup) string {
	st, _ := state(tg)
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
	u, sys := tg.CPUTimes()
	cu, cs := tg.ChildCPUTimes()
	tick := func(d time.Duration) int64 { return int64(d / (10 * time.Millisecond)) }
	return fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194560 0 0 0 0 %d %d %d %d 20 0 %d 0 %d %d %d 18446744073709551615 %d %d %d 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 %d %d %d %d 0\n",
		tg.PID, tg.Comm(), st, tg.PPID(), pgid, sid, tick(u), tick(sys), tick(cu), tick(cs), threads, start, size, rss/4096,
		l.startCode, l.endCode, l.startStack, l.argStart, l.argEnd, l.envStart, l.envEnd)
}

func (p *proc) pidStatus(tg *kernel.ThreadGroup) string {
	_, st := state(tg)
	c := tg.Creds()
	var size, rss uint64
	if m := tg.MM(); m != nil {
		size, rss = m.Usage()
	}
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, strconv.Itoa(int(g)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		tg.Comm(), st, tg.PID, tg.PID, tg.PPID())
	fmt.Fprintf(&b, "Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nFDSize:\t64\nGroups:\t%s\n",
		c.UID, c.EUID, c.SUID, c.FSUID, c.GID, c.EGID, c.SGID, c.FSGID, strings.Join(groups, " "))
	fmt.Fprintf(&b, "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmRSS:\t%8d kB\nThreads:\t%d\n", size/1024, size/1024, rss/1024, len(tg.Tasks()))
	b.WriteString("SigQ:\t0/63459\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n")
	b.WriteString("CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n")
	nnp := 0
	if tg.NoNewPrivs() {
		nnp = 1
	}
	fmt.Fprintf(&b, "NoNewPrivs:\t%d\nSeccomp:\t0\nSeccomp_filters:\t0\nCpus_allowed_list:\t0-%d\nvoluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n", nnp, ncpu()-1)
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

func (p *proc) mounts(info bool) string {
	var b bytes.Buffer
	for _, m := range p.k.NS.Mounts() {
		point := "/"
		parentID := m.ID
		if m.Parent() != nil {
			point = mountPoint(m)
			parentID = m.Parent().ID
		}
		opts := "rw"
		if m.ReadOnly {
			opts = "ro"
		}
		if info {
			fmt.Fprintf(&b, "%d %d 0:%d / %s %s,nosuid,nodev - %s %s %s\n", m.ID, parentID, m.Dev(), point, opts, m.FSType, m.Source, opts)
		} else {
			fmt.Fprintf(&b, "%s %s %s %s,nosuid,nodev 0 0\n", m.Source, point, m.FSType, opts)
		}
	}
	return b.String()
}

func mountPoint(m *vfs.Mount) string {
	return vfs.MountPointPath(m)
}

// anonNode is what /proc/PID/fd/N leads to for a file without a path.
type anonNode struct {
	node
	vfs.NotDir
	fd *vfs.FileDescription
}

func (a *anonNode) Stat() (vfs.Attr, error) {
	if h, ok := a.fd.Impl().(vfs.HostFile); ok {
		var st unix.Stat_t
		if err := unix.Fstat(h.HostFD(), &st); err != nil {
			return vfs.Attr{}, err
		}
		return vfs.Attr{Mode: st.Mode, Ino: st.Ino, Dev: st.Dev, Rdev: st.Rdev, Nlink: st.Nlink, UID: st.Uid, GID: st.Gid,
			Size: st.Size, Blocks: st.Blocks, Blksize: st.Blksize, Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim}, nil
	}
	if in := a.fd.Inode(); in != nil {
		return in.Stat()
	}
	return a.attr(unix.S_IFIFO|0o600, 0), nil
}

// Open reopens the file: a host FD is duplicated; other anonymous files cannot be reopened.
func (a *anonNode) Open(flags int) (vfs.File, error) {
	h, ok := a.fd.Impl().(vfs.HostFile)
	if !ok {
		return nil, unix.ENXIO
	}
	nfd, err := unix.FcntlInt(uintptr(h.HostFD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return host.New(nfd, true), nil
}
