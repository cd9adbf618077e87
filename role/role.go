// Package role starts sbx's helper roles, the gofer and the kernel: the sbx binary
// re-executed from /proc/self/exe with a hidden subcommand, in new user, mount, PID,
// network, IPC and UTS namespaces, holding only the FDs the caller names (by FD number,
// with the constants the role's own package declares: gofer.ConfigFD, sandbox.GoferFD, ...)
// and, until it confines itself, only the capabilities the caller lists.
//
// Both roles start the same way, so this is written once. The inside of each role lives
// with it (gofer.RoleMain, kernel/sandbox.RoleMain); this package is the outside.
//
// # Start-up cost
//
// A role must run with an empty capability bounding set: no execve of its may gain a
// capability. Capabilities are per thread, and by the time Go code runs the runtime has
// several threads, so a Go program drops each of the ~41 capabilities on every thread
// (syscall.AllThreadsSyscall: stop the world, signal each thread), which cost 1–9 ms per
// role on a loaded two-core machine. So the launcher first executes a tiny generated
// program (no Go runtime, one thread, see bset.go) that empties the bounding set and then
// executes sbx itself; the role's own drop then finds nothing left to do. Where that
// program cannot run (no memfd exec), the role is started directly and drops the set
// itself, as before.
package role

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// FirstFD is the lowest FD number a role's files may use (0, 1 and 2 are its standard
// streams).
const FirstFD = 3

// Spec describes one helper process.
type Spec struct {
	// Command is the hidden subcommand that runs the role (gofer.Role, "__kernel").
	Command string
	// Name is the role's argv[0], what ps shows ("sbx-gofer").
	Name string
	// Files are the FDs the role inherits, by number (FirstFD and up). Gaps are closed.
	Files map[int]*os.File
	// Stdin, Stdout and Stderr are the role's standard streams (nil: /dev/null).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// UID and GID are the role's IDs inside its user namespace, mapped to the caller's.
	UID, GID int
	// Caps are the capabilities (in its own user namespace) the role keeps until it
	// confines itself; all others are gone, from every set, when it starts.
	Caps []uintptr
}

// Start starts the role and returns as soon as it runs.
func Start(s Spec) (*exec.Cmd, error) {
	nums := make([]int, 0, len(s.Files))
	for n := range s.Files {
		if n < FirstFD {
			return nil, fmt.Errorf("role %s: FD %d is below %d", s.Name, n, FirstFD)
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	last := FirstFD - 1
	if len(nums) > 0 {
		last = nums[len(nums)-1]
	}
	extra := make([]*os.File, last-FirstFD+1)
	for _, n := range nums {
		extra[n-FirstFD] = s.Files[n]
	}
	cmd := func(path string, extra []*os.File) *exec.Cmd {
		c := exec.Command(path, s.Command)
		c.Args[0] = s.Name
		c.Stdin, c.Stdout, c.Stderr = s.Stdin, s.Stdout, s.Stderr
		c.ExtraFiles = extra
		// The Go runtime would otherwise keep cgroup files open to track CPU quota changes.
		c.Env = []string{"GODEBUG=updatemaxprocs=0"}
		uid, gid := os.Getuid(), os.Getgid()
		// Why: each role gets its own user, mount, PID, network, IPC and UTS namespaces;
		// in them it may build and then drop its own root. PID namespace: when the role
		// dies, everything it started dies with it.
		//
		// The user and PID namespaces come with the fork (a process cannot enter a new
		// PID namespace itself); the child, root in its new user namespace, unshares the
		// others before it executes anything. That work (a network namespace is the
		// dearest, a quarter of a millisecond here) is then the child's, done while the
		// launcher forks the other role, instead of the fork's, which the Go runtime
		// serialises (syscall.ForkLock).
		c.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID,
			Unshareflags:               syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: s.UID, HostID: uid, Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: s.GID, HostID: gid, Size: 1}},
			GidMappingsEnableSetgroups: false,
			AmbientCaps:                s.Caps,
			Setsid:                     true,
			Pdeathsig:                  syscall.SIGKILL,
		}
		return c
	}
	// The program and the sbx binary go right after the role's own FDs; the program
	// closes both before sbx runs.
	progFD := FirstFD + len(extra)
	if prog, exe := bsetProgram(progFD); prog != nil {
		c := cmd(fmt.Sprintf("/proc/self/fd/%d", progFD), append(append(append([]*os.File(nil), extra...), prog), exe))
		starting.RLock()
		err := c.Start()
		starting.RUnlock()
		if err == nil {
			return c, nil
		}
		// Not executable here after all (a noexec policy on memfds): start sbx directly.
		disableBsetProgram()
	}
	c := cmd("/proc/self/exe", extra)
	starting.Lock()
	err := c.Start()
	starting.Unlock()
	if err != nil {
		return nil, fmt.Errorf("starting the %s: %w (are unprivileged user namespaces enabled? see /proc/sys/user/max_user_namespaces)", s.Name, err)
	}
	return c, nil
}

// starting keeps a role that starts without the bounding-set program (which closes every
// FD above the role's own) from starting while another role does: Go writes a role's
// uid_map, gid_map and setgroups through FDs it opens without O_CLOEXEC, and runs two
// forks at once, so the other role would inherit them.
var starting sync.RWMutex

var bset struct {
	mu       sync.Mutex
	disabled bool             // protected by mu
	exe      *os.File         // protected by mu; the sbx binary, O_PATH
	progs    map[int]*os.File // protected by mu; by the FD number the program runs at
}

// bsetProgram returns the bounding-set program for a role whose program FD is progFD (a
// sealed memfd) and the sbx binary (an O_PATH FD), made once per process; nil where it
// cannot run.
func bsetProgram(progFD int) (prog, exe *os.File) {
	bset.mu.Lock()
	defer bset.mu.Unlock()
	if bset.disabled {
		return nil, nil
	}
	if bset.exe == nil {
		fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			bset.disabled = true
			return nil, nil
		}
		bset.exe = os.NewFile(uintptr(fd), "sbx")
		bset.progs = make(map[int]*os.File)
	}
	if p := bset.progs[progFD]; p != nil {
		return p, bset.exe
	}
	p, err := makeBsetProgram(progFD, progFD+1)
	if err != nil {
		bset.disabled = true
		return nil, nil
	}
	bset.progs[progFD] = p
	return p, bset.exe
}

// disableBsetProgram makes every later Start execute sbx directly.
func disableBsetProgram() {
	bset.mu.Lock()
	defer bset.mu.Unlock()
	bset.disabled = true
}
