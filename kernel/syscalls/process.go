package syscalls

import (
	"crypto/rand"
	"runtime"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Getpid implements getpid(2).
func Getpid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return uint64(t.PIDOf(t.Group())), nil
}

// Getppid implements getppid(2).
func Getppid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return uint64(t.PIDOf(t.Group().Parent())), nil
}

// Gettid implements gettid(2).
func Gettid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return uint64(t.VisibleTID()), nil }

// seenIDs are the caller's credentials in its user namespace's numbers (overflow IDs for
// the unmapped ones): credentials are kept in the root namespace's.
func seenIDs(t *kernel.Task) *vfs.Creds {
	c := t.Creds()
	u := t.Group().UserNS()
	if u.IsRoot() {
		return c
	}
	for _, p := range []*uint32{&c.UID, &c.EUID, &c.SUID, &c.FSUID} {
		*p = u.MapUID(*p)
	}
	for _, p := range []*uint32{&c.GID, &c.EGID, &c.SGID, &c.FSGID} {
		*p = u.MapGID(*p)
	}
	for i := range c.Groups {
		c.Groups[i] = u.MapGID(c.Groups[i])
	}
	return c
}

// Getuid implements getuid(2).
func Getuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return uint64(seenIDs(t).UID), nil }

// Geteuid implements geteuid(2).
func Geteuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return uint64(seenIDs(t).EUID), nil
}

// Getgid implements getgid(2).
func Getgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) { return uint64(seenIDs(t).GID), nil }

// Getegid implements getegid(2).
func Getegid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return uint64(seenIDs(t).EGID), nil
}

// Getresuid implements getresuid(2).
func Getresuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := seenIDs(t)
	for i, v := range []uint32{c.UID, c.EUID, c.SUID} {
		if err := putU32(t, a[i], v); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Getresgid implements getresgid(2).
func Getresgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := seenIDs(t)
	for i, v := range []uint32{c.GID, c.EGID, c.SGID} {
		if err := putU32(t, a[i], v); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Getgroups implements getgroups(2).
func Getgroups(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := seenIDs(t)
	n := int(int32(a[0]))
	if n < 0 {
		return 0, unix.EINVAL
	}
	if n == 0 {
		return uint64(len(c.Groups)), nil
	}
	if n < len(c.Groups) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(c.Groups))
	for i, g := range c.Groups {
		abi.PutU32(b[4*i:], g)
	}
	if _, err := t.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(c.Groups)), nil
}

// Setgroups implements setgroups(2): only root may change groups; in a nested user
// namespace, a holder of CAP_SETGID there once its gid_map is written and setgroups is
// allowed, with groups mapped there (EINVAL otherwise).
func Setgroups(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := t.Creds()
	u := t.Group().UserNS()
	if !idPrivileged(t, true) || !u.IsRoot() && !u.SetgroupsAllowedHere() {
		return 0, unix.EPERM
	}
	n := a[0]
	if n > 65536 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*n)
	if _, err := t.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	c.Groups = make([]uint32, n)
	for i := range c.Groups {
		g, ok := u.UnmapGID(abi.U32(b[4*i:]))
		if !ok {
			return 0, unix.EINVAL
		}
		c.Groups[i] = g
	}
	t.SetCreds(*c)
	return 0, nil
}

// idPrivileged reports whether the caller may set any user (or group) ID: root in the
// sandbox's namespace, CAP_SETUID (CAP_SETGID) in a nested one.
func idPrivileged(t *kernel.Task, gid bool) bool {
	u := t.Group().UserNS()
	if u.IsRoot() {
		return t.Creds().EUID == 0
	}
	if gid {
		return t.NSCapable(u, unix.CAP_SETGID)
	}
	return t.NSCapable(u, unix.CAP_SETUID)
}

const noChange = ^uint32(0)

// setresid implements the permission rules shared by setuid/setreuid/setresuid (and gid).
// The IDs are the caller's user namespace's: EINVAL for one not mapped there.
func setresid(t *kernel.Task, r, e, s uint32, gid bool) error {
	c := t.Creds()
	cur := [3]*uint32{&c.UID, &c.EUID, &c.SUID}
	fs := &c.FSUID
	if gid {
		cur = [3]*uint32{&c.GID, &c.EGID, &c.SGID}
		fs = &c.FSGID
	}
	if u := t.Group().UserNS(); !u.IsRoot() {
		for _, v := range []*uint32{&r, &e, &s} {
			if *v == noChange {
				continue
			}
			var ok bool
			if gid {
				*v, ok = u.UnmapGID(*v)
			} else {
				*v, ok = u.UnmapUID(*v)
			}
			if !ok {
				return unix.EINVAL
			}
		}
	}
	priv := idPrivileged(t, gid)
	allowed := func(v uint32) bool {
		return v == noChange || priv || v == *cur[0] || v == *cur[1] || v == *cur[2]
	}
	if !allowed(r) || !allowed(e) || !allowed(s) {
		return unix.EPERM
	}
	for i, v := range []uint32{r, e, s} {
		if v != noChange {
			*cur[i] = v
		}
	}
	*fs = *cur[1]
	t.SetCreds(*c)
	return nil
}

// Setuid implements setuid(2).
func Setuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	u := uint32(a[0])
	if u == noChange {
		return 0, unix.EINVAL
	}
	if idPrivileged(t, false) {
		return 0, setresid(t, u, u, u, false)
	}
	return 0, setresid(t, noChange, u, noChange, false)
}

// Setgid implements setgid(2).
func Setgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	g := uint32(a[0])
	if g == noChange {
		return 0, unix.EINVAL
	}
	if idPrivileged(t, true) {
		return 0, setresid(t, g, g, g, true)
	}
	return 0, setresid(t, noChange, g, noChange, true)
}

// Setreuid implements setreuid(2).
func Setreuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, setresid(t, uint32(a[0]), uint32(a[1]), noChange, false)
}

// Setregid implements setregid(2).
func Setregid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, setresid(t, uint32(a[0]), uint32(a[1]), noChange, true)
}

// Setresuid implements setresuid(2).
func Setresuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, setresid(t, uint32(a[0]), uint32(a[1]), uint32(a[2]), false)
}

// Setresgid implements setresgid(2).
func Setresgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, setresid(t, uint32(a[0]), uint32(a[1]), uint32(a[2]), true)
}

// Setfsuid implements setfsuid(2): it returns the old value.
func Setfsuid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := t.Creds()
	old := c.FSUID
	u := uint32(a[0])
	if c.EUID == 0 || u == c.UID || u == c.EUID || u == c.SUID || u == c.FSUID {
		c.FSUID = u
		t.SetCreds(*c)
	}
	return uint64(old), nil
}

// Setfsgid implements setfsgid(2).
func Setfsgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := t.Creds()
	old := c.FSGID
	g := uint32(a[0])
	if c.EUID == 0 || g == c.GID || g == c.EGID || g == c.SGID || g == c.FSGID {
		c.FSGID = g
		t.SetCreds(*c)
	}
	return uint64(old), nil
}

// Exit implements exit(2).
func Exit(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	t.Exit(int(a[0]))
	return 0, kernel.ErrNoReturn
}

// ExitGroup implements exit_group(2).
func ExitGroup(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	t.ExitGroup(int(a[0]))
	return 0, kernel.ErrNoReturn
}

// maxArgStrlen is MAX_ARG_STRLEN; maxArgs bounds argv+envp counts.
const (
	maxArgStrlen = 32 * 4096
	maxArgs      = 0x7fffffff
)

func copyInStrings(t *kernel.Task, addr uint64, total *int) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil
	}
	for i := 0; ; i++ {
		p, err := getU64(t, addr+uint64(8*i))
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := t.CopyInString(p, maxArgStrlen-1)
		if err != nil {
			if err == unix.ENAMETOOLONG {
				return nil, unix.E2BIG
			}
			return nil, err
		}
		*total += len(s) + 1
		if *total > 6<<20 {
			return nil, unix.E2BIG // past any limit argLimit allows
		}
		out = append(out, s)
	}
}

// atExecveCheck is execveat's AT_EXECVE_CHECK (Linux 6.14): check, do not execute.
const atExecveCheck = 0x10000

func execveat(t *kernel.Task, dirfd int32, pathAddr, argvAddr, envAddr, flags uint64) (uint64, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW|atExecveCheck) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	total := 0
	argv, err := copyInStrings(t, argvAddr, &total)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStrings(t, envAddr, &total)
	if err != nil {
		return 0, err
	}
	// Linux's bprm_stack_limits: the strings (the file name too) and the pointers to them
	// fit in a quarter of RLIMIT_STACK, at most 6 MiB, at least ARG_MAX (128 KiB).
	stack, _ := t.Limit(unix.RLIMIT_STACK)
	limit := max(min(stack/4, 6<<20), 32*4096)
	ptrs := uint64(max(len(argv), 1)+len(envv)) * 8
	if limit <= ptrs || uint64(total+len(path)+1) > limit-ptrs {
		return 0, unix.E2BIG
	}
	inaccessible := false
	if dirfd != kernel.AtFDCWD && !strings.HasPrefix(path, "/") {
		// The program is named through the descriptor (/dev/fd/N[/path] on Linux), which
		// a close-on-exec descriptor no longer gives after the exec.
		if f, cloexec, err := t.FDs().Get(dirfd); err == nil {
			inaccessible = cloexec
			f.DecRef()
		}
	}
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		fd, err := getFD(t, uint64(uint32(dirfd)))
		if err != nil {
			return 0, err
		}
		path = fd.VirtualDentry().Path()
		fd.DecRef()
		dirfd = kernel.AtFDCWD
	}
	if flags&atExecveCheck != 0 {
		if path == "" {
			return 0, unix.ENOENT
		}
		return 0, t.CheckExecutable(dirfd, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	}
	if err := t.ExecveInaccessible(dirfd, path, argv, envv, flags&unix.AT_SYMLINK_NOFOLLOW == 0, inaccessible); err != nil {
		return 0, err
	}
	return 0, kernel.ErrNoReturn
}

// Execve implements execve(2).
func Execve(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return execveat(t, kernel.AtFDCWD, a[0], a[1], a[2], 0)
}

// Execveat implements execveat(2).
func Execveat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return execveat(t, int32(a[0]), a[1], a[2], a[3], a[4])
}

// Uname implements uname(2).
func Uname(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	k := t.Kernel()
	host, domain := t.Group().Hostname()
	u := abi.Utsname{Sysname: abi.UtsField("Linux"), Nodename: abi.UtsField(host), Release: abi.UtsField(k.Release),
		Version: abi.UtsField(k.Version), Machine: abi.UtsField("x86_64"), Domainname: abi.UtsField(domain)}
	b := make([]byte, abi.SizeofUtsname)
	u.Encode(b)
	if _, err := t.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Sysinfo implements sysinfo(2).
func Sysinfo(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	k := t.Kernel()
	mi := k.MemInfo() // the sandbox's memory, its limit as the RAM
	si := abi.Sysinfo{Uptime: int64(k.Uptime().Seconds()), Totalram: mi.Total, Freeram: mi.Free, Sharedram: mi.Shmem,
		Totalswap: mi.SwapTotal, Freeswap: mi.SwapFree, Procs: uint16(len(k.Groups())), MemUnit: 1}
	b := make([]byte, abi.SizeofSysinfo)
	si.Encode(b)
	if _, err := t.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func rlimitOK(r uint64) bool { return r < 16 }

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !rlimitOK(a[0]) {
		return 0, unix.EINVAL
	}
	soft, hard := t.Limit(int(a[0]))
	return 0, putRlimit(t, a[1], soft, hard)
}

// getRlimit reads a struct rlimit.
func getRlimit(t *kernel.Task, addr uint64) (abi.Rlimit, error) {
	var r abi.Rlimit
	b := make([]byte, abi.SizeofRlimit)
	if _, err := t.CopyIn(addr, b); err != nil {
		return r, unix.EFAULT
	}
	r.Decode(b)
	return r, nil
}

// putRlimit writes a struct rlimit.
func putRlimit(t *kernel.Task, addr, soft, hard uint64) error {
	b := make([]byte, abi.SizeofRlimit)
	(&abi.Rlimit{Cur: soft, Max: hard}).Encode(b)
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// nrOpen is fs.nr_open, the ceiling of RLIMIT_NOFILE: Linux's default, or more when the
// sandbox inherited a higher hard limit (the host's nr_open allowed it).
func nrOpen(t *kernel.Task) uint64 {
	return max(1<<20, t.Kernel().Limits[unix.RLIMIT_NOFILE][1])
}

func setrlimit(t *kernel.Task, r int, soft, hard uint64) error {
	return setrlimitOf(t, t.Group(), r, soft, hard)
}

// setrlimitOf sets resource r of process tg for the caller t.
func setrlimitOf(t *kernel.Task, tg *kernel.ThreadGroup, r int, soft, hard uint64) error {
	if soft > hard {
		return unix.EINVAL
	}
	_, oldHard := tg.Limit(r)
	// Raising a hard limit takes CAP_SYS_RESOURCE, which root inside has when the user
	// who started the sandbox has it.
	if hard > oldHard && (t.Creds().EUID != 0 || t.Kernel().Caps[0]&(1<<unix.CAP_SYS_RESOURCE) == 0) {
		return unix.EPERM
	}
	if r == unix.RLIMIT_NOFILE && hard > nrOpen(t) {
		return unix.EPERM
	}
	tg.SetLimit(r, soft, hard)
	return nil
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if !rlimitOK(a[0]) {
		return 0, unix.EINVAL
	}
	r, err := getRlimit(t, a[1])
	if err != nil {
		return 0, err
	}
	return 0, setrlimit(t, int(a[0]), r.Cur, r.Max)
}

// Prlimit64 implements prlimit64(2), in Linux's order: the new limit is read (EFAULT),
// the process found (ESRCH) and checked (EPERM unless the caller's real IDs are all of
// its IDs, or it has CAP_SYS_RESOURCE), then the resource and the limit are checked
// (EINVAL) and set, then the old one written.
func Prlimit64(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var nr *abi.Rlimit
	if a[2] != 0 {
		v, err := getRlimit(t, a[2])
		if err != nil {
			return 0, err
		}
		nr = &v
	}
	tg := t.Group()
	if pid := int32(a[0]); pid != 0 {
		if tg = t.GroupByPID(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	if tg != t.Group() && !mayPrlimit(t, tg) {
		return 0, unix.EPERM
	}
	if !rlimitOK(a[1]) {
		return 0, unix.EINVAL
	}
	r := int(a[1])
	soft, hard := tg.Limit(r)
	if nr != nil {
		if err := setrlimitOf(t, tg, r, nr.Cur, nr.Max); err != nil {
			return 0, err
		}
	}
	if a[3] != 0 {
		if err := putRlimit(t, a[3], soft, hard); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// mayPrlimit is Linux's check_prlimit_permission for another process.
func mayPrlimit(t *kernel.Task, tg *kernel.ThreadGroup) bool {
	c, tc := t.Creds(), tg.Creds()
	if c.UID == tc.UID && c.UID == tc.EUID && c.UID == tc.SUID && c.GID == tc.GID && c.GID == tc.EGID && c.GID == tc.SGID {
		return true
	}
	return c.EUID == 0 && t.Kernel().Caps[0]&(1<<unix.CAP_SYS_RESOURCE) != 0
}

// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h).
const (
	archSetGS        = 0x1001
	archSetFS        = 0x1002
	archGetFS        = 0x1003
	archGetGS        = 0x1004
	archGetCPUID     = 0x1011
	archSetCPUID     = 0x1012
	archGetXCompSup  = 0x1021
	archReqXCompPerm = 0x1023
)

// taskSizeMax is x86-64's TASK_SIZE_MAX: FS and GS bases at or above it are refused (EPERM).
const taskSizeMax = 1<<47 - 4096

// ArchPrctl implements arch_prctl(2).
func ArchPrctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	switch a[0] {
	case archSetFS:
		if a[1] >= taskSizeMax {
			return 0, unix.EPERM
		}
		t.Regs.FsBase = a[1]
		return 0, nil
	case archSetGS:
		if a[1] >= taskSizeMax {
			return 0, unix.EPERM
		}
		t.Regs.GsBase = a[1]
		return 0, nil
	case archGetFS:
		return 0, putU64(t, a[1], t.Regs.FsBase)
	case archGetGS:
		return 0, putU64(t, a[1], t.Regs.GsBase)
	case archGetCPUID:
		return 1, nil
	case archSetCPUID:
		return 0, unix.ENODEV
	case archGetXCompSup, archReqXCompPerm:
		return 0, unix.EINVAL
	}
	return 0, unix.EINVAL
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	t.SetClearChildTID(a[0])
	return uint64(t.TID), nil
}

// SetRobustList implements set_robust_list(2).
func SetRobustList(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[1] != 24 {
		return 0, unix.EINVAL
	}
	t.SetRobustList(a[0])
	return 0, nil
}

// GetRobustList implements get_robust_list(2) for the calling thread.
func GetRobustList(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[0] != 0 && int32(a[0]) != t.TID {
		if t.TaskByTID(int32(a[0])) == nil {
			return 0, unix.ESRCH
		}
		return 0, unix.EPERM
	}
	if err := putU64(t, a[1], t.RobustList()); err != nil {
		return 0, err
	}
	return 0, putU64(t, a[2], 24)
}

// Getrandom implements getrandom(2).
func Getrandom(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[2]&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 {
		return 0, unix.EINVAL
	}
	if a[2]&unix.GRND_RANDOM != 0 && a[2]&unix.GRND_INSECURE != 0 {
		return 0, unix.EINVAL
	}
	n := min(a[1], 1<<31-1) // INT_MAX, as Linux caps a request
	bufs, err := ranges(t, []iovec{{a[0], n}}, true)
	if err != nil {
		return 0, err
	}
	var done uint64
	for _, b := range bufs {
		rand.Read(b)
		done += uint64(len(b))
	}
	return done, nil
}

// SchedYield implements sched_yield(2).
func SchedYield(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	runtime.Gosched()
	return 0, nil
}

// ncpu is the number of CPUs the sandbox reports.
func ncpu() int { return runtime.NumCPU() }

// SchedGetaffinity implements sched_getaffinity(2).
func SchedGetaffinity(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if pid := int32(a[0]); pid != 0 && t.TaskByTID(pid) == nil {
		return 0, unix.ESRCH
	}
	size := a[1]
	need := uint64((ncpu() + 63) / 64 * 8)
	if size < need || size%8 != 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, need)
	for i := range ncpu() {
		b[i/8] |= 1 << (i % 8)
	}
	if _, err := t.CopyOut(a[2], b); err != nil {
		return 0, unix.EFAULT
	}
	return need, nil
}

// SchedSetaffinity implements sched_setaffinity(2): a mask is accepted when it names one
// of the CPUs the sandbox shows (EINVAL otherwise, as Linux for a mask that leaves the
// thread no CPU); placement stays the kernel's.
func SchedSetaffinity(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	b := make([]byte, min(a[1], 1024))
	if _, err := t.CopyIn(a[2], b); err != nil {
		return 0, unix.EFAULT
	}
	if pid := int32(a[0]); pid != 0 && t.TaskByTID(pid) == nil {
		return 0, unix.ESRCH
	}
	for i := range min(ncpu(), 8*len(b)) {
		if b[i/8]&(1<<(i%8)) != 0 {
			return 0, nil
		}
	}
	return 0, unix.EINVAL
}

// Getcpu implements getcpu(2).
func Getcpu(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[0] != 0 {
		if err := putU32(t, a[0], 0); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := putU32(t, a[1], 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// defaultTimerSlack is a process's timer slack until PR_SET_TIMERSLACK: 50 µs.
const defaultTimerSlack = 50000

// Prctl implements prctl(2).
func Prctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	switch a[0] {
	case unix.PR_SET_NAME:
		s, err := t.CopyInString(a[1], 4095)
		if err != nil && err != unix.ENAMETOOLONG {
			return 0, unix.EFAULT
		}
		t.SetName(s)
		return 0, nil
	case unix.PR_GET_NAME:
		b := make([]byte, 16)
		copy(b, t.Name())
		if _, err := t.CopyOut(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.PR_GET_DUMPABLE:
		if t.Group().Dumpable() {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_DUMPABLE:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		t.Group().SetDumpable(a[1] == 1)
		return 0, nil
	case unix.PR_SET_NO_NEW_PRIVS:
		if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		t.Group().SetNoNewPrivs()
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		if t.Group().NoNewPrivs() {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_PDEATHSIG:
		if a[1] > 64 {
			return 0, unix.EINVAL
		}
		t.Group().SetPdeathSignal(int(a[1]))
		return 0, nil
	case unix.PR_GET_PDEATHSIG:
		return 0, putU32(t, a[1], uint32(t.Group().PdeathSignal()))
	case unix.PR_GET_SECUREBITS:
		if t.Group().Prctl().KeepCaps {
			return 1 << 4, nil // SECBIT_KEEP_CAPS
		}
		return 0, nil
	case unix.PR_GET_KEEPCAPS:
		if t.Group().Prctl().KeepCaps {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_KEEPCAPS:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		t.Group().SetPrctl(func(p *kernel.PrctlState) { p.KeepCaps = a[1] == 1 })
		return 0, nil
	case unix.PR_GET_TIMERSLACK:
		if s := t.Group().Prctl().TimerSlack; s != 0 {
			return s, nil
		}
		return defaultTimerSlack, nil
	case unix.PR_SET_TIMERSLACK:
		t.Group().SetPrctl(func(p *kernel.PrctlState) { p.TimerSlack = a[1] }) // 0: the default again
		return 0, nil
	case unix.PR_GET_CHILD_SUBREAPER:
		v := uint32(0)
		if t.Group().Prctl().Subreaper {
			v = 1
		}
		return 0, putU32(t, a[1], v)
	case unix.PR_SET_CHILD_SUBREAPER:
		t.Group().SetPrctl(func(p *kernel.PrctlState) { p.Subreaper = a[1] != 0 })
		return 0, nil
	case unix.PR_GET_THP_DISABLE:
		if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		if t.Group().Prctl().THPDisable {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_THP_DISABLE:
		if a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		t.Group().SetPrctl(func(p *kernel.PrctlState) { p.THPDisable = a[1] != 0 })
		return 0, nil
	case unix.PR_GET_TSC:
		return 0, putU32(t, a[1], unix.PR_TSC_ENABLE)
	case unix.PR_GET_TIMING:
		return unix.PR_TIMING_STATISTICAL, nil
	case unix.PR_MCE_KILL_GET:
		if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		return unix.PR_MCE_KILL_DEFAULT, nil
	case unix.PR_SET_VMA:
		return 0, prctlSetVMA(t, a)
	case unix.PR_SET_PTRACER:
		// PR_SET_PTRACER belongs to the Yama LSM; sbx has none, so EINVAL as on such a kernel.
		return 0, unix.EINVAL
	case unix.PR_CAPBSET_READ:
		if a[1] > 40 {
			return 0, unix.EINVAL
		}
		// The bounding set /proc/PID/status shows: the launching user's, else all.
		bnd := uint64(1)<<41 - 1
		if c := t.Kernel().Caps[1]; c != 0 {
			bnd = c
		}
		return bnd >> a[1] & 1, nil
	case unix.PR_CAP_AMBIENT:
		return prctlCapAmbient(t, a)
	case unix.PR_GET_TID_ADDRESS:
		return 0, putU64(t, a[1], t.ClearChildTID())
	case unix.PR_TASK_PERF_EVENTS_DISABLE, unix.PR_TASK_PERF_EVENTS_ENABLE:
		return 0, nil // there are no perf events to switch
	case unix.PR_GET_SPECULATION_CTRL, unix.PR_SET_SPECULATION_CTRL:
		switch a[1] {
		case unix.PR_SPEC_STORE_BYPASS, unix.PR_SPEC_INDIRECT_BRANCH, unix.PR_SPEC_L1D_FLUSH:
			if a[0] == unix.PR_GET_SPECULATION_CTRL {
				return unix.PR_SPEC_NOT_AFFECTED, nil
			}
			return 0, unix.ENXIO // not affected: nothing to control
		}
		return 0, unix.ENODEV
	case unix.PR_GET_SECCOMP:
		return uint64(t.SeccompMode()), nil
	case unix.PR_SET_SECCOMP:
		return prctlSeccomp(t, a[1], a[2])
	case unix.PR_SET_MM:
		return 0, unix.EPERM
	}
	return 0, unix.EINVAL
}

// Personality implements personality(2): the value is kept and inherited; of its flags
// only ADDR_NO_RANDOMIZE changes anything (the next execve's layout).
func Personality(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	old := t.Group().Prctl().Personality
	if p := uint32(a[0]); p != 0xffffffff {
		t.Group().SetPrctl(func(s *kernel.PrctlState) { s.Personality = p })
	}
	return uint64(old), nil
}

// Getpgrp implements getpgrp(2).
func Getpgrp(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pgid, _ := t.Group().IDs()
	return uint64(t.VisiblePID(pgid)), nil
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tg := t.Group()
	if pid := int32(a[0]); pid != 0 {
		if tg = t.GroupByPID(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	pgid, _ := tg.IDs()
	return uint64(t.VisiblePID(pgid)), nil
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tg := t.Group()
	if pid := int32(a[0]); pid != 0 {
		if tg = t.GroupByPID(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	_, sid := tg.IDs()
	return uint64(t.VisiblePID(sid)), nil
}

// Setpgid implements setpgid(2) for the caller.
func Setpgid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, pgid := int32(a[0]), int32(a[1])
	if pgid == 0 {
		pgid = pid // 0 and 0: the caller's own PID, checked below
	}
	if pgid < 0 {
		return 0, unix.EINVAL
	}
	target := t.Group()
	if pid != 0 {
		if target = t.GroupByPID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	// Process groups are kept by root namespace numbers.
	if pgid == 0 || pgid == pid {
		pgid = target.PID
	} else if pgid = t.RootPID(pgid); pgid == 0 {
		return 0, unix.EPERM
	}
	return 0, t.Group().SetPgidOf(t.Kernel(), target, pgid)
}

// Setsid implements setsid(2).
func Setsid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	sid, err := t.Group().Setsid()
	return uint64(t.VisiblePID(int32(sid))), err
}

// anonNameMax is ANON_VMA_NAME_MAX_LEN: a name with its NUL.
const anonNameMax = 80

// prctlSetVMA implements PR_SET_VMA with PR_SET_VMA_ANON_NAME (prctl(2)), as a kernel built
// with CONFIG_ANON_VMA_NAME: a name of at most 79 printable ASCII characters without
// [ ] \ $ `, or NULL to remove it; the names show in /proc/PID/maps as [anon:NAME].
func prctlSetVMA(t *kernel.Task, a kernel.SyscallArgs) error {
	if a[1] != unix.PR_SET_VMA_ANON_NAME {
		return unix.EINVAL
	}
	name := ""
	if a[4] != 0 {
		s, err := t.CopyInString(a[4], anonNameMax-1)
		if err == unix.ENAMETOOLONG {
			return unix.EINVAL
		}
		if err != nil {
			return err
		}
		for _, c := range []byte(s) {
			if c < 0x20 || c > 0x7e || strings.IndexByte("[]\\$`", c) >= 0 {
				return unix.EINVAL
			}
		}
		name = s
	}
	return t.MM().SetAnonName(a[2], a[3], name)
}

// prctlCapAmbient implements PR_CAP_AMBIENT with its checks in Linux's order. Ambient
// capabilities are not offered: the set is always empty and a raise is refused (EPERM,
// what Linux says when the capability is not both permitted and inheritable).
func prctlCapAmbient(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[1] == unix.PR_CAP_AMBIENT_CLEAR_ALL {
		if a[2]|a[3]|a[4] != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	}
	if a[2] > 40 || a[3]|a[4] != 0 {
		return 0, unix.EINVAL
	}
	switch a[1] {
	case unix.PR_CAP_AMBIENT_IS_SET:
		return 0, nil
	case unix.PR_CAP_AMBIENT_LOWER:
		return 0, nil
	case unix.PR_CAP_AMBIENT_RAISE:
		return 0, unix.EPERM
	}
	return 0, unix.EINVAL
}
