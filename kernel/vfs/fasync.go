package vfs

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/waiter"
)

// Signal-driven I/O (fcntl(2) F_SETOWN, F_SETSIG, O_ASYNC): an open file description
// with O_ASYNC notifies its owner when it becomes readable or writable. The file's own
// queue drives it; the kernel's syscall layer decides what signal goes where.

type asyncState struct {
	mu sync.Mutex
	// ownerType is F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP; owner the ID. protected by mu
	ownerType, owner int32
	// sig is F_SETSIG's signal (0: SIGIO). protected by mu
	sig int32
	// entry is the registration on the file's queue while O_ASYNC is on. protected by mu
	entry *waiter.Entry
}

// Owner returns F_GETOWN_EX's owner.
func (fd *FileDescription) Owner() (typ, id int32) {
	fd.async.mu.Lock()
	defer fd.async.mu.Unlock()
	return fd.async.ownerType, fd.async.owner
}

// SetOwner sets the owner (F_SETOWN, F_SETOWN_EX).
func (fd *FileDescription) SetOwner(typ, id int32) {
	fd.async.mu.Lock()
	fd.async.ownerType, fd.async.owner = typ, id
	fd.async.mu.Unlock()
}

// AsyncSig returns F_GETSIG's signal.
func (fd *FileDescription) AsyncSig() int32 {
	fd.async.mu.Lock()
	defer fd.async.mu.Unlock()
	return fd.async.sig
}

// SetAsyncSig sets F_SETSIG's signal.
func (fd *FileDescription) SetAsyncSig(sig int32) {
	fd.async.mu.Lock()
	fd.async.sig = sig
	fd.async.mu.Unlock()
}

// SetAsyncNotify calls notify with the events of mask that the file signals from now on
// (nil: stop). It reports false when the file has no queue to watch.
func (fd *FileDescription) SetAsyncNotify(notify func(ev uint32), mask uint32) bool {
	p, ok := fd.impl.(Pollable)
	if !ok {
		return false
	}
	fd.async.mu.Lock()
	defer fd.async.mu.Unlock()
	if fd.async.entry != nil {
		p.EventUnregister(fd.async.entry)
		fd.async.entry = nil
	}
	if notify != nil {
		fd.async.entry = &waiter.Entry{Mask: mask, Callback: notify}
		p.EventRegister(fd.async.entry)
	}
	return true
}
