package kernel

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/vfs"
)

// fsContext is a process's root, working directory and umask (Linux's fs_struct): one per
// process, or one shared by the processes clone(CLONE_FS) made until one of them unshares
// it. Lock order: ThreadGroup.mu before fsContext.mu.
type fsContext struct {
	mu        sync.Mutex
	root, cwd vfs.VirtualDentry // protected by mu
	umask     uint32            // protected by mu
}

// share returns f itself for CLONE_FS, else a copy.
func (f *fsContext) share(shared bool) *fsContext {
	if shared {
		return f
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &fsContext{root: f.root, cwd: f.cwd, umask: f.umask}
}

func (f *fsContext) umaskValue() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// fsCtx returns the process's fs context.
func (tg *ThreadGroup) fsCtx() *fsContext {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.fs
}

// UnshareFS gives the process its own copy of a root and working directory it shares
// with others (unshare(CLONE_FS)).
func (tg *ThreadGroup) UnshareFS() {
	tg.mu.Lock()
	tg.fs = tg.fs.share(false)
	tg.mu.Unlock()
}

// UnshareFDs gives the process its own copy of an FD table it shares with others
// (unshare(CLONE_FILES)).
func (tg *ThreadGroup) UnshareFDs() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.fds != nil && tg.fds.Shared() {
		old := tg.fds
		tg.fds = old.Fork()
		old.DecUsers()
	}
}
