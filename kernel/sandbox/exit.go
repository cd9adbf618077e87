package sandbox

import (
	"golang.org/x/sys/unix"
)

// The end of a sandbox, seen from the kernel role.
//
// The launcher waited for the kernel process to be reaped before sbx run returned. A
// process's last steps cost far more than its work for a short app: unmapping its ~13 MB
// (exit_mmap, ~1 ms of CPU here), dropping its mount namespace (an expedited RCU grace
// period, 0.1–2 ms), and, for whichever of kernel and gofer closes the sandbox's host
// inotify instances last, freeing their watches (fsnotify_destroy_group waits for an SRCU
// grace period: 5–25 ms here at HZ=250, hundreds under load). That was on every run's
// critical path, once in the kernel's exit and once in the gofer's.
//
// So the kernel ends in this order once the app has exited:
//
//  1. every process of its PID namespace (stub processes, a half-started one) is killed
//     and reaped (reapAll): none outlives the report below, whatever the platform left;
//  2. its standard streams are closed, so that whoever reads the app's output sees its end,
//     and its inotify instances are duplicated onto FDs 0 and 1 (see below);
//  3. it reports the app's exit status on StatusFD (one byte);
//  4. it waits, holding its inotify instances, until the launcher's process exits (having
//     reaped the gofer, whose close of the same instances is then not the last): its end
//     of StatusFD closes, and its death kills the kernel (the kernel's parent-death
//     signal).
//
// The launcher returns without waiting for the kernel's exit, and the kernel's exit starts
// after the launcher's instead of competing with it for the CPU: a process that has
// reaped its last stub and runs no more code but its exit; its memory and empty
// namespaces go on its own time. Its remaining host FDs (the files its caches hold) are
// released first as it exits, before its inotify instances are freed: an exiting process
// releases its files from the highest FD number down, so the instances, held last at FDs
// 0 and 1, keep no host file open through their grace period. Where no status arrives
// (the kernel failed or was killed, or runs without the launcher), the launcher reaps the
// kernel as before.

// statusChannel says whether the launcher gave the kernel a status channel, and keeps the
// platform's children (which the kernel starts after this) from inheriting it.
func statusChannel() bool {
	var st unix.Stat_t
	if unix.Fstat(StatusFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return false
	}
	unix.CloseOnExec(StatusFD)
	return true
}

// reportExit ends the kernel's part in the sandbox (steps 1–4 above) with the app's exit
// status code; inotifyFDs are the host inotify FDs it holds (-1: none). It returns when
// the launcher is gone or closed the channel; the caller then exits. It returns at once, having done nothing, where the kernel is not its PID
// namespace's first process: only there does kill(-1) reach just the sandbox's processes.
func reportExit(code int, inotifyFDs []int) {
	if unix.Getpid() != 1 {
		return
	}
	reapAll()
	for fd := range 3 {
		unix.Close(fd)
	}
	low := 0
	for _, fd := range inotifyFDs {
		if fd >= 0 && low < 3 && unix.Dup3(fd, low, unix.O_CLOEXEC) == nil {
			low++
		}
	}
	b := []byte{byte(code)}
	for {
		_, err := unix.Write(StatusFD, b)
		if err != unix.EINTR {
			if err != nil {
				return
			}
			break
		}
	}
	var buf [1]byte
	for {
		n, err := unix.Read(StatusFD, buf[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return
		}
	}
}

// reapAll kills every other process of the kernel's PID namespace and reaps them all:
// when it returns, the namespace holds the kernel alone. Each round kills again, so a
// process started meanwhile (a stub a task was starting as the app exited) is caught by
// the next. Preconditions: the kernel is the namespace's first process (PID 1), so
// kill(-1) signals nothing outside it.
func reapAll() {
	for {
		unix.Kill(-1, unix.SIGKILL)
		_, err := unix.Wait4(-1, nil, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: none left
			return
		}
	}
}
