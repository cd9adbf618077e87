package syscalls

import (
	"strings"

	"github.com/sbx-dev/sbx/kernel"
)

// compatEntry maps an i386 system call, reached from 64-bit code through int 0x80
// (kernel/syscall32.go), to the x86-64 call with the same behaviour. args, when set,
// replaces the native entry's argument kinds where the i386 C types differ (compat_off_t
// is a signed 32-bit value); fn, when set, replaces the handler (the 16-bit ID calls).
type compatEntry struct {
	nr     uint64
	name   string
	native uint64
	args   string
	fn     kernel.SyscallFn
}

// compatEntries are the i386 calls whose arguments and results are plain integers,
// descriptors, strings and buffers, so they mean the same with 32-bit arguments. The
// others (struct layouts of their own: stat64, 32-bit timespecs, iovecs, sigactions,
// socketcall, ipc, execve's pointer arrays, mmap2's low mapping base, ...) are ENOSYS.
func compatEntries() []compatEntry {
	return []compatEntry{
		{nr: 1, name: "exit", native: 60}, {nr: 2, name: "fork", native: 57}, {nr: 3, name: "read", native: 0},
		{nr: 4, name: "write", native: 1}, {nr: 5, name: "open", native: 2}, {nr: 6, name: "close", native: 3},
		{nr: 7, name: "waitpid", native: 61, args: "i,x,i", fn: Waitpid}, {nr: 8, name: "creat", native: 85},
		{nr: 9, name: "link", native: 86}, {nr: 10, name: "unlink", native: 87}, {nr: 12, name: "chdir", native: 80},
		{nr: 14, name: "mknod", native: 133}, {nr: 15, name: "chmod", native: 90},
		{nr: 19, name: "lseek", native: 8, args: "F,i,u"}, {nr: 20, name: "getpid", native: 39},
		{nr: 24, name: "getuid", native: 102, fn: uid16(Getuid)}, {nr: 29, name: "pause", native: 34},
		{nr: 33, name: "access", native: 21}, {nr: 36, name: "sync", native: 162}, {nr: 37, name: "kill", native: 62},
		{nr: 38, name: "rename", native: 82}, {nr: 39, name: "mkdir", native: 83}, {nr: 40, name: "rmdir", native: 84},
		{nr: 41, name: "dup", native: 32}, {nr: 42, name: "pipe", native: 22}, {nr: 45, name: "brk", native: 12},
		{nr: 47, name: "getgid", native: 104, fn: uid16(Getgid)}, {nr: 49, name: "geteuid", native: 107, fn: uid16(Geteuid)},
		{nr: 50, name: "getegid", native: 108, fn: uid16(Getegid)}, {nr: 57, name: "setpgid", native: 109},
		{nr: 60, name: "umask", native: 95}, {nr: 61, name: "chroot", native: 161}, {nr: 63, name: "dup2", native: 33},
		{nr: 64, name: "getppid", native: 110}, {nr: 65, name: "getpgrp", native: 111}, {nr: 66, name: "setsid", native: 112},
		{nr: 83, name: "symlink", native: 88}, {nr: 85, name: "readlink", native: 89}, {nr: 91, name: "munmap", native: 11},
		{nr: 92, name: "truncate", native: 76, args: "p,i"}, {nr: 93, name: "ftruncate", native: 77, args: "F,i"},
		{nr: 94, name: "fchmod", native: 91}, {nr: 118, name: "fsync", native: 74}, {nr: 122, name: "uname", native: 63},
		{nr: 125, name: "mprotect", native: 10}, {nr: 132, name: "getpgid", native: 121}, {nr: 133, name: "fchdir", native: 81},
		{nr: 147, name: "getsid", native: 124}, {nr: 148, name: "fdatasync", native: 75}, {nr: 150, name: "mlock", native: 149},
		{nr: 151, name: "munlock", native: 150}, {nr: 152, name: "mlockall", native: 151},
		{nr: 153, name: "munlockall", native: 152}, {nr: 158, name: "sched_yield", native: 24},
		{nr: 183, name: "getcwd", native: 79}, {nr: 199, name: "getuid32", native: 102},
		{nr: 200, name: "getgid32", native: 104}, {nr: 201, name: "geteuid32", native: 107},
		{nr: 202, name: "getegid32", native: 108}, {nr: 203, name: "setreuid32", native: 113},
		{nr: 204, name: "setregid32", native: 114}, {nr: 208, name: "setresuid32", native: 117},
		{nr: 210, name: "setresgid32", native: 119}, {nr: 213, name: "setuid32", native: 105},
		{nr: 214, name: "setgid32", native: 106}, {nr: 215, name: "setfsuid32", native: 122},
		{nr: 216, name: "setfsgid32", native: 123}, {nr: 224, name: "gettid", native: 186},
		{nr: 238, name: "tkill", native: 200}, {nr: 252, name: "exit_group", native: 231},
		{nr: 270, name: "tgkill", native: 234}, {nr: 295, name: "openat", native: 257},
		{nr: 296, name: "mkdirat", native: 258}, {nr: 301, name: "unlinkat", native: 263},
		{nr: 302, name: "renameat", native: 264}, {nr: 303, name: "linkat", native: 265},
		{nr: 304, name: "symlinkat", native: 266}, {nr: 305, name: "readlinkat", native: 267},
		{nr: 306, name: "fchmodat", native: 268}, {nr: 307, name: "faccessat", native: 269},
		{nr: 330, name: "dup3", native: 292}, {nr: 331, name: "pipe2", native: 293},
		{nr: 355, name: "getrandom", native: 318}, {nr: 356, name: "memfd_create", native: 319},
		{nr: 434, name: "pidfd_open", native: 434}, {nr: 436, name: "close_range", native: 436},
		{nr: 439, name: "faccessat2", native: 439},
	}
}

// compatTable builds the i386 table from the x86-64 one.
func compatTable(native *kernel.SyscallTable) *kernel.SyscallTable {
	st := &kernel.SyscallTable{}
	for _, c := range compatEntries() {
		n := native.Entries[c.native]
		s := &st.Entries[c.nr]
		*s = n
		s.Name, s.Native = c.name, c.native
		if c.fn != nil {
			s.Fn = c.fn
		}
		if c.args != "" {
			kinds := strings.Split(c.args, ",")
			s.Widths = widths(kinds)
			s.Format = formatter(kinds)
		}
	}
	return st
}

// uid16 is the 16-bit form of an ID getter: an ID that does not fit is the overflow ID
// 65534 (high2lowuid).
func uid16(get kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
		id, err := get(t, a)
		if err == nil && id > 0xffff {
			id = 65534
		}
		return id, err
	}
}

// Waitpid implements the i386 waitpid(2): wait4 without a resource usage.
func Waitpid(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return Wait4(t, kernel.SyscallArgs{a[0], a[1], a[2], 0})
}
