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
	args    string // strace argument kinds: d=int, x=hex, p=path, f=fd, o=open flags, s=string
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
		sup(0, Read, "f,x,d"), sup(1, Write, "f,x,d"), sup(2, Open, "p,o,x"), sup(3, Close, "f"),
		sup(4, Stat, "p,x"), sup(5, Fstat, "f,x"), sup(6, Lstat, "p,x"), sup(7, Poll, "x,d,d"),
		sup(8, Lseek, "f,d,d"), sup(9, Mmap, "x,d,x,x,f,x"), sup(10, Mprotect, "x,d,x"), sup(11, Munmap, "x,d"),
		sup(12, Brk, "x"), sup(13, RtSigaction, "d,x,x,d"),
		sup(14, RtSigprocmask, "d,x,x,d"), sup(15, RtSigreturn, ""), sup(34, Pause, ""),
		sup(127, RtSigpending, "x,d"), sup(130, RtSigsuspend, "x,d"), sup(16, Ioctl, "f,x,x"),
		sup(17, Pread64, "f,x,d,d"), sup(18, Pwrite64, "f,x,d,d"), sup(19, Readv, "f,x,d"), sup(20, Writev, "f,x,d"),
		sup(21, Access, "p,d"), sup(22, Pipe, "x"), sup(23, Select, "d,x,x,x,x"), sup(24, SchedYield, ""),
		sup(25, Mremap, "x,d,d,x,x"), sup(26, Msync, "x,d,x"), sup(27, Mincore, "x,d,x"), sup(28, Madvise, "x,d,d"),
		sup(32, Dup, "f"), sup(33, Dup2, "f,f"), sup(35, Nanosleep, "x,x"),
		sup(39, Getpid, ""), sup(56, Clone, "x,x,x,x,x"), sup(57, Fork, ""), sup(58, Vfork, ""),
		sup(59, Execve, "p,x,x"), sup(60, Exit, "d"), partial(61, Wait4, "d,x,x,x", "rusage has CPU times only"),
		sup(247, Waitid, "d,d,x,x,x"), partial(435, Clone3, "x,d", "no set_tid"),
		sup(62, Kill, "d,d"), sup(63, Uname, "x"), sup(72, Fcntl, "f,d,x"),
		partial(73, Flock, "f,d", "locks conflict within the sandbox only"), sup(74, Fsync, "f"), sup(75, Fsync, "f"),
		sup(76, Truncate, "p,d"), sup(77, Ftruncate, "f,d"), sup(78, Getdents64, "f,x,d"), sup(79, Getcwd, "x,d"),
		sup(80, Chdir, "p"), sup(81, Fchdir, "f"), sup(82, Rename, "p,p"), sup(83, Mkdir, "p,x"), sup(84, Rmdir, "p"),
		sup(85, Creat, "p,x"), sup(86, Link, "p,p"), sup(87, Unlink, "p"), sup(88, Symlink, "p,p"),
		sup(89, Readlink, "p,x,d"), sup(90, Chmod, "p,x"), sup(91, Fchmod, "f,x"), sup(92, Chown, "p,d,d"),
		sup(93, Fchown, "f,d,d"), sup(94, Lchown, "p,d,d"), sup(95, Umask, "x"), sup(96, Gettimeofday, "x,x"),
		sup(97, Getrlimit, "d,x"), sup(98, Getrusage, "d,x"), sup(99, Sysinfo, "x"), sup(100, Times, "x"),
		refuse(101, unix.EPERM, "ptrace inside the sandbox is not supported"),
		sup(102, Getuid, ""), sup(104, Getgid, ""), sup(105, Setuid, "d"), sup(106, Setgid, "d"),
		sup(107, Geteuid, ""), sup(108, Getegid, ""), sup(109, Setpgid, "d,d"), sup(110, Getppid, ""),
		sup(111, Getpgrp, ""), sup(112, Setsid, ""), sup(113, Setreuid, "d,d"), sup(114, Setregid, "d,d"),
		sup(115, Getgroups, "d,x"), sup(116, Setgroups, "d,x"), sup(117, Setresuid, "d,d,d"), sup(118, Getresuid, "x,x,x"),
		sup(119, Setresgid, "d,d,d"), sup(120, Getresgid, "x,x,x"), sup(121, Getpgid, "d"), sup(122, Setfsuid, "d"),
		sup(123, Setfsgid, "d"), sup(124, Getsid, "d"), sup(131, Sigaltstack, "x,x"),
		sup(133, Mknod, "p,x,x"), sup(135, Personality, "x"), sup(137, Statfs, "p,x"), sup(138, Fstatfs, "f,x"),
		sup(149, Mlock, "x,d"), sup(150, Mlock, "x,d"), sup(151, Mlockall, "x"), sup(152, Mlockall, ""),
		sup(157, Prctl, "d,x,x,x,x"), sup(158, ArchPrctl, "x,x"), sup(162, Sync, ""),
		sup(186, Gettid, ""), sup(200, Tkill, "d,d"), sup(201, Time, "x"), sup(202, Futex, "x,d,d,x,x,d"),
		sup(203, SchedSetaffinity, "d,d,x"), sup(204, SchedGetaffinity, "d,d,x"),
		sup(217, Getdents64, "f,x,d"), sup(218, SetTidAddress, "x"), sup(228, ClockGettime, "d,x"),
		sup(229, ClockGetres, "d,x"), sup(230, ClockNanosleep, "d,x,x,x"), sup(231, ExitGroup, "d"),
		sup(234, Tgkill, "d,d,d"), sup(257, Openat, "f,p,o,x"), sup(258, Mkdirat, "f,p,x"),
		sup(259, Mknodat, "f,p,x,x"), sup(260, Fchownat, "f,p,d,d,x"), sup(262, Newfstatat, "f,p,x,x"),
		sup(263, Unlinkat, "f,p,x"), sup(264, Renameat, "f,p,f,p"), sup(265, Linkat, "f,p,f,p,x"),
		sup(266, Symlinkat, "p,f,p"), sup(267, Readlinkat, "f,p,x,d"), sup(268, Fchmodat, "f,p,x"),
		sup(269, Faccessat, "f,p,d"), sup(270, Pselect6, "d,x,x,x,x,x"), sup(271, Ppoll, "x,d,x,x,d"),
		sup(273, SetRobustList, "x,d"), sup(274, GetRobustList, "d,x,x"), sup(280, Utimensat, "f,p,x,x"),
		sup(285, Fallocate, "f,x,d,d"), sup(292, Dup3, "f,f,x"), sup(293, Pipe2, "x,x"),
		sup(295, Preadv, "f,x,d,d"), sup(296, Pwritev, "f,x,d,d"), sup(302, Prlimit64, "d,d,x,x"),
		sup(306, Syncfs, "f"), sup(309, Getcpu, "x,x,x"), sup(316, Renameat2, "f,p,f,p,x"),
		sup(318, Getrandom, "x,d,x"), sup(319, MemfdCreate, "s,x"), sup(322, Execveat, "f,p,x,x,x"),
		sup(325, Mlock, "x,d,x"), sup(327, Preadv2, "f,x,d,d,x"), sup(328, Pwritev2, "f,x,d,d,x"),
		sup(332, Statx, "f,p,x,x,x"), refuse(334, unix.ENOSYS, "rseq is not offered; glibc falls back"),
		sup(436, CloseRange, "d,d,x"), sup(437, Openat2, "f,p,x,d"), sup(439, Faccessat2, "f,p,d,x"),
		sup(452, Fchmodat2, "f,p,x,x"),
		partial(188, Setxattr, "p,s,x,d,x", "user.* on host files; none on in-memory files"),
		partial(189, Lsetxattr, "p,s,x,d,x", "user.* on host files"), partial(190, Fsetxattr, "f,s,x,d,x", "user.* on host files"),
		sup(191, Getxattr, "p,s,x,d"), sup(192, Lgetxattr, "p,s,x,d"), sup(193, Fgetxattr, "f,s,x,d"),
		sup(194, Listxattr, "p,x,d"), sup(195, Llistxattr, "p,x,d"), sup(196, Flistxattr, "f,x,d"),
		partial(221, Fadvise64, "f,d,d,d", "advice is validated and accepted"),
		partial(41, Socket, "d,x,d", "AF_UNIX only"), partial(42, Connect, "f,x,d", "to host sockets the profile allows (socket broker)"),
		sup(44, Sendto, "f,x,d,x,x,d"), sup(45, Recvfrom, "f,x,d,x,x,x"),
		partial(46, Sendmsg, "f,x,x", "SCM_RIGHTS between sockets inside the sandbox only; SCM_CREDENTIALS is ignored"), partial(47, Recvmsg, "f,x,x", "SCM_RIGHTS from sockets inside the sandbox; no SCM_CREDENTIALS"),
		sup(48, Shutdown, "f,d"), sup(51, Getsockname, "f,x,x"), sup(52, Getpeername, "f,x,x"),
		partial(53, Socketpair, "d,x,d,x", "AF_UNIX"), partial(54, Setsockopt, "f,d,d,x,d", "common SOL_SOCKET options"),
		partial(55, Getsockopt, "f,d,d,x,x", "common SOL_SOCKET options"),
		sup(284, Eventfd, "d"), sup(290, Eventfd2, "d,x"), sup(283, TimerfdCreate, "d,x"),
		sup(286, TimerfdSettime, "f,x,x,x"), sup(287, TimerfdGettime, "f,x"),
		sup(213, EpollCreate, "d"), sup(291, EpollCreate1, "x"),
		partial(233, EpollCtl, "f,d,f,x", "edge-triggered on host files (terminal, brokered sockets) is reported level-triggered"),
		sup(160, Setrlimit, "d,x"), sup(140, Getpriority, "d,d"), sup(141, Setpriority, "d,d,d"),
		sup(142, SchedSetparam, "d,x"), sup(143, SchedGetparam, "d,x"), sup(144, SchedSetscheduler, "d,d,x"),
		sup(145, SchedGetscheduler, "d"), sup(146, SchedGetPriorityMax, "d"), sup(147, SchedGetPriorityMin, "d"),
		partial(324, Membarrier, "d,x,d", "the query answers that no command is offered"),
		sup(187, Readahead, "f,d,d"), sup(277, SyncFileRange, "f,d,d,x"), sup(37, Alarm, "d"),
		partial(36, Getitimer, "d,x", "ITIMER_REAL; the CPU-time timers read as disarmed"),
		partial(38, Setitimer, "d,x,x", "ITIMER_REAL; arming ITIMER_VIRTUAL or ITIMER_PROF gives ENOSYS"),
		sup(40, Sendfile, "f,f,x,d"), sup(326, CopyFileRange, "f,x,f,x,d,x"),
		sup(128, RtSigtimedwait, "x,x,x,d"),
		partial(282, Signalfd, "f,x,d", "reads the signals of the process that created it"),
		partial(289, Signalfd4, "f,x,d,x", "reads the signals of the process that created it"),
		partial(129, RtSigqueueinfo, "d,d,x", "at most 4096 instances of one real-time signal queue; more are dropped, not refused with EAGAIN"),
		partial(297, RtTgsigqueueinfo, "d,d,d,x", "as rt_sigqueueinfo"),
		sup(49, Bind, "f,x,d"), sup(50, Listen, "f,d"), sup(43, Accept, "f,x,x"), sup(288, Accept4, "f,x,x,x"),
		sup(235, Utimes, "p,x"), sup(261, Futimesat, "f,p,x"), sup(132, Utime, "p,x"), sup(125, Capget, "x,x"),
		partial(222, TimerCreate, "d,x,x", "CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME; CPU-time clocks give EINVAL"),
		sup(223, TimerSettime, "d,x,x,x"), sup(224, TimerGettime, "d,x"), sup(225, TimerGetoverrun, "d"),
		sup(226, TimerDelete, "d"),
		sup(434, PidfdOpen, "d,x"), sup(424, PidfdSendSignal, "f,d,x,x"),
		sup(29, Shmget, "x,d,x"), sup(30, Shmat, "d,x,x"), sup(67, Shmdt, "x"),
		partial(31, Shmctl, "d,d,x", "shm_nattch counts attachments made by shmat; a fork's inherited one is not counted again"),
		sup(64, Semget, "x,d,x"), sup(65, Semop, "d,x,d"), sup(220, Semtimedop, "d,x,d,x"), sup(66, Semctl, "d,d,d,x"),
		sup(68, Msgget, "x,x"), sup(69, Msgsnd, "d,x,d,x"), partial(70, Msgrcv, "d,x,d,d,x", "no MSG_COPY"),
		sup(71, Msgctl, "d,d,x"),
		sup(307, Sendmmsg, "f,x,d,x"), sup(299, Recvmmsg, "f,x,d,x,x"),
		sup(275, Splice, "f,x,f,x,d,x"), sup(276, Tee, "f,f,d,x"), sup(278, Vmsplice, "f,x,d,x"),
		sup(232, EpollWait, "f,x,d,d"), sup(281, EpollPwait, "f,x,d,d,x,d"), sup(441, EpollPwait2, "f,x,d,x,x,d"),
	}
}

// Table builds the syscall table.
func Table() *kernel.SyscallTable {
	st := &kernel.SyscallTable{}
	for nr, name := range names {
		if nr < kernel.MaxSyscall {
			st.Entries[nr].Name = name
		}
	}
	for _, e := range notifyEntries(append(entries(), desktopEntries()...)) {
		s := &st.Entries[e.nr]
		s.Fn, s.Support, s.Note = e.fn, e.support, e.note
		if e.args != "" {
			s.Format = formatter(strings.Split(e.args, ","))
		} else {
			s.Format = func(*kernel.Task, kernel.SyscallArgs) string { return "" }
		}
	}
	return st
}

func formatter(kinds []string) func(t *kernel.Task, a kernel.SyscallArgs) string {
	return func(t *kernel.Task, a kernel.SyscallArgs) string {
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			v := a[i]
			switch k {
			case "d":
				parts[i] = fmt.Sprint(int64(v))
			case "f":
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
	return b.String()
}
