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
	// stopWatch ends the host watch of a HostWatcher while O_ASYNC is on; stopUrgent the
	// watch for urgent data while it has an owner. Called without mu: a watch's
	// notification takes it. protected by mu
	stopWatch, stopUrgent func()
}

// HostWatcher is a file whose readiness comes from a host FD that tells the kernel
// nothing by itself (kernel/net/inet): signal-driven I/O asks it to watch.
type HostWatcher interface {
	// WatchHost calls notify with each new readiness event of mask until stop is called.
	WatchHost(mask uint32, notify func(ev uint32)) (stop func())
}

// SetUrgentNotify calls notify whenever urgent (out-of-band) data arrives on a
// HostWatcher (nil: stop); SIGURG goes to the owner of such a socket.
func (fd *FileDescription) SetUrgentNotify(notify func()) {
	var stop func()
	if hw, ok := fd.impl.(HostWatcher); ok && notify != nil {
		stop = hw.WatchHost(waiter.EventPri, func(uint32) { notify() })
	}
	fd.async.mu.Lock()
	old := fd.async.stopUrgent
	fd.async.stopUrgent = stop
	fd.async.mu.Unlock()
	if old != nil {
		old()
	}
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
	var stop func()
	if hw, ok := fd.impl.(HostWatcher); ok && notify != nil {
		stop = hw.WatchHost(mask, notify)
	}
	fd.async.mu.Lock()
	if fd.async.entry != nil {
		p.EventUnregister(fd.async.entry)
		fd.async.entry = nil
	}
	if notify != nil {
		fd.async.entry = &waiter.Entry{Mask: mask, Callback: notify}
		p.EventRegister(fd.async.entry)
	}
	old := fd.async.stopWatch
	fd.async.stopWatch = stop
	fd.async.mu.Unlock()
	if old != nil {
		old()
	}
	return true
}
