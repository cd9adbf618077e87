package vfs

import (
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FDTable maps file descriptor numbers to open file descriptions, with the per-FD
// close-on-exec flag.
type FDTable struct {
	// users counts processes sharing the table (CLONE_FILES).
	users atomic.Int32

	mu sync.Mutex
	// fds is protected by mu
	fds map[int32]fdEntry
}

type fdEntry struct {
	fd      *FileDescription
	cloexec bool
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable {
	t := &FDTable{fds: make(map[int32]fdEntry)}
	t.users.Store(1)
	return t
}

// IncUsers records another process sharing the table.
func (t *FDTable) IncUsers() { t.users.Add(1) }

// DecUsers drops a process; the last one closes every descriptor.
func (t *FDTable) DecUsers() {
	if t.users.Add(-1) <= 0 {
		t.CloseAll()
	}
}

// Get returns the description at n with a reference the caller must drop.
func (t *FDTable) Get(n int32) (*FileDescription, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[n]
	if !ok {
		return nil, false, unix.EBADF
	}
	e.fd.IncRef()
	return e.fd, e.cloexec, nil
}

// Install puts fd at the lowest free number ≥ min below limit, taking a reference.
func (t *FDTable) Install(fd *FileDescription, min int32, cloexec bool, limit int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for n := min; n < limit; n++ {
		if _, used := t.fds[n]; !used {
			fd.IncRef()
			t.fds[n] = fdEntry{fd, cloexec}
			return n, nil
		}
	}
	return -1, unix.EMFILE
}

// InstallAt puts fd at n, closing what was there (dup2 semantics).
func (t *FDTable) InstallAt(n int32, fd *FileDescription, cloexec bool) {
	fd.IncRef()
	t.mu.Lock()
	old, had := t.fds[n]
	t.fds[n] = fdEntry{fd, cloexec}
	t.mu.Unlock()
	if had {
		old.fd.DecRef()
	}
}

// Remove closes n.
func (t *FDTable) Remove(n int32) error {
	t.mu.Lock()
	e, ok := t.fds[n]
	delete(t.fds, n)
	t.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	e.fd.DecRef()
	return nil
}

// SetCloexec sets or clears FD_CLOEXEC on n.
func (t *FDTable) SetCloexec(n int32, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[n]
	if !ok {
		return unix.EBADF
	}
	e.cloexec = on
	t.fds[n] = e
	return nil
}

// RemoveRange closes [lo, hi]; with cloexecOnly it only marks them close-on-exec.
func (t *FDTable) RemoveRange(lo, hi uint32, cloexecOnly bool) {
	t.mu.Lock()
	var drop []*FileDescription
	for n, e := range t.fds {
		if uint32(n) < lo || uint32(n) > hi {
			continue
		}
		if cloexecOnly {
			e.cloexec = true
			t.fds[n] = e
			continue
		}
		drop = append(drop, e.fd)
		delete(t.fds, n)
	}
	t.mu.Unlock()
	for _, fd := range drop {
		fd.DecRef()
	}
}

// CloseOnExec closes every close-on-exec descriptor.
func (t *FDTable) CloseOnExec() {
	t.mu.Lock()
	var drop []*FileDescription
	for n, e := range t.fds {
		if e.cloexec {
			drop = append(drop, e.fd)
			delete(t.fds, n)
		}
	}
	t.mu.Unlock()
	for _, fd := range drop {
		fd.DecRef()
	}
}

// Fork returns a copy sharing the descriptions (fork(2) without CLONE_FILES).
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := NewFDTable()
	for k, e := range t.fds {
		e.fd.IncRef()
		n.fds[k] = e
	}
	return n
}

// Numbers returns the open descriptor numbers in order.
func (t *FDTable) Numbers() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int32, 0, len(t.fds))
	for n := range t.fds {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Len returns how many descriptors are open.
func (t *FDTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.fds)
}

// CloseAll closes every descriptor.
func (t *FDTable) CloseAll() {
	t.RemoveRange(0, ^uint32(0), false)
}

// Shared reports whether another process uses the table too (CLONE_FILES).
func (t *FDTable) Shared() bool { return t.users.Load() > 1 }
