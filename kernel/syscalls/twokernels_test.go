package syscalls_test

import (
	"testing"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// newTestKernel boots a kernel in this process (on the fuzz platform, which runs no app
// code) and returns its first task, for calling handlers directly.
func newTestKernel(t *testing.T) *kernel.Task {
	t.Helper()
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Skipf("no memory file: %v", err)
	}
	t.Cleanup(func() { mf.Close() })
	_, rootIn := tmpfs.New(mf, tmpfs.Options{Dev: unix.Mkdev(0, 0x98), Mode: 0o777})
	ns := vfs.NewNamespace(rootIn, "tmpfs", "two-kernels")
	k := kernel.New(kernel.Config{Platform: &fuzzPlatform{}, MemoryFile: mf, Syscalls: syscalls.Table(), UID: 1000, GID: 1000}, ns)
	root := ns.Root()
	task, err := k.NewInitGroup(root, root)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// TestTwoKernelsSideBySide: two kernels in one process share no state. The System V IPC
// objects live in each kernel's IPC namespace, so one key created exclusively in one
// kernel is free in the other.
func TestTwoKernelsSideBySide(t *testing.T) {
	a, b := newTestKernel(t), newTestKernel(t)
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
