package syscalls

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

type entry struct {
	nr      uint64
	fn      kernel.SyscallFn
	support kernel.Support
	note    string
	// args gives each argument's C type, for decoding (kernel.Syscall.Widths) and --strace.
	// 64-bit: d=long/off_t/size_t, x=unsigned long or pointer, p=path, s=string. 32-bit
	// (the register's upper half is ignored): i=int, f=int fd, o=int open flags,
	// u=unsigned int, h=unsigned int flags, F=unsigned int fd. 16-bit: m=umode_t.
	args string
}

func sup(nr uint64, fn kernel.SyscallFn, args string) entry {
	return entry{nr: nr, fn: fn, support: kernel.Supported, args: args}
}

func partial(nr uint64, fn kernel.SyscallFn, args, note string) entry {
	return entry{nr: nr, fn: fn, support: kernel.Partial, note: note, args: args}
}

func refuse(nr uint64, errno unix.Errno, note string) entry {
	return entry{nr: nr, fn: func(*kernel.Task, kernel.SyscallArgs) (uint64, error) { return 0, errno },
		support: kernel.Refused, note: note}
}

func entries() []entry {
	return []entry{
		sup(0, Read, "F,x,d"), sup(1, Write, "F,x,d"), sup(2, Open, "p,o,m"), sup(3, Close, "F"),
		sup(4, Stat, "p,x"), sup(5, Fstat, "F,x"), sup(6, Lstat, "p,x"), sup(7, Poll, "x,u,i"),
		sup(8, Lseek, "F,d,u"), sup(9, Mmap, "x,d,x,x,f,x"), sup(10, Mprotect, "x,d,x"), sup(11, Munmap, "x,d"),
		sup(12, Brk, "x"), sup(13, RtSigaction, "i,x,x,d"),
		sup(14, RtSigprocmask, "i,x,x,d"), sup(15, RtSigreturn, ""), sup(34, Pause, ""),
		sup(127, RtSigpending, "x,d"), sup(130, RtSigsuspend, "x,d"), sup(16, Ioctl, "F,h,x"),
		sup(17, Pread64, "F,x,d,d"), sup(18, Pwrite64, "F,x,d,d"), sup(19, Readv, "f,x,d"), sup(20, Writev, "f,x,d"),
		sup(21, Access, "p,i"), sup(22, Pipe, "x"), sup(23, Select, "i,x,x,x,x"), sup(24, SchedYield, ""),
		sup(25, Mremap, "x,d,d,x,x"), sup(26, Msync, "x,d,i"), sup(27, Mincore, "x,d,x"), sup(28, Madvise, "x,d,i"),
		sup(32, Dup, "F"), sup(33, Dup2, "F,F"), sup(35, Nanosleep, "x,x"),
		sup(39, Getpid, ""), sup(56, Clone, "x,x,x,x,x"), sup(57, Fork, ""), sup(58, Vfork, ""),
		sup(59, Execve, "p,x,x"), sup(60, Exit, "i"), partial(61, Wait4, "i,x,i,x", "rusage has CPU times only"),
		sup(247, Waitid, "i,i,x,i,x"), partial(435, Clone3, "x,d", "no set_tid"),
		sup(62, Kill, "i,i"), sup(63, Uname, "x"), sup(72, Fcntl, "F,u,x"),
		partial(73, Flock, "F,u", "locks conflict within the sandbox only"), sup(74, Fsync, "F"), sup(75, Fsync, "F"),
		sup(76, Truncate, "p,d"), sup(77, Ftruncate, "F,d"), sup(78, Getdents64, "F,x,u"), sup(79, Getcwd, "x,d"),
		sup(80, Chdir, "p"), sup(81, Fchdir, "F"), sup(82, Rename, "p,p"), sup(83, Mkdir, "p,m"), sup(84, Rmdir, "p"),
		sup(85, Creat, "p,m"), sup(86, Link, "p,p"), sup(87, Unlink, "p"), sup(88, Symlink, "p,p"),
		sup(89, Readlink, "p,x,i"), sup(90, Chmod, "p,m"), sup(91, Fchmod, "F,m"), sup(92, Chown, "p,u,u"),
		sup(93, Fchown, "F,u,u"), sup(94, Lchown, "p,u,u"), sup(95, Umask, "i"), sup(96, Gettimeofday, "x,x"),
		sup(97, Getrlimit, "u,x"), sup(98, Getrusage, "i,x"), sup(99, Sysinfo, "x"), sup(100, Times, "x"),
		refuse(101, unix.EPERM, "ptrace inside the sandbox is not supported"),
		sup(102, Getuid, ""), sup(104, Getgid, ""), sup(105, Setuid, "u"), sup(106, Setgid, "u"),
		sup(107, Geteuid, ""), sup(108, Getegid, ""), sup(109, Setpgid, "i,i"), sup(110, Getppid, ""),
		sup(111, Getpgrp, ""), sup(112, Setsid, ""), sup(113, Setreuid, "u,u"), sup(114, Setregid, "u,u"),
		sup(115, Getgroups, "i,x"), sup(116, Setgroups, "i,x"), sup(117, Setresuid, "u,u,u"), sup(118, Getresuid, "x,x,x"),
		sup(119, Setresgid, "u,u,u"), sup(120, Getresgid, "x,x,x"), sup(121, Getpgid, "i"), sup(122, Setfsuid, "u"),
		sup(123, Setfsgid, "u"), sup(124, Getsid, "i"), sup(131, Sigaltstack, "x,x"),
		sup(133, Mknod, "p,m,h"), sup(135, Personality, "h"), sup(137, Statfs, "p,x"), sup(138, Fstatfs, "F,x"),
		sup(149, Mlock, "x,d"), sup(150, Munlock, "x,d"), sup(151, Mlockall, "i"), sup(152, Munlockall, ""),
		sup(157, Prctl, "i,x,x,x,x"), sup(158, ArchPrctl, "i,x"), sup(162, Sync, ""),
		sup(186, Gettid, ""), sup(200, Tkill, "i,i"), sup(201, Time, "x"), sup(202, Futex, "x,i,u,x,x,u"),
		sup(203, SchedSetaffinity, "i,u,x"), sup(204, SchedGetaffinity, "i,u,x"),
		sup(217, Getdents64, "F,x,u"), sup(218, SetTidAddress, "x"), sup(228, ClockGettime, "i,x"),
		sup(229, ClockGetres, "i,x"), sup(230, ClockNanosleep, "i,i,x,x"), sup(231, ExitGroup, "i"),
		sup(234, Tgkill, "i,i,i"), sup(257, Openat, "f,p,o,m"), sup(258, Mkdirat, "f,p,m"),
		sup(259, Mknodat, "f,p,m,h"), sup(260, Fchownat, "f,p,u,u,i"), sup(262, Newfstatat, "f,p,x,i"),
		sup(263, Unlinkat, "f,p,i"), sup(264, Renameat, "f,p,f,p"), sup(265, Linkat, "f,p,f,p,i"),
		sup(266, Symlinkat, "p,f,p"), sup(267, Readlinkat, "f,p,x,i"), sup(268, Fchmodat, "f,p,m"),
		sup(269, Faccessat, "f,p,i"), sup(270, Pselect6, "i,x,x,x,x,x"), sup(271, Ppoll, "x,u,x,x,d"),
		sup(273, SetRobustList, "x,d"), sup(274, GetRobustList, "i,x,x"), sup(280, Utimensat, "f,p,x,i"),
		sup(285, Fallocate, "f,i,d,d"), sup(292, Dup3, "F,F,i"), sup(293, Pipe2, "x,i"),
		sup(295, Preadv, "f,x,d,d,x"), sup(296, Pwritev, "f,x,d,d,x"), sup(302, Prlimit64, "i,u,x,x"),
		sup(306, Syncfs, "f"), sup(309, Getcpu, "x,x,x"), sup(316, Renameat2, "f,p,f,p,h"),
		sup(318, Getrandom, "x,d,h"), sup(319, MemfdCreate, "s,h"), sup(322, Execveat, "f,p,x,x,i"),
		sup(325, Mlock2, "x,d,i"), sup(327, Preadv2, "f,x,d,d,x,i"), sup(328, Pwritev2, "f,x,d,d,x,i"),
		sup(332, Statx, "f,p,h,h,x"), refuse(334, unix.ENOSYS, "rseq is not offered; glibc falls back"),
		sup(436, CloseRange, "u,u,h"), sup(437, Openat2, "f,p,x,d"), sup(439, Faccessat2, "f,p,i,i"),
		sup(452, Fchmodat2, "f,p,m,h"),
		partial(188, Setxattr, "p,s,x,d,i", "user.* on host files; user.*, trusted.* and security.* on tmpfs; POSIX ACLs equal to the mode bits (a chmod), no extended ACLs"),
		partial(189, Lsetxattr, "p,s,x,d,i", "as setxattr"), partial(190, Fsetxattr, "f,s,x,d,i", "as setxattr"),
		sup(191, Getxattr, "p,s,x,d"), sup(192, Lgetxattr, "p,s,x,d"), sup(193, Fgetxattr, "f,s,x,d"),
		sup(194, Listxattr, "p,x,d"), sup(195, Llistxattr, "p,x,d"), sup(196, Flistxattr, "f,x,d"),
		partial(221, Fadvise64, "f,d,d,i", "advice is validated and accepted"),
		partial(41, Socket, "i,i,i", "AF_UNIX, AF_INET, AF_INET6 (TCP and UDP through the net broker); raw and packet sockets EPERM"), partial(42, Connect, "f,x,i", "AF_UNIX host sockets through the socket broker; AF_INET/AF_INET6 through the net broker, which applies [network]"),
		sup(44, Sendto, "f,x,d,h,x,i"), sup(45, Recvfrom, "f,x,d,h,x,x"),
		partial(46, Sendmsg, "f,x,h", "SCM_RIGHTS and SCM_CREDENTIALS inside the sandbox; to host peers only files with a host FD (and pumped pipes)"), partial(47, Recvmsg, "f,x,h", "SCM_RIGHTS inside the sandbox and from host peers (as host files); SCM_CREDENTIALS (SO_PASSCRED) from peers inside the sandbox"),
		sup(48, Shutdown, "f,i"), sup(51, Getsockname, "f,x,x"), sup(52, Getpeername, "f,x,x"),
		partial(53, Socketpair, "i,i,i,x", "AF_UNIX"), partial(54, Setsockopt, "f,i,i,x,i", "common SOL_SOCKET options"),
		partial(55, Getsockopt, "f,i,i,x,x", "common SOL_SOCKET options"),
		sup(284, Eventfd, "u"), sup(290, Eventfd2, "u,i"), sup(283, TimerfdCreate, "i,i"),
		sup(286, TimerfdSettime, "f,i,x,x"), sup(287, TimerfdGettime, "f,x"),
		sup(213, EpollCreate, "i"), sup(291, EpollCreate1, "i"),
		sup(233, EpollCtl, "f,i,f,x"),
		sup(160, Setrlimit, "u,x"), sup(140, Getpriority, "i,i"), sup(141, Setpriority, "i,i,i"),
		sup(142, SchedSetparam, "i,x"), sup(143, SchedGetparam, "i,x"), sup(144, SchedSetscheduler, "i,i,x"),
		sup(145, SchedGetscheduler, "i"), sup(146, SchedGetPriorityMax, "i"), sup(147, SchedGetPriorityMin, "i"),
		partial(324, Membarrier, "i,h,i", "the query answers that no command is offered"),
		sup(187, Readahead, "f,d,d"), sup(277, SyncFileRange, "f,d,d,h"), sup(37, Alarm, "u"),
		sup(36, Getitimer, "i,x"), sup(38, Setitimer, "i,x,x"),
		sup(40, Sendfile, "f,f,x,d"), sup(326, CopyFileRange, "f,x,f,x,d,h"),
		sup(128, RtSigtimedwait, "x,x,x,d"),
		partial(282, Signalfd, "f,x,d", "reads the signals of the process that created it"),
		partial(289, Signalfd4, "f,x,d,i", "reads the signals of the process that created it"),
		partial(129, RtSigqueueinfo, "i,i,x", "at most 4096 instances of one real-time signal queue; more are dropped, not refused with EAGAIN"),
		partial(297, RtTgsigqueueinfo, "i,i,i,x", "as rt_sigqueueinfo"),
		sup(49, Bind, "f,x,i"), sup(50, Listen, "f,i"), sup(43, Accept, "f,x,x"), sup(288, Accept4, "f,x,x,i"),
		sup(235, Utimes, "p,x"), sup(261, Futimesat, "f,p,x"), sup(132, Utime, "p,x"), sup(125, Capget, "x,x"),
		partial(222, TimerCreate, "i,x,x", "CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME; CPU-time clocks give EINVAL"),
		sup(223, TimerSettime, "i,i,x,x"), sup(224, TimerGettime, "i,x"), sup(225, TimerGetoverrun, "i"),
		sup(226, TimerDelete, "i"),
		sup(434, PidfdOpen, "i,h"), sup(424, PidfdSendSignal, "f,i,x,h"),
		sup(29, Shmget, "i,d,i"), sup(30, Shmat, "i,x,i"), sup(67, Shmdt, "x"),
		sup(31, Shmctl, "i,i,x"),
		sup(64, Semget, "i,i,i"), sup(65, Semop, "i,x,u"), sup(220, Semtimedop, "i,x,u,x"), sup(66, Semctl, "i,i,i,x"),
		sup(68, Msgget, "i,i"), sup(69, Msgsnd, "i,x,d,i"), sup(70, Msgrcv, "i,x,d,d,i"),
		sup(71, Msgctl, "i,i,x"),
		sup(307, Sendmmsg, "f,x,u,h"), sup(299, Recvmmsg, "f,x,u,h,x"),
		sup(275, Splice, "f,x,f,x,d,h"), sup(276, Tee, "f,f,d,h"), sup(278, Vmsplice, "f,x,d,h"),
		sup(232, EpollWait, "f,x,i,i"), sup(281, EpollPwait, "f,x,i,i,x,d"), sup(441, EpollPwait2, "f,x,i,x,x,d"),
	}
}

// entryLists are every list of table entries: Table builds from them and
// TestOneEntryPerNumber checks them, so a list added here is checked too.
func entryLists() [][]entry {
	return [][]entry{entries(), confEntries(), netEntries(), desktopEntries(), browserEntries(), conf2Entries(), mountEntries(), newMountEntries(), conffsEntries(), procEntries()}
}

// Table builds the syscall table.
func Table() *kernel.SyscallTable {
	st := &kernel.SyscallTable{}
	for nr, name := range names {
		if nr < kernel.MaxSyscall {
			st.Entries[nr].Name = name
		}
	}
	var all []entry
	for _, list := range entryLists() {
		all = append(all, list...)
	}
	// Why last: the file-changing calls get their inotify events around whichever
	// handler the lists above settled on.
	for _, e := range notifyEntries(all) {
		s := &st.Entries[e.nr]
		s.Fn, s.Support, s.Note = e.fn, e.support, e.note
		if e.args != "" {
			kinds := strings.Split(e.args, ",")
			s.Widths = widths(kinds)
			s.Format = formatter(kinds)
		} else {
			s.Format = func(*kernel.Task, kernel.SyscallArgs) string { return "" }
		}
	}
	st.Compat = compatTable(st)
	return st
}

// widths maps argument kinds to the widths the kernel decodes them with.
func widths(kinds []string) [6]kernel.ArgWidth {
	var w [6]kernel.ArgWidth
	for i, k := range kinds {
		switch k {
		case "i", "f", "o":
			w[i] = kernel.Int32
		case "u", "h", "F":
			w[i] = kernel.Uint32
		case "m":
			w[i] = kernel.Uint16
		}
	}
	return w
}

func formatter(kinds []string) func(t *kernel.Task, a kernel.SyscallArgs) string {
	return func(t *kernel.Task, a kernel.SyscallArgs) string {
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			v := a[i]
			switch k {
			case "d":
				parts[i] = fmt.Sprint(int64(v))
			case "i":
				parts[i] = fmt.Sprint(int32(v))
			case "u":
				parts[i] = fmt.Sprint(uint32(v))
			case "h":
				parts[i] = fmt.Sprintf("%#x", uint32(v))
			case "m":
				parts[i] = fmt.Sprintf("%#o", uint16(v))
			case "f", "F":
				if int32(v) == kernel.AtFDCWD {
					parts[i] = "AT_FDCWD"
				} else {
					parts[i] = fmt.Sprint(int32(v))
				}
			case "p", "s":
				if v == 0 {
					parts[i] = "NULL"
					break
				}
				s, err := t.CopyInString(v, 256)
				if err != nil {
					parts[i] = fmt.Sprintf("%#x", v)
				} else {
					parts[i] = fmt.Sprintf("%q", s)
				}
			case "o":
				parts[i] = openFlagString(v)
			default:
				parts[i] = fmt.Sprintf("%#x", v)
			}
		}
		return strings.Join(parts, ", ")
	}
}

func openFlagString(v uint64) string {
	var out []string
	switch v & unix.O_ACCMODE {
	case unix.O_RDONLY:
		out = append(out, "O_RDONLY")
	case unix.O_WRONLY:
		out = append(out, "O_WRONLY")
	default:
		out = append(out, "O_RDWR")
	}
	for _, f := range []struct {
		bit  uint64
		name string
	}{{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"},
		{unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_NOFOLLOW, "O_NOFOLLOW"},
		{unix.O_CLOEXEC, "O_CLOEXEC"}, {unix.O_PATH, "O_PATH"}, {unix.O_NOCTTY, "O_NOCTTY"}} {
		if v&f.bit == f.bit {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, "|")
}

// Doc renders docs/syscalls.md from the table.
func Doc(st *kernel.SyscallTable) string {
	var b strings.Builder
	b.WriteString("# Syscall compatibility\n\nGenerated from the kernel's syscall table (`go run ./kernel/syscalls/gendoc`); a test fails when it drifts.\nEvery syscall not listed as supported returns `ENOSYS` inside the sandbox, is counted and logged once; none is ever passed to the host.\n\n")
	b.WriteString("| nr | name | support | note |\n|---:|---|---|---|\n")
	var nrs []int
	for nr := range st.Entries {
		if st.Entries[nr].Name != "" {
			nrs = append(nrs, nr)
		}
	}
	sort.Ints(nrs)
	counts := map[kernel.Support]int{}
	for _, nr := range nrs {
		e := st.Entries[nr]
		counts[e.Support]++
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", nr, e.Name, e.Support, e.Note)
	}
	fmt.Fprintf(&b, "\n%d supported, %d partial, %d refused on purpose, %d missing.\n",
		counts[kernel.Supported], counts[kernel.Partial], counts[kernel.Refused], counts[kernel.Missing])
	if st.Compat != nil {
		b.WriteString("\n## i386 calls through int 0x80\n\nA 64-bit program that executes `int 0x80` makes the i386 system call numbered eax, with ebx, ecx, edx, esi, edi and ebp as 32-bit arguments, as on Linux with IA32 emulation. These i386 calls run as the x86-64 call named; every other i386 number returns `ENOSYS` (the i386 calls with structures of their own: stat64, 32-bit time and iovec layouts, sigaction, socketcall, ipc, execve, mmap2).\n\n| i386 nr | name | runs as | support |\n|---:|---|---|---|\n")
		for nr := range st.Compat.Entries {
			if e := st.Compat.Entries[nr]; e.Fn != nil {
				fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", nr, e.Name, st.Name(e.Native), e.Support)
			}
		}
	}
	return b.String()
}
