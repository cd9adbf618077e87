package syscalls_test

import (
	"encoding/binary"
	"testing"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// newTestKernel boots a kernel in this process (on the fuzz platform, which runs no app
// code) on a mount namespace whose root is rootIn, and returns its first task, which has
// exec'd tinyELF so that handlers can read arguments from its scratch area.
func newTestKernel(t *testing.T, mf *mm.MemoryFile, rootIn vfs.Inode) *kernel.Task {
	t.Helper()
	ns := vfs.NewNamespace(rootIn, "tmpfs", "two-kernels")
	k := kernel.New(kernel.Config{Platform: &fuzzPlatform{}, MemoryFile: mf, Syscalls: syscalls.Table(), UID: 1000, GID: 1000}, ns)
	root := ns.Root()
	task, err := k.NewInitGroup(root, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Execve(kernel.AtFDCWD, "/exe", []string{"exe"}, nil, true); err != nil {
		t.Fatalf("exec of the test program: %v", err)
	}
	return task
}

// sharedRoot makes one tmpfs holding /exe (tinyELF) and /f, for two kernels to mount as
// their root: the same inodes seen from both, as two sandboxes see one host file.
func sharedRoot(t *testing.T) (*mm.MemoryFile, vfs.Inode) {
	t.Helper()
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Skipf("no memory file: %v", err)
	}
	t.Cleanup(func() { mf.Close() })
	_, rootIn := tmpfs.New(mf, tmpfs.Options{Dev: unix.Mkdev(0, 0x98), Mode: 0o777})
	creds := &vfs.Creds{UID: 1000, EUID: 1000, FSUID: 1000, GID: 1000, EGID: 1000, FSGID: 1000}
	for _, f := range []struct {
		name string
		data []byte
	}{{"exe", tinyELF()}, {"f", []byte("shared")}} {
		_, file, err := rootIn.Create(f.name, unix.O_RDWR, 0o755, creds)
		if err != nil {
			t.Fatal(err)
		}
		fd := vfs.NewAnonFileDescription(file, f.name, unix.O_RDWR)
		_, err = fd.PWrite([][]byte{f.data}, 0)
		fd.DecRef()
		if err != nil {
			t.Fatal(err)
		}
	}
	return mf, rootIn
}

// TestTwoKernelsSideBySide: two kernels in one process share no state. The System V IPC
// objects live in each kernel's IPC namespace, so one key created exclusively in one
// kernel is free in the other; the other tables are TestTwoKernelsLocksNamesInotify's.
func TestTwoKernelsSideBySide(t *testing.T) {
	mf, rootIn := sharedRoot(t)
	a, b := newTestKernel(t, mf, rootIn), newTestKernel(t, mf, rootIn)
	const key = 0x5b5
	const flags = unix.IPC_CREAT | unix.IPC_EXCL | 0o600
	calls := []struct {
		name string
		fn   kernel.SyscallFn
		args kernel.SyscallArgs
	}{
		{"shmget", syscalls.Shmget, kernel.SyscallArgs{key, 4096, flags}},
		{"semget", syscalls.Semget, kernel.SyscallArgs{key, 1, flags}},
		{"msgget", syscalls.Msgget, kernel.SyscallArgs{key, flags}},
	}
	for _, c := range calls {
		for i, task := range []*kernel.Task{a, b} {
			if _, err := c.fn(task, c.args); err != nil {
				t.Errorf("%s(%#x, IPC_CREAT|IPC_EXCL) in kernel %d = %v; want a new object (the key is free in that kernel)", c.name, key, i, err)
			}
		}
		// The same call again in the first kernel: the key is taken there.
		if _, err := c.fn(a, c.args); err != unix.EEXIST {
			t.Errorf("%s(%#x, IPC_CREAT|IPC_EXCL) again = %v; want EEXIST", c.name, key, err)
		}
	}
}

// TestTwoKernelsLocksNamesInotify runs two kernels whose roots are one tmpfs, so both see
// the same inode /f, as two sandboxes see one host file. Each kernel's locks conflict only
// within it (the sandbox model: locks are the kernel's), each has its own AF_UNIX
// abstract names, and an inotify watch in one hears nothing of what the other does.
func TestTwoKernelsLocksNamesInotify(t *testing.T) {
	mf, rootIn := sharedRoot(t)
	a, b := newTestKernel(t, mf, rootIn), newTestKernel(t, mf, rootIn)
	const (
		path   = scratch         // "/f\0"
		flk    = scratch + 0x100 // struct flock
		addr   = scratch + 0x200 // struct sockaddr_un
		events = scratch + 0x400 // inotify events read
	)
	call := func(task *kernel.Task, name string, fn kernel.SyscallFn, args ...uint64) (uint64, error) {
		t.Helper()
		var a kernel.SyscallArgs
		copy(a[:], args)
		return fn(task, a)
	}
	must := func(task *kernel.Task, name string, fn kernel.SyscallFn, args ...uint64) uint64 {
		t.Helper()
		r, err := call(task, name, fn, args...)
		if err != nil {
			t.Fatalf("%s = %v; want success", name, err)
		}
		return r
	}
	cwd := int64(kernel.AtFDCWD)
	atCWD := uint64(cwd)
	fds := map[*kernel.Task]uint64{}
	for _, task := range []*kernel.Task{a, b} {
		if _, err := task.CopyOut(path, []byte("/f\x00")); err != nil {
			t.Fatal(err)
		}
		// struct flock: l_type F_WRLCK, l_whence SEEK_SET, l_start 0, l_len 0 (to EOF).
		flock := make([]byte, 32)
		binary.LittleEndian.PutUint16(flock[0:], unix.F_WRLCK)
		if _, err := task.CopyOut(flk, flock); err != nil {
			t.Fatal(err)
		}
		// struct sockaddr_un: AF_UNIX and the abstract name "\0two-kernels".
		sun := append(binary.LittleEndian.AppendUint16(nil, unix.AF_UNIX), "\x00two-kernels"...)
		if _, err := task.CopyOut(addr, sun); err != nil {
			t.Fatal(err)
		}
		fds[task] = must(task, "open(/f, O_RDWR)", syscalls.Openat, atCWD, path, unix.O_RDWR)
	}
	sunLen := uint64(2 + len("\x00two-kernels"))

	// Kernel a watches /f before anything happens in either kernel.
	ino := must(a, "inotify_init1(IN_NONBLOCK)", syscalls.InotifyInit1, unix.IN_NONBLOCK)
	must(a, "inotify_add_watch(/f, IN_ALL_EVENTS)", syscalls.InotifyAddWatch, ino, path, unix.IN_ALL_EVENTS)

	// Each kernel takes an exclusive flock, a write record lock and one abstract name.
	for i, task := range []*kernel.Task{a, b} {
		fd := fds[task]
		if _, err := call(task, "flock", syscalls.Flock, fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			t.Errorf("flock(/f, LOCK_EX|LOCK_NB) in kernel %d = %v; want success (the other kernel's flock is not this one's)", i, err)
		}
		if _, err := call(task, "fcntl", syscalls.Fcntl, fd, unix.F_SETLK, flk); err != nil {
			t.Errorf("fcntl(/f, F_SETLK, F_WRLCK) in kernel %d = %v; want success (the other kernel's record lock is not this one's)", i, err)
		}
		s := must(task, "socket(AF_UNIX, SOCK_STREAM)", syscalls.Socket, unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if _, err := call(task, "bind", syscalls.Bind, s, addr, sunLen); err != nil {
			t.Errorf("bind(@two-kernels) in kernel %d = %v; want success (the name is free in that kernel)", i, err)
		}
		// The same name again in the same kernel is taken.
		s2 := must(task, "socket(AF_UNIX, SOCK_STREAM)", syscalls.Socket, unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if _, err := call(task, "bind", syscalls.Bind, s2, addr, sunLen); err != unix.EADDRINUSE {
			t.Errorf("bind(@two-kernels) twice in kernel %d = %v; want EADDRINUSE", i, err)
		}
	}
	// Within one kernel the locks do conflict: a second description of /f in b.
	fd2 := must(b, "open(/f, O_RDWR)", syscalls.Openat, atCWD, path, unix.O_RDWR)
	if _, err := call(b, "flock", syscalls.Flock, fd2, unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Errorf("flock(/f, LOCK_EX|LOCK_NB) on a second description in the same kernel = %v; want EWOULDBLOCK", err)
	}

	// Closing /f in kernel b is no event for kernel a's watch; closing it in a is.
	must(b, "close", syscalls.Close, fds[b])
	must(b, "close", syscalls.Close, fd2)
	if n, err := call(a, "read", syscalls.Read, ino, events, 4096); err != unix.EAGAIN {
		t.Errorf("read(inotify) in kernel a after kernel b closed /f = %d, %v; want EAGAIN (no event from the other kernel)", n, err)
	}
	must(a, "close", syscalls.Close, fds[a])
	n, err := call(a, "read", syscalls.Read, ino, events, 4096)
	if err != nil || n < 16 {
		t.Fatalf("read(inotify) in kernel a after closing /f there = %d, %v; want an IN_CLOSE_WRITE event", n, err)
	}
	ev := make([]byte, 16)
	if _, err := a.CopyIn(events, ev); err != nil {
		t.Fatal(err)
	}
	if mask := binary.LittleEndian.Uint32(ev[4:]); mask&unix.IN_CLOSE_WRITE == 0 {
		t.Errorf("kernel a's event mask = %#x; want IN_CLOSE_WRITE", mask)
	}
}
